"""Chainable querysets: scope (who sees what), as-of-date stages and rollups."""

import datetime
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Case, Count, Exists, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce

from . import permissions
from .choices import CapitalSource, ProblemStatus, RectificationStatus, Stage, Tier5020
from .money import MONEY
from .rules import tier_5020_thresholds


# --- classification: the one database form of the rules in tracker/rules.py -----------------
def q_5020(tier=Tier5020.TIER_20):
    """Q: the signed amount reaches ``tier`` (by default TIER_20: a "5020" project), with the
    thresholds of the project's capital source (``rules.tier_5020_thresholds``); the
    database form of ``rules.tier_5020``."""
    index = {Tier5020.TIER_20: 0, Tier5020.TIER_50: 1}[Tier5020(tier)]
    foreign = tier_5020_thresholds(CapitalSource.FOREIGN)[index]
    other = tier_5020_thresholds(CapitalSource.DOMESTIC)[index]
    return Q(capital_source=CapitalSource.FOREIGN, signed_amount__gte=foreign) | (
        ~Q(capital_source=CapitalSource.FOREIGN) & Q(signed_amount__gte=other)
    )


def q_billion():
    """Q: a project of ≥ 1 亿元 (亿元以上); the database form of ``rules.billion_or_more``."""
    return Q(signed_amount__gte=settings.TRACKER["BILLION_THRESHOLD"])


class RestrictedQuerySet(models.QuerySet):
    """A queryset that asks the permission module which rows a user may reach."""

    def restrict(self, user, action):
        """The rows ``user`` may take ``action`` on (``tracker.permissions.RULES``)."""
        return permissions.restrict(self, user, action)

    def visible_to(self, user):
        return self.restrict(user, permissions.VIEW)


class ProjectQuerySet(RestrictedQuerySet):
    def editable_by(self, user):
        """Projects ``user`` may change."""
        return self.restrict(user, permissions.EDIT)

    # --- classification ------------------------------------------------------------------
    def with_tiers(self):
        return self.annotate(
            tier_5020_value=Case(
                When(q_5020(Tier5020.TIER_50), then=Value(Tier5020.TIER_50.value)),
                When(q_5020(Tier5020.TIER_20), then=Value(Tier5020.TIER_20.value)),
                default=Value(Tier5020.NONE.value),
                output_field=models.IntegerField(),
            ),
            is_billion_value=Case(
                When(q_billion(), then=Value(True)),
                default=Value(False),
                output_field=models.BooleanField(),
            ),
        )

    def is_5020(self):
        return self.filter(q_5020())

    def in_tier(self, tier):
        tier = int(tier)
        if tier == Tier5020.TIER_50:
            return self.filter(q_5020(Tier5020.TIER_50))
        if tier == Tier5020.TIER_20:
            return self.filter(q_5020(Tier5020.TIER_20)).exclude(q_5020(Tier5020.TIER_50))
        return self.exclude(q_5020())

    def billion_or_more(self, flag=True):
        return self.filter(q_billion()) if flag else self.exclude(q_billion())

    def signed_in(self, year):
        return self.filter(signed_on__year=int(year))

    # --- as-of-date stages ---------------------------------------------------------------
    def with_stage_as_of(self, day):
        """Annotate ``stage_as_of``: the stage in force at the end of ``day`` (NULL before any),
        ``stage_as_of(day)`` computed once per row however often it is referred to (one join,
        tracker/asof.py)."""
        from .asof import StageAsOf, per_row  # lazy: asof imports the models' choices

        return per_row(self, stage_as_of=StageAsOf(day))

    def reached_by(self, stage, day):
        """Projects that had reached ``stage`` (or a later main-line stage) by ``day``."""
        return self.filter(reached_stage(stage, day))

    def started_by(self, day):
        return self.reached_by(Stage.STARTED, day)

    # --- rollups -------------------------------------------------------------------------
    def totals(self):
        """Count and signed amount of the whole set, plus 5020 and ≥ 1 亿元 counts."""
        return self.aggregate(
            count=Count("pk"),
            amount=Sum("signed_amount"),
            count_5020=Count("pk", filter=q_5020()),
            count_billion=Count("pk", filter=q_billion()),
        )

    # --- the weekly dispatch -------------------------------------------------------------
    def due_to_dispatch(self, iso_year, iso_week, flag=True):
        """Projects that must file the weekly dispatch of this ISO week: the one rule.

        Signed by the end of the week and, per the stage history, neither terminated nor in
        production before the week began (no change to 终止 or 投产 effective before its
        Monday) — the monthly report's 报送及时率 counts the reports due the same way. As
        there, a project once terminated or in production stays out, even if reopened later.
        ``flag=False``: the projects signed by the week's end that no longer dispatch.
        """
        from .models import StageChange  # lazy: the models import these querysets

        start = week_start(iso_year, iso_week)
        stopped = Exists(
            StageChange.objects.filter(
                project=OuterRef("pk"),
                to_stage__in=[Stage.TERMINATED, Stage.PRODUCTION],
                effective_on__lt=start,
            )
        )
        signed = self.filter(signed_on__lte=start + datetime.timedelta(days=6))
        return signed.exclude(stopped) if flag else signed.filter(stopped)


# --- as of a day: the one definition of each, for annotations, filters and aggregates ------
# A past day's figures never read the project's current stage or investment figure.


