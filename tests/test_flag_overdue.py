"""manage.py flag_overdue: boundary days, what is flagged and what not, the bounded window
of weeks, idempotence and a number of queries that does not grow with the rows."""

import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import factories
from tracker.choices import ProblemStatus, RectificationStatus, Role, Stage
from tracker.history import history_for
from tracker.models import Inspection, MissingDispatch, Problem, RectificationItem
from tracker.overdue import due_weeks, flag_overdue

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 11, 28)  # a Saturday: week 2026-W48's deadline was yesterday 18:00
DAY = datetime.timedelta(days=1)


def problem(status=ProblemStatus.ASSIGNED, **kw):
    project = kw.pop("project", None) or factories.project()
    kw.setdefault("raised_on", TODAY - 30 * DAY)
    if status != ProblemStatus.RAISED or "deadline" in kw:
        kw.setdefault("assigned_unit", "市工信局")
    if status in (ProblemStatus.RESOLVED, ProblemStatus.CLOSED):
        kw.setdefault("resolved_on", TODAY - 2 * DAY)
    if status == ProblemStatus.CLOSED:
        kw.setdefault("closed_on", TODAY - DAY)
    return Problem.objects.create(
        project=project,
        chain=project.chain,
        region=project.region,
        title="问题",
        status=status,
        raised_by=kw.pop("by", None) or factories.user(Role.MANAGER),
        **kw,
    )


def item(status=RectificationStatus.OPEN, **kw):
    inspection = Inspection.objects.create(
        year=2026, quarter=3, region=factories.region(), title="三季度督查", inspected_on=TODAY
    )
    if status != RectificationStatus.OPEN:
        kw.setdefault("done_on", TODAY - 3 * DAY)
    if status == RectificationStatus.VERIFIED:
        kw.setdefault("verified_on", TODAY - DAY)
    return RectificationItem.objects.create(
        inspection=inspection, description="整改", owner_unit="县工信局", status=status, **kw
    )


def run(**kw):
    kw.setdefault("today", TODAY)
    kw.setdefault("weeks", 2)
    return flag_overdue(**kw)


def overdue_since(obj):
    obj.refresh_from_db()
    return obj.overdue_since


# --- problems and rectification items ----------------------------------------------------------
def test_a_deadline_today_is_not_overdue_and_yesterday_is():
    due_today = problem(deadline=TODAY)
    due_yesterday = problem(deadline=TODAY - DAY)
    result = run()
    assert result.problems == 1
    assert overdue_since(due_today) is None
    assert overdue_since(due_yesterday) == TODAY  # the day after the deadline


def test_problems_still_raised_are_flagged_too_and_closed_ones_not():
    raised = problem(ProblemStatus.RAISED, deadline=TODAY - 10 * DAY)
    no_deadline = problem(ProblemStatus.RAISED)
    resolved = problem(ProblemStatus.RESOLVED, deadline=TODAY - 10 * DAY)
    closed = problem(ProblemStatus.CLOSED, deadline=TODAY - 10 * DAY)
    run()
    assert overdue_since(raised) == TODAY - 9 * DAY
    assert overdue_since(no_deadline) is None
    assert overdue_since(resolved) is None
    assert overdue_since(closed) is None


def test_a_set_flag_is_never_changed_and_a_resolved_problem_keeps_it():
    flagged = problem(deadline=TODAY - 10 * DAY, overdue_since=TODAY - 2 * DAY)
    kept = problem(ProblemStatus.RESOLVED, deadline=TODAY - 10 * DAY, overdue_since=TODAY - 9 * DAY)
    assert run().problems == 0
    assert overdue_since(flagged) == TODAY - 2 * DAY
    assert overdue_since(kept) == TODAY - 9 * DAY


def test_the_flag_does_not_bump_the_problem_version():
    """A step form opened before the run stays valid: the flag is bookkeeping, not an edit."""
    late = problem(deadline=TODAY - DAY)
    run()
    late.refresh_from_db()
    assert (late.version, late.overdue_since) == (1, TODAY)
    assert not late.events.exists()


def test_rectification_items_boundary_and_status():
    due_today = item(deadline=TODAY)
    due_yesterday = item(deadline=TODAY - DAY)
    done = item(RectificationStatus.DONE, deadline=TODAY - 5 * DAY)
    verified = item(RectificationStatus.VERIFIED, deadline=TODAY - 5 * DAY)
    already = item(deadline=TODAY - 5 * DAY, overdue_since=TODAY - 1 * DAY)
    assert run().items == 1
    assert overdue_since(due_today) is None
    assert overdue_since(due_yesterday) == TODAY
    assert overdue_since(done) is None and overdue_since(verified) is None
    assert overdue_since(already) == TODAY - DAY


def test_each_new_flag_is_in_the_history_and_an_old_flag_is_not_written_again():
    late_problem = problem(deadline=TODAY - 3 * DAY)
    late_item = item(deadline=TODAY - DAY)
    flagged = problem(deadline=TODAY - 10 * DAY, overdue_since=TODAY - 9 * DAY)
    run()
    for obj, day in ((late_problem, TODAY - 2 * DAY), (late_item, TODAY)):
        rows = history_for(obj).filter(field="overdue_since")
        assert list(rows.values_list("old_value", "new_value", "changed_by")) == [
            ("", day.isoformat(), None)
        ]
    assert not history_for(flagged).exists()
    run()  # a second run adds nothing
    assert history_for(late_problem).count() == 1


