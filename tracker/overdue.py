"""The daily overdue check (``manage.py flag_overdue``): problems, rectification items and
missing weekly dispatches.

Decisions:

Problems and rectification items
    Still open (problem raised/assigned, item open) with ``deadline < today`` → ``overdue_since``
    = the day after the deadline, set once and never changed by the check. A deadline of today
    is not overdue yet. A problem or item resolved later keeps its ``overdue_since``: it records
    that it went overdue (the lists count only open ones as overdue). Extending a problem's
    deadline clears the flag (tracker/problems.py), and the change history keeps the old value.
    The check writes no event and does not bump the problem's version: it is bookkeeping, not
    an edit, and a form opened before the run stays valid. Escalation (督办) is a person's
    decision and never made here.

Dispatches
    For each of the last ``weeks`` ISO weeks whose filing deadline (tracker.dispatching.deadline)
    fell before ``today``, every project that had to report that week
    (``ProjectQuerySet.due_to_dispatch``, the rule of the dispatch sheet, the home page and the
    monthly report: signed by the end of the week and, per the stage history, neither
    terminated nor in production before the week began) and has no report for it gets one
    MissingDispatch row.
    The window bounds the run; older weeks are left as they are. A report filed late afterwards
    does not remove the flag: the flag records that the deadline passed without a report.

Running it twice changes nothing more. Queries: two per kind of flag for the problems and the
items, and per week of the window one SELECT plus one INSERT per 1000 new flags.
"""

import datetime
from dataclasses import dataclass, field

from django.conf import settings
from django.db import models, transaction
from django.db.models import Case, Exists, OuterRef, Value, When
from django.utils import timezone

from .dispatching import current_week, deadline, shift_week
from .history import changelog_rows, snapshot
from .models import (
    ChangeLog,
    MissingDispatch,
    Problem,
    Project,
    RectificationItem,
    WeeklyDispatch,
)
from .querysets import q_item_overdue, q_problem_past_deadline

DEFAULT_WEEKS = 8
DAY = datetime.timedelta(days=1)


def lookback_weeks():
    return int(settings.TRACKER.get("OVERDUE_LOOKBACK_WEEKS", DEFAULT_WEEKS))


@dataclass
class FlagResult:
    problems: int = 0
    items: int = 0
    dispatches: int = 0
    weeks: list = field(default_factory=list)


def _flag_day_after_deadline(queryset, *, now):
    """``overdue_since = deadline + 1 day`` on every row of ``queryset``, in one UPDATE, with
    one history row each (the daily check as the author: ``changed_by`` empty), in one
    bulk insert: the queries do not grow with the number of rows."""
    rows = list(queryset.order_by("pk"))
    if not rows:
        return 0
    before = {row.pk: snapshot(row, {"overdue_since"}) for row in rows}
    deadlines = sorted({row.deadline for row in rows})
    updated = queryset.model.objects.filter(pk__in=[row.pk for row in rows]).update(
        overdue_since=Case(
            *[When(deadline=d, then=Value(d + DAY)) for d in deadlines],
            output_field=models.DateField(),
        )
    )
    history = []
    for row in rows:
        row.overdue_since = row.deadline + DAY
        history += changelog_rows(row, before[row.pk], by=None, at=now)
    ChangeLog.objects.bulk_create(history)
    return updated


def due_weeks(today, weeks):
    """The last ``weeks`` ISO weeks whose dispatch deadline fell before ``today``, newest first."""
    year, week = current_week(today)
    found = []
    back = 0
    while len(found) < weeks:
        y, w = shift_week(year, week, -back)
        if timezone.localtime(deadline(y, w)).date() < today:
            found.append((y, w))
        back += 1
    return found


def flag_missing_dispatches(iso_year, iso_week, *, now):
    same_week = {"project": OuterRef("pk"), "iso_year": iso_year, "iso_week": iso_week}
    missing = (
        Project.objects.due_to_dispatch(iso_year, iso_week)
        .exclude(Exists(WeeklyDispatch.objects.filter(**same_week)))
        .exclude(Exists(MissingDispatch.objects.filter(**same_week)))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    rows = [
        MissingDispatch(project_id=pk, iso_year=iso_year, iso_week=iso_week, flagged_at=now)
        for pk in missing
    ]
    # A concurrent run may have flagged some meanwhile: the unique constraint keeps one.
    MissingDispatch.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return len(rows)


def flag_overdue(*, today=None, weeks=None, now=None):
    """Flag what became overdue by ``today``; returns the counts of new flags."""
    today = today or timezone.localdate()
    weeks = lookback_weeks() if weeks is None else weeks
    now = now or timezone.now()
    result = FlagResult()
    with transaction.atomic():
        result.problems = _flag_day_after_deadline(
            Problem.objects.filter(q_problem_past_deadline(today), overdue_since__isnull=True),
            now=now,
        )
        result.items = _flag_day_after_deadline(
            RectificationItem.objects.filter(q_item_overdue(today), overdue_since__isnull=True),
            now=now,
        )
        result.weeks = due_weeks(today, weeks)
        for iso_year, iso_week in result.weeks:
            result.dispatches += flag_missing_dispatches(iso_year, iso_week, now=now)
    return result
