"""Home at province scale: every per-row value is one join, computed once per row, and the
page reads nothing of the book for the rows outside the listed ones but what it counts."""

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests import factories as f
from tracker.choices import Role, Stage
from tracker.dispatching import current_week, shift_week
from tracker.models import Project
from tracker.querysets import week_start
from tracker.views import home as home_view

D = datetime.date
SIDE_TABLES = re.compile(r'(?:"tracker_weeklydispatch"|"tracker_stagechange")')


def week_world():
    """Projects on each side of the due rule and of the report rules, this week."""
    region = f.region()
    year, week = current_week()
    monday = week_start(year, week)
    prev_year, prev_week = shift_week(year, week, -1)
    old_year, old_week = shift_week(year, week, -2)
    made = {
        "plain": f.project(region=region, signed_on=D(2022, 1, 1)),
        "signed_sunday": f.project(region=region, signed_on=monday + datetime.timedelta(6)),
        "signed_next_week": f.project(region=region, signed_on=monday + datetime.timedelta(7)),
        "terminated_before": f.project(
            region=region,
            signed_on=D(2022, 1, 1),
            history=[(Stage.TERMINATED, monday - datetime.timedelta(1))],
        ),
        "terminated_monday": f.project(
            region=region, signed_on=D(2022, 1, 1), history=[(Stage.TERMINATED, monday)]
        ),
        "production_before": f.project(
            region=region,
            signed_on=D(2022, 1, 1),
            history=[(Stage.PRODUCTION, D(2023, 1, 1)), (Stage.STARTED, D(2023, 2, 1))],
        ),
        "late_last_week": f.project(region=region, signed_on=D(2022, 1, 1)),
        "late_long_ago": f.project(region=region, signed_on=D(2022, 1, 1)),
        "late_this_week": f.project(region=region, signed_on=D(2022, 1, 1)),
    }
    f.dispatch(made["late_last_week"], iso_year=prev_year, iso_week=prev_week, is_late=True)
    f.dispatch(made["late_long_ago"], iso_year=old_year, iso_week=old_week, is_late=True)
    f.dispatch(made["late_this_week"], iso_year=prev_year, iso_week=prev_week)
    f.dispatch(made["late_this_week"], iso_year=year, iso_week=week, is_late=True)
    f.dispatch(made["plain"], iso_year=year, iso_week=week)
    return made, year, week


@pytest.mark.django_db
def test_the_per_row_week_state_is_the_due_rule_and_the_report_rules():
    made, year, week = week_world()
    names = {p.pk: name for name, p in made.items()}
    state = home_view.with_week_state(Project.objects.all(), year, week)
    due = {names[p.pk] for p in state if p.dispatch_due}
    assert due == {
        names[pk] for pk in Project.objects.due_to_dispatch(year, week).values_list("pk", flat=True)
    }
    assert "signed_sunday" in due and "terminated_monday" in due
    assert not due & {"signed_next_week", "terminated_before", "production_before"}
    rows = {names[p.pk]: p for p in state}
    assert rows["plain"].has_report and not rows["plain"].report_late
    assert rows["late_this_week"].has_report and rows["late_this_week"].report_late
    assert not rows["late_last_week"].has_report
    status = home_view.dispatch_status(Project.objects.all(), today=timezone.localdate())
    assert status == {"total": len(due), "filed": 2, "late": 1}

    listed = home_view.attention_projects(Project.objects.all(), today=timezone.localdate())
    late = {names[p.pk]: p for p in listed if p.recent_late}
    assert set(late) == {"late_last_week", "late_this_week"}  # two weeks ago: no longer
    assert (late["late_this_week"].last_year, late["late_this_week"].last_week) == (year, week)


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.COUNTY, Role.MANAGER])
def test_each_per_row_value_is_read_once_per_row(client, role):
    """The ranked, listed and counted queries name each side table once per distinct value
    (stage as of today and first stop; baseline, this week's and the latest report), however
    often the attention rules, the lights and the counts refer to them: a condition written out
    again (a correlated subquery per reference) fails this."""
    made, _year, _week = week_world()
    region = made["plain"].region
    user = f.user(role, region=region) if role == Role.COUNTY else f.user(role)
    client.force_login(user)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("tracker:home"))
    assert response.status_code == 200
    projects = [q["sql"] for q in ctx.captured_queries if q["sql"].lstrip().startswith("SELECT")]
    ranked = [sql for sql in projects if '"attention_total"' in sql]
    listed = [sql for sql in projects if '"invest_points_behind"' in sql]
    assert len(ranked) == 1 and len(listed) == 1
    for sql in ranked + listed:
        assert sql.count('"tracker_stagechange"') == 2, sql
        assert sql.count('"tracker_weeklydispatch"') == 3, sql
        assert "EXISTS" not in sql.upper(), sql
    counted = [sql for sql in projects if '"filed"' in sql]
    assert counted
    for sql in counted:
        # set-based: the due rule written once (an anti-join on the stage history, which
        # the database hashes), the week's reports one join; no probe per row
        assert len(counted) == 1 and sql.upper().count("EXISTS") == 1, sql
        assert sql.count('"tracker_stagechange"') == 1, sql
        assert sql.count('"tracker_weeklydispatch"') == 1, sql
        assert "LATERAL" not in sql.upper() and "ROW_NUMBER" not in sql.upper(), sql
    city = [sql for sql in projects if '"city_due"' in sql]
    assert len(city) == (role == Role.MANAGER)
    for sql in city:
        # set-based: the due rule is one hashed subquery (written once, a group key), this
        # week's report one join; per row only the lights' stage and baseline
        assert len(re.findall(r"\bIN \(SELECT", sql)) == 1, sql
        assert sql.count('"tracker_weeklydispatch"') == 2, sql
        assert sql.count('"tracker_stagechange"') == 2, sql
    assert bool(response.context["regions"]) == (role == Role.MANAGER)
