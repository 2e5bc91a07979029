"""The 2022 lights do not depend on the day the seed was loaded (issue 2, issue 4).

The seed is loaded twice for the module, on two load dates far apart, each inside a
transaction rolled back at once; the December 2022 report (and the dashboard's 2022 lights)
of each load are kept as plain data and compared. Before the investment light was limited to
the year of the annual plan, the 2023-02-01 load gave 125 red / 19 yellow and the 2026-11-28
load 22 / 7: each load writes the plan of its own year into ``annual_planned_investment``.
"""

import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test.utils import override_settings
from django.utils import translation

from tracker.dashboard import by_region
from tracker.models import Project
from tracker.reports.assembly import compute_report

pytestmark = pytest.mark.django_db

LOAD_DAYS = ("2023-02-01", "2026-11-28")


def _load(day):
    with transaction.atomic():
        with override_settings(DEBUG=True):  # with its generated history (stages, dispatches)
            call_command("seed", "--today", day, "--no-demo-users", stdout=StringIO())
        with translation.override("zh-hans"):
            report = compute_report(year=2022, month=12)
        regions = by_region(
            Project.objects.signed_in(2022).order_by(), as_of=datetime.date(2022, 12, 31)
        )
        plans = sorted(
            Project.objects.filter(annual_planned_investment__gt=0).values_list(
                "code", "annual_planned_investment"
            )
        )
        transaction.set_rollback(True)
    return {"report": report, "regions": regions, "plans": plans}


@pytest.fixture(scope="module")
def loads(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        return {day: _load(day) for day in LOAD_DAYS}


def _lights(data):
    city = data["report"]["city"]
    return (
        city["red"],
        city["yellow"],
        [(r["name"], r["red"], r["yellow"]) for r in data["report"]["regions"]],
        [(r["name"], r["red"], r["yellow"]) for r in data["report"]["chains"]],
        data["report"]["warnings"],
    )


def test_the_two_loads_really_differ_in_their_annual_plans(loads):
    first, second = (loads[day]["plans"] for day in LOAD_DAYS)
    assert first and second
    assert first != second  # each load writes the plan of its own year


def test_december_2022_lights_do_not_depend_on_the_load_date(loads):
    first, second = (loads[day] for day in LOAD_DAYS)
    assert _lights(first) == _lights(second)
    city = first["report"]["city"]
    assert city["red"] + city["yellow"] > 0  # there is something to compare
    assert len(first["report"]["warnings"]) == city["red"] + city["yellow"]
    assert first["report"]["invest_light"] is False
    # Only the start light and the stalled rule speak for 2022.
    for row in first["report"]["warnings"]:
        assert row["reasons"]
        assert not any("序时进度" in reason or "投资" in reason for reason in row["reasons"])


def test_the_dashboards_2022_lights_do_not_depend_on_the_load_date(loads):
    first, second = (
        [{k: v for k, v in row.items() if k != "region_id"} for row in loads[day]["regions"]]
        for day in LOAD_DAYS
    )  # ids differ between the loads on PostgreSQL (sequences do not roll back)
    assert first == second
    assert sum(r["red"] + r["yellow"] for r in first) > 0
