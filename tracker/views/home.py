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

import datetime

from django.conf import settings
from django.db.models import (
    BooleanField,
    Case,
    Count,
    ExpressionWrapper,
    Q,
    Value,
    When,
    Window,
)
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import permissions
from ..asof import (
    FirstStop,
    LatestReportSince,
    LatestReportSinceLate,
    LatestReportSinceWeek,
    ReportOfWeek,
    ReportOfWeekLate,
    per_row,
)
from ..choices import Light, Stage
from ..dispatching import (
    current_week,
    deadline,
    shift_week,
    with_this_weeks_report,
)
from ..lights import annotate_lights, light_reasons
from ..models import Inspection, Problem, Project, RectificationItem, Region
from ..periods import week_text
from ..querysets import week_start

ATTENTION_LIMIT = 50


def with_week_state(queryset, iso_year, iso_week):
    """``queryset`` with this week's dispatch state, each value one join (``tracker.asof``):
    ``dispatch_due`` (due to dispatch the week: ``ProjectQuerySet.due_to_dispatch``'s rule —
    signed by the week's end, no change to terminated or in production before its Monday, i.e.
    the first such change, if any, on or after the Monday), ``has_report`` and
    ``report_late`` (the week's report, filed late)."""
    start = week_start(iso_year, iso_week)
    qs = per_row(
        queryset,
        first_stop_on=FirstStop(),
        week_report=ReportOfWeek(iso_year, iso_week),
        report_late=ReportOfWeekLate(iso_year, iso_week),
    )
    due = Q(signed_on__lte=start + datetime.timedelta(days=6)) & (
        Q(first_stop_on__isnull=True) | Q(first_stop_on__gte=start)
    )
    return qs.annotate(
        dispatch_due=Case(When(due, then=Value(True)), default=Value(False)),
        has_report=ExpressionWrapper(Q(week_report__isnull=False), output_field=BooleanField()),
    )


def attention_projects(scope, *, today):
    """``scope`` annotated with lights and this week's dispatch state, worst first.

    ``dispatch_due``: the project is due to dispatch this week. A terminated project shows no
    light; it is listed only while it is still due (terminated during this week). Each per-row
    value (stage as of today, baseline, first stop, this week's and the latest report) is one
    join, computed once per row however often the conditions below refer to it."""
    iso_year, iso_week = current_week(today)
    qs = with_week_state(annotate_lights(scope, today=today), iso_year, iso_week)
    # "Last report late" only counts while it is recent: this week's or last week's report.
    # The latest report of last week or later is the latest report when that is so recent,
    # and none otherwise: one bounded probe of the project's dispatches.
    prev_year, prev_week = shift_week(iso_year, iso_week, -1)
    qs = per_row(
        qs,
        last_year=LatestReportSince(prev_year, prev_week),
        last_week=LatestReportSinceWeek(prev_year, prev_week),
        last_late=LatestReportSinceLate(prev_year, prev_week),
    )
    dispatches = Q(dispatch_due=True)
    recent_late = dispatches & Q(last_late=True)
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
    """Filed / total / late for this week over ``scope`` (one query): the projects due
    (``due_to_dispatch``, the one rule, an anti-join on the stage history) joined to the
    week's reports, set-based rather than per row."""
    iso_year, iso_week = current_week(today)
    due = with_this_weeks_report(scope.due_to_dispatch(iso_year, iso_week), iso_year, iso_week)
    return due.aggregate(
        total=Count("pk"),
        filed=Count("pk", filter=Q(this_week__isnull=False)),
        late=Count("pk", filter=Q(this_week__is_late=True)),
    )


COUNTS = ("total", "filed", "late", "red", "yellow")


def city_counts(*, today):
    """Per region: dispatching projects, filed, late, red and yellow lights (one query).

    A whole-book aggregate, so set-based: grouped by region, light and this week's dispatch
    state (due, filed, late), so each project's light and state are computed once, as group
    keys (an aggregate filtered on them would write their expressions out again per count);
    the due projects are one hashed subquery for the whole table (``due_to_dispatch``, the
    one rule) and this week's report is joined (a project has at most one a week), not asked
    per row. Only the lights' own values (stage as of today, baseline) are per-row joins."""
    iso_year, iso_week = current_week(today)
    due = Q(pk__in=Project.objects.due_to_dispatch(iso_year, iso_week).values("pk"))
    groups = (
        with_this_weeks_report(
            annotate_lights(Project.objects.all(), today=today), iso_year, iso_week
        )
        .annotate(
            city_due=Case(When(due, then=Value(True)), default=Value(False)),
            city_filed=_flag(Q(this_week__isnull=False)),
            city_late=_flag(Q(this_week__is_late=True)),
        )
        .values("region_id", "light", "city_due", "city_filed", "city_late")
        .annotate(projects=Count("pk"), lit=Count("pk", filter=~Q(stage=Stage.TERMINATED)))
        .order_by()
    )
    found = {}
    for group in groups:
        row = found.setdefault(group["region_id"], dict.fromkeys(COUNTS, 0))
        if group["city_due"]:
            row["total"] += group["projects"]
            row["filed"] += group["projects"] if group["city_filed"] else 0
            row["late"] += group["projects"] if group["city_filed"] and group["city_late"] else 0
        if group["light"] in (Light.RED, Light.YELLOW):
            row[group["light"]] += group["lit"]
    return found


def _flag(condition):
    return ExpressionWrapper(condition, output_field=BooleanField())


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
