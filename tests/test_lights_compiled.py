"""The lights' SQL is compiled once per process per key and reused: a new day, the other
thresholds or the investment figure of another source never get the SQL of an earlier key,
and the reused SQL follows the aliases of the query it is in (a subquery, another join)."""

import datetime
from decimal import Decimal

import pytest
from django.test.utils import override_settings

from tests import factories as f
from tests.test_lights import lit
from tracker.choices import Stage
from tracker.lights import annotate_lights
from tracker.models import Project

D = datetime.date


def light_of(project, today, **kw):
    return lit(project, today, **kw).light


@pytest.mark.django_db
def test_each_day_gets_its_own_lights_in_one_process():
    # planned start 1 Jan 2023: 30 days late on 31 Jan is green, 31 on 1 Feb yellow,
    # 90 on 1 Apr yellow and 91 on 2 Apr red (the module doc's boundaries).
    p = f.project(signed_on=D(2022, 1, 1), planned_start_on=D(2023, 1, 1))
    days = [D(2023, 1, 31), D(2023, 2, 1), D(2023, 4, 1), D(2023, 4, 2), D(2023, 1, 31)]
    assert [light_of(p, d, plan_year=2023) for d in days] == [
        "green",
        "yellow",
        "yellow",
        "red",
        "green",
    ]


@pytest.mark.django_db
def test_a_settings_change_is_not_served_the_earlier_thresholds():
    p = f.project(signed_on=D(2022, 1, 1), planned_start_on=D(2023, 1, 1))
    day = D(2023, 1, 16)  # 15 days late
    assert light_of(p, day, plan_year=2023) == "green"
    from django.conf import settings

    stricter = {**settings.TRACKER, "WARN_START_YELLOW_DAYS": 10, "WARN_START_RED_DAYS": 12}
    with override_settings(TRACKER=stricter):
        assert light_of(p, day, plan_year=2023) == "red"
    assert light_of(p, day, plan_year=2023) == "green"


@pytest.mark.django_db
def test_the_investment_source_is_part_of_the_key():
    # Started, plan 1,000 万元, nothing done by any dispatch but 900 on the project itself:
    # on 31 Dec (100 % expected) the project's figure is 10 points behind (yellow), the
    # dispatches' figure 100 behind (red).
    p = f.project(
        signed_on=D(2022, 1, 1),
        planned_start_on=D(2023, 1, 1),
        history=[(Stage.STARTED, D(2023, 1, 1))],
        annual_planned_investment=Decimal(1000),
        completed_investment=Decimal(900),
    )
    day = D(2023, 12, 31)
    assert light_of(p, day, plan_year=2023) == "yellow"
    assert light_of(p, day, plan_year=2023, investment_from_dispatch=True) == "red"
    assert light_of(p, day, plan_year=2023) == "yellow"


@pytest.mark.django_db
def test_reused_sql_follows_the_aliases_of_a_subquery():
    today = D(2023, 6, 30)
    red = f.project(signed_on=D(2022, 1, 1), planned_start_on=D(2023, 1, 1))
    yellow = f.project(signed_on=D(2022, 1, 1), planned_start_on=D(2023, 5, 1))
    f.project(signed_on=D(2022, 1, 1))
    lit = annotate_lights(Project.objects.all(), today=today, plan_year=2023)
    assert {p.pk for p in lit.filter(light="red")} == {red.pk}
    # the same compiled SQL inside a subquery (U0 …) and beside the outer query's own lights
    inner = lit.filter(light__in=["red", "yellow"]).values("pk")
    outer = annotate_lights(Project.objects.filter(pk__in=inner), today=today, plan_year=2023)
    assert sorted((p.pk, p.light) for p in outer) == [(red.pk, "red"), (yellow.pk, "yellow")]
