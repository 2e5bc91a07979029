"""/ — the signed-in user's home: projects that need attention and this week's dispatch.

Scope: the projects the user edits (county staff, commissioners, managers); read-only roles
(chain offices) see their visible scope. A project needs attention when it has no report
this week (and is due to dispatch this week, ``ProjectQuerySet.due_to_dispatch`` as on the
dispatch sheet), its latest report (of this or last week) was filed late, or its warning
light is red or yellow. Managers also get city-wide counts per region. A fixed number of queries,
whatever the number of projects.

The list shows the ``ATTENTION_LIMIT`` most urgent projects: their ids and how many need
attention in all are read in one statement (a window count over the ranked scope); the
lights, reasons and related rows are then computed for the listed projects only. Week
comparisons go column by column (``periods.week_q``) so the dispatch indexes serve them.
"""

from django.conf import settings
from django.db.models import (
    Case,
    Count,
    Exists,
    FilteredRelation,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
    Window,
)
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import permissions
from ..choices import Light, Stage
from ..dispatching import (
    current_week,
    deadline,
    shift_week,
)
from ..lights import annotate_lights, light_reasons
from ..models import Inspection, Problem, Project, RectificationItem, Region, WeeklyDispatch
from ..periods import week_q, week_text

ATTENTION_LIMIT = 50


def _due(iso_year, iso_week):
    """A condition on projects: due to dispatch this week (the one rule, as a subquery)."""
    return Q(pk__in=Project.objects.due_to_dispatch(iso_year, iso_week).values("pk"))


def attention_projects(scope, *, today):
    """``scope`` annotated with lights and this week's dispatch state, worst first.

    ``dispatch_due``: the project is due to dispatch this week. A terminated project shows no
    light; it is listed only while it is still due (terminated during this week)."""
    iso_year, iso_week = current_week(today)
    reports = WeeklyDispatch.objects.filter(project=OuterRef("pk"))
    newest = reports.order_by("-iso_year", "-iso_week")
    dispatches = Q(dispatch_due=True)
    qs = annotate_lights(scope, today=today).annotate(
        dispatch_due=Case(When(_due(iso_year, iso_week), then=Value(True)), default=Value(False)),
        has_report=Exists(reports.filter(week_q("exact", iso_year, iso_week))),
        last_late=Subquery(newest.values("is_late")[:1]),
        last_year=Subquery(newest.values("iso_year")[:1]),
        last_week=Subquery(newest.values("iso_week")[:1]),
    )
    # "Last report late" only counts while it is recent: this week's or last week's report.
    prev_year, prev_week = shift_week(iso_year, iso_week, -1)
    recent_late = (
        dispatches
        & Q(last_late=True)
        & week_q("gte", prev_year, prev_week, year_field="last_year", week_field="last_week")
    )
    qs = qs.annotate(recent_late=Case(When(recent_late, then=Value(True)), default=Value(False)))
    lit = Q(light__in=["red", "yellow"]) & ~Q(stage=Stage.TERMINATED)
    return qs.filter(lit | (dispatches & Q(has_report=False)) | Q(recent_late=True)).order_by(
        "-light_rank", "region__sort_order", "code"
    )


def most_urgent(scope, *, today, limit=None):
    """The listed projects of ``scope`` that need attention, worst first (at most ``limit``,
    with lights, reasons' annotations, region and enterprise), and how many need attention in
    all. Two queries: the ranked ids with a window count, then the listed rows in full."""
    limit = ATTENTION_LIMIT if limit is None else limit
    ranked = (
        attention_projects(scope, today=today)
        .annotate(attention_total=Window(Count("pk")))
        .values_list("pk", "attention_total")[:limit]
    )
    ranked = list(ranked)
    ids = [pk for pk, _total in ranked]
    total = ranked[0][1] if ranked else 0
    listed = (
        attention_projects(Project.objects.filter(pk__in=ids), today=today).select_related(
            "region", "enterprise"
        )
        if ids
        else Project.objects.none()
    )
    return list(listed), total


