"""Warning lights: start and investment rules, boundaries and the as-of date."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import translation

from tests import factories as f
from tracker.choices import Stage
from tracker.lights import (
    annotate_lights,
    expected_percent,
    invest_light_applies,
    light_reasons,
)
from tracker.models import Project

D = datetime.date
# Day 146 of 2023 (26 May): the pro-rata schedule is exactly 40 %.
DAY_146 = D(2023, 5, 26)


def lit(project, today, **kw):
    """The project's lights as of ``today``, its annual plan taken as the plan of ``today``'s
    year (as if that year were the current one) unless ``plan_year`` says otherwise."""
    kw.setdefault("plan_year", today.year)
    return annotate_lights(Project.objects.filter(pk=project.pk), today=today, **kw).get()


def reasons(project):
    with translation.override("en"):
        return [str(r) for r in light_reasons(project)]


def test_expected_percent_is_elapsed_share_of_the_year():
    assert expected_percent(DAY_146) == Decimal(40)
    assert expected_percent(D(2023, 12, 31)) == Decimal(100)
    assert expected_percent(D(2024, 12, 31)) == Decimal(100)  # leap year: 366 days


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("days_late", "light"),
    [(0, "green"), (30, "green"), (31, "yellow"), (90, "yellow"), (91, "red"), (400, "red")],
)
def test_start_light_boundaries(days_late, light):
    today = D(2023, 6, 30)
    p = f.project(signed_on=D(2022, 1, 1), planned_start_on=today - datetime.timedelta(days_late))
    row = lit(p, today)
    assert row.start_light == light
    assert row.light == light
    if light == "green":
        assert reasons(row) == []
    else:
        assert reasons(row) == [f"Construction start {days_late} days behind plan"]


@pytest.mark.django_db
def test_start_light_follows_the_as_of_date_and_actual_start():
    p = f.project(
        signed_on=D(2022, 1, 1),
        planned_start_on=D(2022, 3, 1),
        history=[(Stage.STARTED, D(2022, 8, 1))],
    )
    # Before it started (as of 1 July 2022: 122 days late) it was red.
    row = lit(p, D(2022, 7, 1))
    assert (row.start_light, row.start_days_late.days) == ("red", 122)
    assert reasons(row) == ["Construction start 122 days behind plan"]
    # As of 15 April 2022: 45 days late, yellow.
    assert lit(p, D(2022, 4, 15)).start_light == "yellow"
    # Once it started, no start light.
    assert lit(p, D(2022, 8, 1)).start_light == "green"


@pytest.mark.django_db
def test_no_planned_start_or_terminated_gives_no_start_light():
    today = D(2023, 6, 30)
    p = f.project(signed_on=D(2022, 1, 1))
    assert lit(p, today).light == "green"
    t = f.project(
        signed_on=D(2022, 1, 1),
        planned_start_on=D(2022, 2, 1),
        history=[(Stage.TERMINATED, D(2022, 6, 1))],
    )
    row = lit(t, today)
    assert (row.light, reasons(row)) == ("green", [])


@pytest.mark.django_db
def test_investment_light_applies_only_in_the_year_of_the_plan(monkeypatch):
    # 0 of a 1000 plan done, started on time; its planned start is 20 days before 1 March.
    p = started(completed_investment=Decimal(0), planned_start_on=D(2022, 2, 9))
    behind = lit(p, DAY_146)  # the plan is 2023's: 40 points behind, red
    assert (behind.invest_light, behind.light) == ("red", "red")
    # The same day measured against a plan of another year: no investment light at all.
    for plan_year in (2022, 2024):
        row = lit(p, DAY_146, plan_year=plan_year)
        assert (row.invest_light, row.light, row.invest_points_behind) == ("green", "green", None)
        assert reasons(row) == []
    # By default the plan is the current year's (timezone.localdate()).
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *a, **k: D(2023, 11, 28))
    assert lit(p, DAY_146, plan_year=None).invest_light == "red"
    past = lit(p, D(2022, 12, 31), plan_year=None)
    assert (past.invest_light, past.light) == ("green", "green")
    # The start light still speaks for a past year: a project not started by then.
    late = f.project(signed_on=D(2022, 1, 1), planned_start_on=D(2022, 6, 1))
    row = lit(late, D(2022, 12, 31), plan_year=None)
    assert (row.start_light, row.light) == ("red", "red")
    assert invest_light_applies(D(2023, 1, 1)) and not invest_light_applies(D(2022, 12, 31))


def started(**kw):
    kw.setdefault("signed_on", D(2022, 1, 1))
    kw.setdefault("annual_planned_investment", Decimal(1000))
    return f.project(history=[(Stage.STARTED, D(2022, 3, 1))], **kw)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("done_this_year", "light", "behind"),
    [
        (Decimal("400"), "green", "0.0"),  # on schedule (40 %)
        (Decimal("301"), "green", "9.9"),  # 9.9 points behind
        (Decimal("300"), "yellow", "10.0"),  # exactly 10 behind: yellow
        (Decimal("100"), "yellow", "30.0"),  # exactly 30 behind: still yellow
        (Decimal("99"), "red", "30.1"),  # 30.1 behind: red
        (Decimal("0"), "red", "40.0"),
        (Decimal("900"), "green", "-50.0"),  # ahead of schedule
    ],
)
def test_investment_light_boundaries(done_this_year, light, behind):
    baseline = Decimal(5000)
    p = started(completed_investment=baseline + done_this_year)
    f.dispatch(p, iso_year=2022, iso_week=51, completed_investment=Decimal(4000))
    f.dispatch(p, iso_year=2022, iso_week=52, completed_investment=baseline)
    f.dispatch(p, iso_year=2023, iso_week=3, completed_investment=Decimal(5050))
    row = lit(p, DAY_146)
    assert row.invest_light == light
    assert row.light == light
    assert Decimal(row.invest_points_behind).quantize(Decimal("0.1")) == Decimal(behind)
    if light != "green":
        assert reasons(row) == [f"Investment {behind} points behind the pro-rata schedule"]


@pytest.mark.django_db
def test_investment_baseline_is_zero_without_last_year_dispatch():
    p = started(completed_investment=Decimal(100))
    row = lit(p, DAY_146)  # 10 % done vs 40 % expected
    assert (row.invest_light, Decimal(row.invest_points_behind)) == ("yellow", Decimal(30))


@pytest.mark.django_db
def test_the_baseline_is_the_latest_report_before_the_year_even_two_years_back():
    """No report in 2022, one in 2021 of 5000: 2023's work is measured from 5000 (the lights
    once took 0, the assessment 5000, for the same project)."""
    p = started(signed_on=D(2021, 1, 4), completed_investment=Decimal(5100))
    f.dispatch(p, iso_year=2021, iso_week=50, completed_investment=Decimal(5000))
    row = lit(p, DAY_146)  # 100 of a 1000 plan: 10 % done vs 40 % expected
    assert (row.invest_light, Decimal(row.invest_points_behind)) == ("yellow", Decimal(30))


@pytest.mark.django_db
def test_investment_light_only_for_started_unfinished_projects_with_a_plan():
    # not started: no investment light (the start light speaks instead)
    p1 = f.project(signed_on=D(2022, 1, 1), annual_planned_investment=Decimal(1000))
    # in production
    p2 = f.project(
        signed_on=D(2022, 1, 1),
        annual_planned_investment=Decimal(1000),
        history=[(Stage.STARTED, D(2022, 3, 1)), (Stage.PRODUCTION, D(2023, 1, 10))],
    )
    # no annual plan
    p3 = started(annual_planned_investment=Decimal(0))
    for p in (p1, p2, p3):
        row = lit(p, DAY_146)
        assert row.invest_light == "green"
        assert row.invest_points_behind is None
    # but before it went into production, p2 was red (0 of 1000 with 40 % expected...)
    assert lit(p2, D(2022, 5, 26)).invest_light == "red"


@pytest.mark.django_db
def test_stalled_project_is_red_with_a_reason():
    p = f.project(
        signed_on=D(2022, 1, 1),
        annual_planned_investment=Decimal(1000),
        completed_investment=Decimal(1000),
        history=[(Stage.STARTED, D(2022, 3, 1)), (Stage.STALLED, D(2023, 2, 1))],
    )
    row = lit(p, DAY_146)
    assert row.light == "red"
    assert reasons(row) == ["Project stalled"]
    # As of before it stalled, it was fine.
    assert lit(p, D(2023, 1, 20)).light == "green"


@pytest.mark.django_db
def test_worst_light_wins_and_rank_orders():
    today = D(2023, 6, 30)
    red = f.project(signed_on=D(2022, 1, 1), planned_start_on=D(2023, 1, 1))
    yellow = f.project(signed_on=D(2022, 1, 1), planned_start_on=D(2023, 5, 1))
    green = f.project(signed_on=D(2022, 1, 1))
    rows = list(annotate_lights(Project.objects.all(), today=today).order_by("-light_rank", "code"))
    assert [r.pk for r in rows] == [red.pk, yellow.pk, green.pk]
    assert [r.light for r in rows] == ["red", "yellow", "green"]


@pytest.mark.django_db
@override_settings(
    TRACKER={
        **__import__("django.conf").conf.settings.TRACKER,
        "WARN_START_YELLOW_DAYS": 10,
        "WARN_START_RED_DAYS": 20,
    }
)
def test_thresholds_come_from_settings():
    today = D(2023, 6, 30)
    p = f.project(signed_on=D(2022, 1, 1), planned_start_on=today - datetime.timedelta(15))
    assert lit(p, today).start_light == "yellow"


@pytest.mark.django_db
def test_lights_are_one_query_for_any_number_of_projects():
    for i in range(6):
        p = started(completed_investment=Decimal(i * 100), planned_start_on=D(2022, 2, 1))
        f.dispatch(p, iso_year=2022, iso_week=52, completed_investment=Decimal(0))
    with CaptureQueriesContext(connection) as ctx:
        rows = list(annotate_lights(Project.objects.all(), today=DAY_146, plan_year=2023))
        for r in rows:
            light_reasons(r)
    assert len(ctx.captured_queries) == 1
    assert len(rows) == 6