# --- missing dispatches -----------------------------------------------------------------------
def test_due_weeks_start_with_the_last_week_whose_deadline_passed():
    assert due_weeks(TODAY, 3) == [(2026, 48), (2026, 47), (2026, 46)]
    friday = datetime.date(2026, 11, 27)  # W48's deadline is this evening: not due yet
    assert due_weeks(friday, 2) == [(2026, 47), (2026, 46)]


def test_due_weeks_follow_the_deadline_setting(settings):
    settings.TRACKER = {**settings.TRACKER, "DISPATCH_DEADLINE_WEEKDAY": 7}
    assert due_weeks(TODAY, 1) == [(2026, 47)]  # W48's deadline is tomorrow, Sunday


def test_missing_dispatches_follow_the_dispatch_rules():
    reporting = factories.project(signed_on=datetime.date(2026, 1, 5))
    filed = factories.project(signed_on=datetime.date(2026, 1, 5))
    factories.dispatch(filed, iso_year=2026, iso_week=48)
    factories.dispatch(filed, iso_year=2026, iso_week=47)
    terminated = factories.project(
        signed_on=datetime.date(2026, 1, 5), history=[(Stage.TERMINATED, TODAY - 60 * DAY)]
    )
    producing = factories.project(
        signed_on=datetime.date(2025, 1, 6),
        history=[
            (Stage.STARTED, datetime.date(2025, 3, 1)),
            (Stage.PRODUCTION, datetime.date(2026, 11, 20)),  # Friday of W47
        ],
    )
    signed_late = factories.project(signed_on=datetime.date(2026, 11, 25))  # in W48
    not_yet = factories.project(signed_on=datetime.date(2026, 11, 30))
    result = run(weeks=2)
    flags = set(MissingDispatch.objects.values_list("project_id", "iso_year", "iso_week"))
    assert flags == {
        (reporting.pk, 2026, 48),
        (reporting.pk, 2026, 47),
        (producing.pk, 2026, 47),  # in production during W47, not before it
        (signed_late.pk, 2026, 48),
    }
    assert result.dispatches == 4
    assert {terminated.pk, not_yet.pk, filed.pk}.isdisjoint({f[0] for f in flags})


def test_the_window_bounds_the_weeks_checked():
    factories.project(signed_on=datetime.date(2026, 1, 5))
    run(weeks=3)
    weeks = set(MissingDispatch.objects.values_list("iso_year", "iso_week"))
    assert weeks == {(2026, 48), (2026, 47), (2026, 46)}


def test_a_late_report_filed_afterwards_keeps_the_flag():
    project = factories.project(signed_on=datetime.date(2026, 1, 5))
    run(weeks=1)
    factories.dispatch(project, iso_year=2026, iso_week=48, is_late=True)
    assert run(weeks=1).dispatches == 0
    assert MissingDispatch.objects.filter(project=project, iso_week=48).exists()


# --- idempotence, queries, the command ---------------------------------------------------------
def _state():
    return (
        sorted(Problem.objects.values_list("pk", "overdue_since", "version")),
        sorted(RectificationItem.objects.values_list("pk", "overdue_since")),
        sorted(MissingDispatch.objects.values_list("project_id", "iso_year", "iso_week", "pk")),
    )


def test_running_twice_changes_nothing_more():
    problem(deadline=TODAY - 3 * DAY)
    problem(deadline=TODAY - 5 * DAY)
    item(deadline=TODAY - 2 * DAY)
    factories.project(signed_on=datetime.date(2026, 1, 5))
    first = run(weeks=4)
    # Three projects (two made for the problems) without reports, four weeks each.
    assert (first.problems, first.items, first.dispatches) == (2, 1, 3 * 4)
    state = _state()
    second = run(weeks=4)
    assert (second.problems, second.items, second.dispatches) == (0, 0, 0)
    assert _state() == state
    # A later day flags nothing new for what is already flagged.
    assert run(today=TODAY + DAY, weeks=4).problems == 0
    assert _state()[:2] == state[:2]


def _count_queries(**kw):
    with CaptureQueriesContext(connection) as ctx:
        run(**kw)
    return len(ctx.captured_queries)


def test_the_number_of_queries_does_not_grow_with_the_rows():
    chain = factories.chain()
    region = factories.region()
    manager = factories.user(Role.MANAGER)

    def make(n, offset):
        for i in range(n):
            project = factories.project(
                signed_on=datetime.date(2026, 1, 5), chain=chain, region=region
            )
            problem(project=project, by=manager, deadline=TODAY - (offset + i % 3) * DAY)
            item(deadline=TODAY - (offset + i % 3) * DAY)

    make(3, 1)
    small = _count_queries(weeks=3)
    make(30, 1)
    assert _count_queries(weeks=3) == small


def test_the_command_reports_its_counts_and_checks_its_arguments():
    problem(deadline=TODAY - DAY)
    out = StringIO()
    call_command("flag_overdue", "--today", TODAY.isoformat(), "--weeks", "2", stdout=out)
    assert "1 overdue problem(s)" in out.getvalue()
    assert "2026-W47 to 2026-W48" in out.getvalue()
    out = StringIO()
    call_command("flag_overdue", "--today", TODAY.isoformat(), "--weeks", "2", stdout=out)
    assert "0 overdue problem(s), 0 overdue rectification item(s), 0 missing" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("flag_overdue", "--today", "28.11.2026")
    with pytest.raises(CommandError):
        call_command("flag_overdue", "--weeks", "0")


def test_the_help_names_the_crontab_line():
    from tracker.management.commands.flag_overdue import CRONTAB, Command

    assert "manage.py flag_overdue" in Command.help
    assert CRONTAB.splitlines()[-1] in Command.help