def reasons(project):
    found = list(light_reasons(project)) if project.stage != Stage.TERMINATED else []
    if not project.has_report and project.dispatch_due:
        found.append(_("No report this week"))
    if project.recent_late:
        found.append(
            _("Last report (%(week)s) filed late")
            % {"week": week_text(project.last_year, project.last_week)}
        )
    return found


def dispatch_status(scope, *, today):
    """Filed / total / late for this week over ``scope`` (one query)."""
    iso_year, iso_week = current_week(today)
    this_week = WeeklyDispatch.objects.filter(project=OuterRef("pk")).filter(
        week_q("exact", iso_year, iso_week)
    )
    return scope.due_to_dispatch(iso_year, iso_week).aggregate(
        total=Count("pk"),
        filed=Count("pk", filter=Q(Exists(this_week))),
        late=Count("pk", filter=Q(Exists(this_week.filter(is_late=True)))),
    )


COUNTS = ("total", "filed", "late", "red", "yellow")


def city_counts(*, today):
    """Per region: dispatching projects, filed, late, red and yellow lights (one query).

    Grouped by region and light, so each project's light is computed once (an aggregate
    filtered on the light would write the light's expression out again per count); this
    week's report is joined (a project has at most one a week), not asked per row; the due
    projects are one subquery for the whole table."""
    iso_year, iso_week = current_week(today)
    dispatching = _due(iso_year, iso_week)
    filed = Q(this_week__isnull=False)
    groups = (
        annotate_lights(Project.objects.all(), today=today)
        .annotate(
            this_week=FilteredRelation(
                "dispatches",
                condition=week_q(
                    "exact",
                    iso_year,
                    iso_week,
                    year_field="dispatches__iso_year",
                    week_field="dispatches__iso_week",
                ),
            )
        )
        .values("region_id", "light")
        .annotate(
            total=Count("pk", filter=dispatching),
            filed=Count("pk", filter=dispatching & filed),
            late=Count("pk", filter=dispatching & filed & Q(this_week__is_late=True)),
            lit=Count("pk", filter=~Q(stage=Stage.TERMINATED)),
        )
        .order_by()
    )
    found = {}
    for group in groups:
        row = found.setdefault(group["region_id"], dict.fromkeys(COUNTS, 0))
        for key in ("total", "filed", "late"):
            row[key] += group[key]
        if group["light"] in (Light.RED, Light.YELLOW):
            row[group["light"]] += group["lit"]
    return found


def home(request):
    user = request.user
    today = timezone.localdate()
    iso_year, iso_week = current_week(today)
    files = permissions.may(user, permissions.DISPATCH, Project)
    scope = (
        Project.objects.restrict(user, permissions.DISPATCH)
        if files
        else Project.objects.visible_to(user)
    )

    status = dispatch_status(scope, today=today)
    listed, attention_total = most_urgent(scope, today=today)
    more = attention_total - len(listed)
    items = [{"project": p, "light": Light(p.light).label, "reasons": reasons(p)} for p in listed]

    # Overdue items are flagged to everyone who may see them (chain office and manager
    # above all): one count each, in the user's scope.
    overdue = {
        "problems": Problem.objects.visible_to(user).overdue(today).count(),
        "items": RectificationItem.objects.filter(
            inspection__in=Inspection.objects.visible_to(user)
        )
        .overdue(today)
        .count(),
    }

    regions = []
    if permissions.may(user, permissions.OVERSEE, "site"):
        counts = city_counts(today=today)
        empty = dict.fromkeys(COUNTS, 0)
        regions = [{"region": r, **counts.get(r.pk, empty)} for r in Region.objects.all()]

    context = {
        "week": week_text(iso_year, iso_week),
        "deadline": deadline(iso_year, iso_week),
        "status": status,
        "missing_count": status["total"] - status["filed"],
        "files": files,
        "items": items,
        "more": more,
        "regions": regions,
        "city_total": {key: sum(r[key] for r in regions) for key in COUNTS},
        "thresholds": settings.TRACKER,
        "overdue": overdue,
        "today": today,
    }
    return render(request, "tracker/home.html", context)


urlpatterns = [path("", home, name="home")]