def stage_as_of(day):
    """The stage in force at the end of ``day`` per the stage history: the ``to_stage`` of the
    project's latest change effective on or before ``day`` (the later id wins on the same day).
    NULL without such a change; callers choose the fallback (the monthly report: signed)."""
    from .models import StageChange  # lazy: the models import these querysets

    latest = (
        StageChange.objects.filter(project=OuterRef("pk"), effective_on__lte=day)
        .order_by("-effective_on", "-id")
        .values("to_stage")[:1]
    )
    return Subquery(latest, output_field=models.CharField())


def reached_stage(stage, day):
    """Whether a project had reached ``stage`` (or a later main-line stage) by ``day``, per the
    stage history: an ``Exists`` for filters, annotations and aggregate filters."""
    from .models import StageChange  # lazy: the models import these querysets

    return Exists(
        StageChange.objects.filter(
            project=OuterRef("pk"), to_stage__in=Stage.reached(stage), effective_on__lte=day
        )
    )


def investment_as_of(day):
    """A project's cumulative completed investment at ``day`` (万元): the figure of its latest
    weekly dispatch of a week that began on or before ``day``, 0 without one."""
    from .models import WeeklyDispatch  # lazy: the models import these querysets

    latest = (
        WeeklyDispatch.objects.filter(project=OuterRef("pk"))
        .on_or_before(day)
        .order_by("-iso_year", "-iso_week")
        .values("completed_investment")[:1]
    )
    return Coalesce(Subquery(latest), Value(Decimal(0)), output_field=MONEY)


def investment_before_year(year):
    """A project's cumulative completed investment when ``year`` began (万元): the figure of
    its latest weekly dispatch of an earlier ISO year, 0 without one. What was done in
    ``year`` is the figure then minus this."""
    from .models import WeeklyDispatch  # lazy: the models import these querysets

    latest = (
        WeeklyDispatch.objects.filter(project=OuterRef("pk"), iso_year__lt=year)
        .order_by("-iso_year", "-iso_week")
        .values("completed_investment")[:1]
    )
    return Coalesce(Subquery(latest), Value(Decimal(0)), output_field=MONEY)


class DispatchQuerySet(models.QuerySet):
    def for_week(self, iso_year, iso_week):
        return self.filter(iso_year=iso_year, iso_week=iso_week)

    def on_or_before(self, day):
        """Dispatches of weeks that began on or before ``day``."""
        year, week, _ = day.isocalendar()
        return self.filter(Q(iso_year__lt=year) | Q(iso_year=year, iso_week__lte=week))


def week_start(iso_year, iso_week):
    return datetime.date.fromisocalendar(iso_year, iso_week, 1)


class ProblemQuerySet(RestrictedQuerySet):
    """The 链长制 problem ledger: open, overdue; who sees which is ``restrict``."""

    def open(self):
        return self.filter(q_problem_open())

    def overdue(self, today, flag=True):
        condition = q_problem_overdue(today)
        return self.filter(condition) if flag else self.exclude(condition)


# --- overdue: the one definition of each (rules.problem_is_overdue is the Python form) ----
def q_problem_open():
    return Q(status__in=ProblemStatus.open_states())


def q_problem_past_deadline(today):
    """Q: an open problem whose deadline is before ``today`` (a deadline of today is not
    overdue yet); what the daily check flags."""
    return q_problem_open() & Q(deadline__lt=today)


def q_problem_overdue(today):
    """Q: an overdue problem: open, and past its deadline or flagged by the daily check
    (``overdue_since``; extending the deadline clears the flag, tracker/problems.py)."""
    return q_problem_past_deadline(today) | (q_problem_open() & Q(overdue_since__isnull=False))


# --- 季督查: quarterly inspections and their rectification items (tracker/inspections.py) ---


class InspectionQuerySet(RestrictedQuerySet):
    def with_item_counts(self, today):
        """Annotate ``item_count``, ``open_count``, ``done_count`` and ``overdue_count``."""
        return self.annotate(
            item_count=Count("items", distinct=True),
            open_count=Count(
                "items", filter=Q(items__status=RectificationStatus.OPEN), distinct=True
            ),
            done_count=Count(
                "items", filter=Q(items__status=RectificationStatus.DONE), distinct=True
            ),
            overdue_count=Count("items", filter=q_item_overdue(today, "items__"), distinct=True),
        )

    def with_overdue_items(self, flag=True, *, today):
        from .models import RectificationItem  # lazy: the models import these querysets

        overdue = Exists(RectificationItem.objects.filter(inspection=OuterRef("pk")).overdue(today))
        return self.filter(overdue if flag else ~overdue)


def q_item_overdue(today, prefix=""):
    """Q: a rectification item past its deadline (before ``today``) and still open, computed
    live whatever the daily check did; ``prefix`` to reach items from an inspection."""
    return Q(**{f"{prefix}deadline__lt": today, f"{prefix}status": RectificationStatus.OPEN})


class RectificationItemQuerySet(RestrictedQuerySet):
    def overdue(self, today):
        return self.filter(q_item_overdue(today))

    def with_overdue(self, today):
        """Annotate ``is_overdue`` (deadline < today and still open)."""
        return self.annotate(
            is_overdue=Case(
                When(q_item_overdue(today), then=Value(True)),
                default=Value(False),
                output_field=models.BooleanField(),
            )
        )
