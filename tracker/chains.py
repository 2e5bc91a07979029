"""The ten key chains (链长制): who may open which chain, and their rollups in the database.

Scope
    A chain office account sees only its own chain (another chain's page is a 404); managers,
    county staff and commissioners see every chain. Within a chain, projects are limited by
    ``Project.objects.visible_to(user)`` and problems by ``Problem.objects.visible_to(user)``,
    so every count on these pages is "what this user may see".
"""

from decimal import Decimal

from django.db.models import (
    Case,
    Count,
    IntegerField,
    OuterRef,
    Prefetch,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from .choices import ChainLeaderPosition
from .models import ChainLeader, IndustryChain, Problem, Project
from .money import MONEY
from .querysets import q_problem_open, q_problem_overdue


def chains_visible_to(user):
    """Chains ``user`` may open (``permissions.RULES``: a chain office its own chain)."""
    return IndustryChain.objects.visible_to(user)


def leaders_prefetch():
    """链长 before 副链长, then the configured order."""
    ordered = ChainLeader.objects.annotate(
        position_rank=Case(
            When(position=ChainLeaderPosition.LEADER, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
    ).order_by("position_rank", "sort_order", "pk")
    return Prefetch("leaders", queryset=ordered)


def _count(qs):
    counted = qs.order_by().values("chain_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def with_rollups(chains, user):
    """Annotate chains with the user's project count and signed amount, anchor firms and
    open problems, as correlated subqueries (so one query however many projects)."""
    projects = Project.objects.visible_to(user).filter(chain_id=OuterRef("pk"))
    amount = projects.order_by().values("chain_id").annotate(s=Sum("signed_amount")).values("s")
    anchors = IndustryChain.anchor_enterprises.through.objects.filter(
        industrychain_id=OuterRef("pk")
    ).values("industrychain_id")
    anchor_count = anchors.annotate(n=Count("pk")).values("n")
    problems = Problem.objects.visible_to(user).open().filter(chain_id=OuterRef("pk"))
    return chains.annotate(
        project_count=_count(projects),
        signed_amount=Coalesce(
            Subquery(amount, output_field=MONEY), Value(Decimal(0)), output_field=MONEY
        ),
        anchor_count=Coalesce(Subquery(anchor_count, output_field=IntegerField()), Value(0)),
        open_problems=_count(problems),
    )


def chain_problems(chain, user, *, today):
    """The chain's problems the user may see, newest first, with an ``is_overdue`` flag."""
    return (
        Problem.objects.visible_to(user)
        .filter(chain=chain)
        .select_related("project", "region")
        .annotate(
            is_overdue=Case(
                When(q_problem_overdue(today), then=Value(True)),
                default=Value(False),
            )
        )
        .order_by("-raised_on", "-id")
    )


def problem_counts(problems, *, today):
    """Total, open and overdue among ``problems`` (one query)."""
    return problems.order_by().aggregate(
        total=Count("pk"),
        open=Count("pk", filter=q_problem_open()),
        overdue=Count("pk", filter=q_problem_overdue(today)),
    )
