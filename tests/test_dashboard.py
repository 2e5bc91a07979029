"""/dashboard/: the year's figures, the city indicators and the chart data, per scope.

The 2022 figures are checked on the seeded book (loaded once for the module, rolled back at
the end); the rollup rules (as-of dates, investment by month, lights by region) on small
hand-made cases; the query count at two sizes.
"""

import datetime
import json
import re
from decimal import ROUND_HALF_UP, Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

from tests import factories as f
from tracker.choices import Role, Stage
from tracker.dashboard import dashboard_data, investment_by_month
from tracker.models import AnnualIndicator, Project

pytestmark = pytest.mark.django_db

D = datetime.date
URL = "/dashboard/"
LOAD_DAY = "2023-01-09"  # history of the whole of 2022 (ISO week 2023-W01 included)


@pytest.fixture(scope="class")
def seeded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        with override_settings(DEBUG=True):  # the generated history is loaded only with DEBUG
            call_command("seed", "--today", LOAD_DAY, "--no-demo-users", stdout=StringIO())
        yield
        transaction.set_rollback(True)


@pytest.fixture
def en(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def figure(body, name):
    match = re.search(rf'id="fig-{name}">([^<]*)<', body)
    assert match, name
    return match.group(1).strip()


def chart_data(body):
    match = re.search(
        r'<script id="dashboard-data" type="application/json">(.*?)</script>', body, re.S
    )
    assert match, "chart data not passed with json_script"
    return json.loads(match.group(1))


# --- the 2022 book -------------------------------------------------------------------------


class TestThe2022Book:
    """The seeded book is loaded once for this class and rolled back after it."""

    def test_2022_headline_figures_are_the_published_ones(self, seeded, client):
        client.force_login(f.user(Role.MANAGER))
        response = client.get(URL, {"year": 2022})
        assert response.status_code == 200
        body = response.content.decode()
        assert figure(body, "count") == "338"
        assert figure(body, "amount") == "1,796.16"
        assert figure(body, "5020") == "41"
        assert figure(body, "billion") == "298"
        assert "示例数据" in body

    def test_default_year_is_the_latest_with_signed_projects(self, seeded, client):
        client.force_login(f.user(Role.MANAGER))
        response = client.get(URL)
        assert response.context["year"] == 2022
        assert response.context["years"] == [2022, 2021]
        assert response.context["year_message"] is None

    def test_started_production_and_investment_follow_the_history_at_year_end(self, seeded, client):
        client.force_login(f.user(Role.MANAGER))
        headline = client.get(URL, {"year": 2022}).context["headline"]
        end = D(2022, 12, 31)
        book = Project.objects.signed_in(2022)
        assert headline["started"] == book.started_by(end).count()
        assert headline["production"] == book.reached_by(Stage.PRODUCTION, end).count()
        assert 0 < headline["production"] < headline["started"] < 338
        funnel = [row["count"] for row in headline["funnel"]]
        assert funnel[0] == 338
        assert funnel == sorted(funnel, reverse=True)
        # completed investment = each project's latest 2022 report, summed
        total = Decimal(0)
        for project in book:
            last = project.dispatches.filter(iso_year=2022).order_by("-iso_week").first()
            total += last.completed_investment if last else 0
        assert headline["invested"] == total
        assert headline["invested_yi"] == (total / 10000).quantize(Decimal("0.01"), ROUND_HALF_UP)

    def test_2022_indicators_are_shown_with_unit_growth_and_rank(self, seeded, client):
        client.force_login(f.user(Role.MANAGER))
        body = client.get(URL, {"year": 2022}).content.decode()
        revenue = re.search(r'data-key="revenue-above-scale">(.*?)</tr>', body, re.S).group(1)
        assert "5094.6" in revenue and "亿元" in revenue and "+8.8%" in revenue
        added = re.search(r'data-key="value-added-above-scale">(.*?)</tr>', body, re.S).group(1)
        assert "+9.0%" in added
        assert "2" in re.findall(r'<td class="num">([^<]*)</td>', added)[-1]
        assert AnnualIndicator.objects.filter(year=2022).count() == body.count("<tr data-key=")
        cap = re.search(r'data-key="tech-fund-cap">(.*?)</tr>', body, re.S).group(1)
        assert ">1800<" in cap and "万元" in cap

    def test_chart_data_adds_up_to_the_headline(self, seeded, client):
        client.force_login(f.user(Role.MANAGER))
        body = client.get(URL, {"year": 2022}).content.decode()
        data = chart_data(body)
        assert sum(data["signing"]["count"]) == 338
        assert sum(Decimal(a) for a in data["signing"]["amount"]) == Decimal("1796.16")
        assert sum(data["regions"]["count"]) == 338
        assert len(data["regions"]["names"]) == 13
        lights = sum(data["regions"][k][i] for k in ("red", "yellow", "green") for i in range(13))
        assert lights + 2 >= 338 - 10  # every live project has one light (terminated apart)
        assert len(data["chains"]) == 10
        assert data["funnel"][0]["value"] == 338
        assert data["investment"]["cumulative"][-1] == figure(body, "invested")
        assert len(data["months"]) == 12

    @pytest.mark.parametrize(
        ("value", "reason"),
        [("abc", "is not a year"), ("1800", "No signed projects in 1800"), ("2019", "in 2019")],
    )
    def test_a_bad_year_shows_the_default_year_with_a_message(self, seeded, en, value, reason):
        en.force_login(f.user(Role.MANAGER))
        response = en.get(URL, {"year": value})
        assert response.status_code == 200
        assert response.context["year"] == 2022
        message = re.search(r'id="year-message">([^<]*)<', response.content.decode()).group(1)
        assert reason in message and "2022" in message

    def test_a_year_too_long_for_a_number_is_just_a_bad_year(self, seeded, en):
        en.force_login(f.user(Role.MANAGER))
        response = en.get(URL, {"year": "9" * 40})
        assert response.status_code == 200 and response.context["year"] == 2022


# --- scope ---------------------------------------------------------------------------------


@pytest.fixture
def two_chains():
    a, b = f.chain(name="甲链"), f.chain(name="乙链")
    region = f.region(name="甲县")
    commissioner = f.user(Role.COMMISSIONER)
    f.project(chain=a, region=region, signed_amount=Decimal("250000"), commissioner=commissioner)
    f.project(chain=a, region=region, signed_amount=Decimal("5000"))
    f.project(chain=b, region=region, signed_amount=Decimal("20000"))
    return {"a": a, "b": b, "commissioner": commissioner}


def test_each_user_sees_the_figures_of_their_own_scope(client, two_chains):
    client.force_login(f.user(Role.CHAIN_OFFICE, chain=two_chains["a"]))
    h = client.get(URL).context["headline"]
    assert (h["count"], h["amount_yi"], h["count_5020"], h["count_billion"]) == (
        2,
        Decimal("25.50"),
        1,
        1,
    )
    client.force_login(two_chains["commissioner"])
    h = client.get(URL).context["headline"]
    assert (h["count"], h["amount_yi"]) == (1, Decimal("25.00"))
    client.force_login(f.user(Role.COUNTY))
    assert client.get(URL).context["headline"]["count"] == 3
    client.force_login(f.user(Role.MANAGER))
    assert client.get(URL).context["headline"]["count"] == 3


def test_the_page_says_whose_figures_they_are(en, two_chains):
    en.force_login(f.user(Role.CHAIN_OFFICE, chain=two_chains["a"]))
    note = re.search(r'id="scope-note">(.*?)</p>', en.get(URL).content.decode(), re.S).group(1)
    assert "甲链" in note


def test_a_user_who_sees_no_projects_gets_an_empty_dashboard(en, two_chains):
    en.force_login(f.user(Role.COMMISSIONER))
    response = en.get(URL)
    assert response.status_code == 200
    assert response.context["headline"]["count"] == 0
    assert 'id="no-data"' in response.content.decode()


# --- rules on small cases ------------------------------------------------------------------


def test_stages_are_read_as_of_the_year_end_not_today():
    chain, region = f.chain(), f.region()
    f.project(
        chain=chain,
        region=region,
        signed_on=D(2022, 3, 1),
        history=[(Stage.STARTED, D(2022, 11, 1)), (Stage.PRODUCTION, D(2023, 2, 1))],
    )
    f.project(
        chain=chain,
        region=region,
        signed_on=D(2022, 3, 1),
        history=[(Stage.STARTED, D(2023, 1, 5))],
    )
    data = dashboard_data(Project.objects.all(), year=2022, today=D(2024, 1, 1))
    assert data["as_of"] == D(2022, 12, 31)
    assert (data["headline"]["started"], data["headline"]["production"]) == (1, 0)
    # in the running year the as-of date is today
    data = dashboard_data(Project.objects.all(), year=2022, today=D(2022, 10, 31))
    assert data["as_of"] == D(2022, 10, 31)
    assert data["headline"]["started"] == 0


def test_investment_by_month_is_the_latest_report_at_each_month_end():
    p = f.project(signed_on=D(2022, 1, 3))
    q = f.project(signed_on=D(2022, 2, 1))
    # ISO 2022-W05 begins 31 January, W09 on 28 February, W13 on 28 March
    f.dispatch(p, iso_week=2, completed_investment=Decimal("10000"))
    f.dispatch(p, iso_week=5, completed_investment=Decimal("30000"))
    f.dispatch(q, iso_week=9, completed_investment=Decimal("5000"))
    f.dispatch(p, iso_week=13, completed_investment=Decimal("40000"))
    rows = investment_by_month(Project.objects.all(), year=2022, today=D(2022, 4, 15))
    cumulative = [r["cumulative_yi"] for r in rows]
    assert cumulative[:4] == [Decimal("3.00"), Decimal("3.50"), Decimal("4.50"), Decimal("4.50")]
    increments = [r["increment_yi"] for r in rows]
    assert increments[:4] == [Decimal("3.00"), Decimal("0.50"), Decimal("1.00"), Decimal("0.00")]
    assert cumulative[4:] == [None] * 8  # May onwards is still to come


def test_signing_and_chain_rollups_group_by_month_and_chain():
    a, b = f.chain(name="甲链", sort_order=1), f.chain(name="乙链", sort_order=2)
    f.project(chain=a, signed_on=D(2022, 1, 10), signed_amount=Decimal("12345.67"))
    f.project(chain=a, signed_on=D(2022, 1, 20), signed_amount=Decimal("200000"))
    f.project(chain=b, signed_on=D(2022, 12, 31), signed_amount=Decimal("100"))
    f.project(chain=b, signed_on=D(2021, 12, 31), signed_amount=Decimal("999999"))
    data = dashboard_data(Project.objects.all(), year=2022, today=D(2023, 6, 1))
    months = {r["month"]: (r["count"], r["amount_yi"]) for r in data["signing"] if r["count"]}
    assert months == {1: (2, Decimal("21.23")), 12: (1, Decimal("0.01"))}
    chains = [(r["name"], r["count"], r["count_5020"], r["amount_yi"]) for r in data["chains"]]
    assert chains == [("甲链", 2, 1, Decimal("21.23")), ("乙链", 1, 0, Decimal("0.01"))]


def test_lights_by_region_use_the_as_of_date():
    a, b = f.region(name="甲县", sort_order=1), f.region(name="乙县", sort_order=2)
    # planned to start 1 Aug 2022, never started: 152 days late on 31 Dec → red
    f.project(region=a, signed_on=D(2022, 3, 1), planned_start_on=D(2022, 8, 1))
    # planned to start 15 Nov: 46 days late → yellow
    f.project(region=a, signed_on=D(2022, 3, 1), planned_start_on=D(2022, 11, 15))
    f.project(region=b, signed_on=D(2022, 3, 1))  # no plan: green
    f.project(region=b, signed_on=D(2022, 3, 1), history=[(Stage.TERMINATED, D(2022, 6, 1))])
    rows = dashboard_data(Project.objects.all(), year=2022, today=D(2023, 6, 1))["regions"]
    assert [(r["name"], r["red"], r["yellow"], r["green"], r["terminated"]) for r in rows] == [
        ("甲县", 1, 1, 0, 0),
        ("乙县", 0, 0, 1, 1),
    ]
    # as of 31 August 2022 the first was only 30 days late: green
    rows = dashboard_data(Project.objects.all(), year=2022, today=D(2022, 8, 31))["regions"]
    assert (rows[0]["red"], rows[0]["yellow"], rows[0]["green"]) == (0, 0, 2)


def test_a_past_years_investment_light_uses_that_years_reports_not_later_ones():
    region = f.region(name="甲县")
    p = f.project(
        region=region,
        signed_on=D(2022, 1, 10),
        history=[(Stage.STARTED, D(2022, 2, 1))],
        annual_planned_investment=Decimal("1000"),
        completed_investment=Decimal("1000"),  # today's figure: the whole plan done
    )
    f.dispatch(p, iso_week=20, completed_investment=Decimal("100"))  # 10 % by May 2022
    f.dispatch(p, iso_year=2023, iso_week=10, completed_investment=Decimal("1000"))
    # Seen at the end of 2022 (2022's plan): 90 points behind at 31 Dec 2022 → red; the
    # dispatch of March 2023 (the whole plan done) is not read.
    rows = dashboard_data(Project.objects.all(), year=2022, today=D(2022, 12, 31))["regions"]
    assert (rows[0]["red"], rows[0]["green"]) == (1, 0)


def test_a_past_years_lights_are_the_start_light_only(client):
    region = f.region(name="甲县")
    behind = f.project(  # 10 % of its plan by the end of 2022: red while 2022 runs
        region=region,
        signed_on=D(2022, 1, 10),
        history=[(Stage.STARTED, D(2022, 2, 1))],
        annual_planned_investment=Decimal("1000"),
    )
    f.dispatch(behind, iso_week=20, completed_investment=Decimal("100"))
    f.project(region=region, signed_on=D(2022, 1, 10), planned_start_on=D(2022, 3, 1))  # late
    data = dashboard_data(Project.objects.all(), year=2022, today=D(2024, 1, 1))
    # The annual plan is 2024's: the investment light does not apply to 2022.
    assert data["invest_light"] is False
    assert (data["regions"][0]["red"], data["regions"][0]["green"]) == (1, 1)
    assert dashboard_data(Project.objects.all(), year=2022, today=D(2022, 12, 31))["invest_light"]
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the English source text
    client.force_login(f.user(Role.MANAGER))
    body = client.get(URL, {"year": 2022}).content.decode()
    assert 'id="lights-note"' in body and "applies only to the current year" in body


def test_county_staff_see_their_region_marked(client):
    mine, other = f.region(name="甲县", sort_order=1), f.region(name="乙县", sort_order=2)
    f.project(region=mine)
    f.project(region=other)
    client.force_login(f.user(Role.COUNTY, region=other))
    body = client.get(URL).content.decode()
    assert chart_data(body)["highlight"] == 1
    assert re.search(rf'<tr data-region="{other.pk}" class="mine">', body)
    assert not re.search(rf'<tr data-region="{mine.pk}" class="mine">', body)
    client.force_login(f.user(Role.MANAGER))
    assert chart_data(client.get(URL).content.decode())["highlight"] is None


# --- performance and page plumbing ---------------------------------------------------------


def make_book(n):
    regions = [f.region() for _ in range(3)]
    chains = [f.chain() for _ in range(3)]
    for i in range(n):
        p = f.project(
            region=regions[i % 3],
            chain=chains[i % 3],
            signed_on=D(2022, 1 + i % 12, 1),
            planned_start_on=D(2022, 12, 1),
            annual_planned_investment=Decimal("1000"),
            history=[(Stage.STARTED, D(2022, 12, 5))] if i % 2 else [],
        )
        f.dispatch(p, iso_week=50, completed_investment=Decimal(i))


def test_query_count_does_not_grow_with_projects(client):
    client.force_login(f.user(Role.MANAGER))
    counts = []
    for n in (5, 45):
        make_book(n)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(URL, {"year": 2022})
        assert response.status_code == 200
        counts.append(len(ctx.captured_queries))
    assert response.context["headline"]["count"] == 50
    assert counts[0] == counts[1]
    # session, user, years, headline + funnel, signing, investment, regions, chains, indicators
    assert counts[0] <= 9


def test_charts_are_local_and_fed_by_json_script(client):
    client.force_login(f.user(Role.MANAGER))
    f.project()
    body = client.get(URL).content.decode()
    scripts = re.findall(r'<script src="([^"]+)"', body)
    assert scripts == [
        "/static/js/app.js",
        "/static/vendor/echarts/echarts.min.js",
        "/static/js/dashboard.js",
    ]
    assert "http" not in " ".join(scripts)
    for chart in ("signing", "investment", "region", "chain", "funnel", "lights"):
        assert f'<div class="chart" id="chart-{chart}"' in body
    chart_data(body)
    static = Path(settings.BASE_DIR) / "static"
    assert (static / "vendor/echarts/echarts.min.js").stat().st_size > 500_000
    assert "5.6.0" in (static / "vendor/echarts/README.md").read_text()


def test_json_script_escapes_names_that_look_like_markup(client):
    client.force_login(f.user(Role.MANAGER))
    f.project(region=f.region(name="</script><b>x</b>"))
    body = client.get(URL).content.decode()
    assert "</script><b>x" not in body
    assert chart_data(body)["regions"]["names"] == ["</script><b>x</b>"]


def test_dashboard_needs_a_login(client):
    response = client.get(reverse("tracker:dashboard"))
    assert response.status_code == 302
