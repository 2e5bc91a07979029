"""月通报: this month's and last month's figures come from one grouped query (issue 10), and
last month's are the figures of last month's own report.

The rows of that query are the projects signed by this month's last day; last month's
figures count only those signed by its own last day (``assembly.within``). The book below has
a project signed on Saturday 1 October 2022: September's last dispatch week (26 September –
2 October, deadline Friday 30 September) is due from a project signed by its Sunday, so
without that restriction the project would enter September's dispatch rate, its year-to-date
count and its other rates.
"""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import factories as f
from tracker.choices import Stage
from tracker.lights import annotate_lights
from tracker.models import Project
from tracker.reports.assembly import compute_report

pytestmark = pytest.mark.django_db

D = datetime.date


@pytest.fixture
def autumn():
    region, chain = f.region(), f.chain()
    september = f.project(
        region=region,
        chain=chain,
        signed_on=D(2022, 9, 5),
        history=[(Stage.REGISTERED, D(2022, 9, 20))],
        annual_planned_investment=Decimal(1000),
    )
    october = f.project(
        region=region,
        chain=chain,
        signed_on=D(2022, 10, 1),
        history=[(Stage.STARTED, D(2022, 10, 1))],
    )
    for project in (september, october):
        f.dispatch(project, iso_year=2022, iso_week=39, completed_investment=Decimal(400))
    f.dispatch(september, iso_year=2022, iso_week=38, is_late=True)
    return region


def _rates(row):
    return {rate["key"]: rate for rate in row["rates"]}


def test_last_months_figures_are_last_months_report(autumn):
    october = compute_report(year=2022, month=10)
    september = compute_report(year=2022, month=9)
    for group in ("city", "region"):
        now = october["city"] if group == "city" else october["regions"][0]
        before = september["city"] if group == "city" else september["regions"][0]
        assert now["ytd_count_change"] == now["ytd_count"] - before["ytd_count"] == 1
        for key, rate in _rates(now).items():
            earlier = _rates(before)[key]["value"]
            if rate["value"] is None or earlier is None:
                assert rate["change"] is None, key
            else:
                assert Decimal(rate["change"]) == Decimal(rate["value"]) - Decimal(earlier), key


def test_septembers_dispatch_rate_leaves_out_the_project_signed_in_october(autumn):
    """Hand-computed: the September project reports weeks 36–39 (signed Monday 5 September),
    one of them on time (week 39); so 25 %. October: 0 % → change −25 points; the October
    project would have made September 2 of 5 (40 %)."""
    september = _rates(compute_report(year=2022, month=9)["city"])["timeliness"]
    assert (september["numerator"], september["denominator"]) == (1, 4)
    october = _rates(compute_report(year=2022, month=10)["city"])["timeliness"]
    assert october["change"] == format(Decimal(october["value"]) - Decimal("25.00"), "f")


def test_both_months_are_one_grouped_query_over_projects(autumn):
    with CaptureQueriesContext(connection) as queries:
        compute_report(year=2022, month=10)
    grouped = [
        q["sql"]
        for q in queries.captured_queries
        if 'FROM "tracker_project"' in q["sql"] and "GROUP BY" in q["sql"]
    ]
    assert len(grouped) == 1


def test_the_light_is_computed_once_in_the_grouped_query(autumn):
    """The red and yellow counts come from one light per row (a grouping column), not from
    two filters that each write the light's SQL out again."""
    red_before = (D(2022, 10, 31) - datetime.timedelta(days=90)).isoformat()  # the red start rule
    one_light = str(
        annotate_lights(Project.objects.all(), today=D(2022, 10, 31)).values("light").query
    )
    assert one_light.count(red_before) > 0
    with CaptureQueriesContext(connection) as queries:
        compute_report(year=2022, month=10)
    (grouped,) = [
        q["sql"]
        for q in queries.captured_queries
        if 'FROM "tracker_project"' in q["sql"] and "GROUP BY" in q["sql"]
    ]
    assert grouped.count(red_before) == one_light.count(red_before)
