"""月通报: each rate against small hand-computed cases, as-of correctness, ranking, publishing
(frozen JSON, versions, reasons, concurrency), months refused, scope, XLSX, query counts.

The seeded December 2022 figures are in test_reports_seed.py (the seed is loaded once there).
"""

import datetime
import io
import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from tests import factories
from tests.test_tasks import run_queued_jobs
from tracker.choices import ProblemStatus, Role, Stage
from tracker.models import MonthlyReport, Problem, Project, StageChange, WeeklyDispatch
from tracker.reports import assembly, publishing
from tracker.reports.assembly import compute_report
from tracker.reports.publishing import publish_monthly_report
from tracker.reports.rates import RATES, AsOf, rate_value
from tracker.reports.xlsx import report_xlsx
from tracker.spreadsheets import FIRST_DATA_ROW, HEADER_ROW

pytestmark = pytest.mark.django_db

D = datetime.date


# --- helpers shared with test_scope.py -----------------------------------------------------------
def _month_of(project):
    """The month the project started in (else signed in): started and unfinished with an
    annual plan, it carries an investment light at that month's end when that is this year,
    so the generic scope walk can see whether the report lists it to someone else."""
    return project.actual_start_on or project.signed_on


def report_month_kwargs(project):
    return {"month": _month_of(project).strftime("%Y-%m")}


def published_version_kwargs(project):
    """Publish the project's month (as a new manager) and point at v1."""
    month = _month_of(project)
    if not MonthlyReport.objects.filter(year=month.year, month=month.month).exists():
        publish_monthly_report(year=month.year, month=month.month, by=factories.user(Role.MANAGER))
    return {"month": month.strftime("%Y-%m"), "version": 1}


def publish_post(project):
    return {"reason": "越权发布"}


def rate(row, key):
    return next(r for r in row["rates"] if r["key"] == key)


def article(response):
    """The report itself (the page around it carries per-request CSRF tokens)."""
    body = response.content.decode()
    match = re.search(r'<article class="report".*?</article>', body, re.S)
    assert match, "no report on the page"
    return match.group(0)


# --- the hand-made month: June 2022 ------------------------------------------------------------
@pytest.fixture
def june():
    """One ranked region with eight projects, as of 30 June 2022 (see each rate's test)."""
    region = factories.region(name="甲县", sort_order=1)
    empty = factories.region(name="空县", sort_order=2)
    chain = factories.chain(name="甲链")
    other_chain = factories.chain(name="乙链")

    def make(name, signed_on, amount, history=(), **kw):
        return factories.project(
            name=name,
            region=region,
            chain=kw.pop("chain", chain),
            signed_on=signed_on,
            signed_amount=Decimal(amount),
            history=list(history),
            **kw,
        )

    p = {
        "p1": make(
            "一号",
            D(2022, 3, 1),
            10000,
            [(Stage.REGISTERED, D(2022, 3, 10)), (Stage.STARTED, D(2022, 4, 1))],
            annual_planned_investment=Decimal(10000),
            completed_investment=Decimal(9000),  # today's figure (July): not June's
        ),
        "p2": make("二号", D(2022, 5, 1), 30000, [(Stage.REGISTERED, D(2022, 6, 15))]),
        "p3": make("三号", D(2022, 6, 10), 20000, chain=other_chain),
        "p4": make(
            "四号",
            D(2022, 2, 1),
            40000,
            [(Stage.STARTED, D(2022, 3, 1)), (Stage.PRODUCTION, D(2022, 6, 20))],
        ),
        "p5": make(
            "五号",
            D(2022, 1, 15),
            10000,
            [(Stage.REGISTERED, D(2022, 2, 1)), (Stage.TERMINATED, D(2022, 5, 1))],
        ),
        "p6": make("六号", D(2021, 12, 1), 70000, planned_start_on=D(2022, 1, 1)),
        "p7": make("七号", D(2022, 7, 5), 90000),
        "p8": make(
            "八号",
            D(2022, 4, 1),
            50000,
            [(Stage.STARTED, D(2022, 7, 10))],
            planned_start_on=D(2022, 4, 15),
        ),
    }
    report = factories.dispatch
    for week in (22, 23, 24, 25):
        report(p["p1"], iso_week=week, completed_investment=Decimal(3000), is_late=False)
    report(p["p1"], iso_week=27, completed_investment=Decimal(9000))  # week of 4 July
    report(p["p4"], iso_week=24, completed_investment=Decimal(6000), is_late=False)
    report(p["p4"], iso_week=25, completed_investment=Decimal(6000), is_late=True)
    report(p["p5"], iso_week=22, completed_investment=Decimal(0), is_late=False)
    report(p["p6"], iso_week=23, completed_investment=Decimal(0), is_late=False)
    report(p["p8"], iso_week=28, completed_investment=Decimal(5000))

    raiser = factories.user(Role.MANAGER)

    def problem(raised_on, status=ProblemStatus.RAISED, **kw):
        if status != ProblemStatus.RAISED:
            kw.setdefault("assigned_unit", "市工信局")
            kw.setdefault("deadline", raised_on + datetime.timedelta(days=60))
        return Problem.objects.create(
            chain=chain,
            region=region,
            title="问题",
            raised_by=raiser,
            raised_on=raised_on,
            status=status,
            **kw,
        )

    problem(D(2022, 3, 1), ProblemStatus.RESOLVED, resolved_on=D(2022, 5, 1))
    problem(D(2022, 4, 1), ProblemStatus.CLOSED, resolved_on=D(2022, 6, 1), closed_on=D(2022, 6, 5))
    problem(D(2022, 6, 1))
    problem(D(2022, 6, 10), ProblemStatus.RESOLVED, resolved_on=D(2022, 7, 5))
    problem(D(2021, 12, 1), ProblemStatus.RESOLVED, resolved_on=D(2022, 1, 10))
    problem(D(2022, 7, 1))
    return {"region": region, "empty": empty, "chain": chain, **p}


def region_row(data, name):
    return next(row for row in data["regions"] if row["name"] == name)


def test_the_weeks_of_june_2022_are_those_whose_friday_deadline_falls_in_june():
    assert [(y, w) for y, w, _s, _e in AsOf(D(2022, 6, 30)).weeks] == [
        (2022, 22),
        (2022, 23),
        (2022, 24),
        (2022, 25),
    ]
    # December 2022: Fridays 2, 9, 16, 23 and 30 December.
    assert len(AsOf(D(2022, 12, 31)).weeks) == 5


def test_signed_this_month_and_year_to_date(june):
    row = region_row(compute_report(year=2022, month=6), "甲县")
    # June: p3 only; year to date: p1 p2 p3 p4 p5 p8 (p6 signed in 2021, p7 in July).
    assert row["month_count"] == 1
    assert row["month_amount"] == "20000.00"
    assert row["month_amount_yi"] == "2.0000"  # a file: four decimals
    assert row["ytd_count"] == 6
    assert row["ytd_amount"] == "160000.00"
    assert row["ytd_amount_yi"] == "16.0000"
    assert row["ytd_5020"] == 0
    assert row["ytd_billion"] == 6
    assert row["ytd_count_change"] == 1  # May: five


def test_performance_rate_counts_registered_or_later_and_not_terminated(june):
    row = region_row(compute_report(year=2022, month=6), "甲县")
    # p1 (registered, started), p2 (registered 15 June), p4 (started); p5 terminated,
    # p8 starts only in July, p3 is only signed.
    assert rate(row, "performance") == {
        "key": "performance",
        "numerator": 3,
        "denominator": 6,
        "value": "50.00",
        "change": "10.00",  # May: p1 and p4 of five = 40 %
    }


def test_start_rate_counts_started_by_the_last_day(june):
    row = region_row(compute_report(year=2022, month=6), "甲县")
    assert (rate(row, "start")["numerator"], rate(row, "start")["denominator"]) == (2, 6)
    assert rate(row, "start")["value"] == "33.33"


def test_production_rate_counts_production_by_the_last_day(june):
    row = region_row(compute_report(year=2022, month=6), "甲县")
    assert rate(row, "production")["numerator"] == 1  # p4, 20 June
    assert rate(row, "production")["value"] == "16.67"
    may = region_row(compute_report(year=2022, month=5), "甲县")
    assert rate(may, "production")["value"] == "0.00"
    assert rate(row, "production")["change"] == "16.67"


def test_funds_rate_takes_the_latest_dispatch_on_or_before_the_last_day(june):
    row = region_row(compute_report(year=2022, month=6), "甲县")
    # p1 3000 (its July report of 9000 and its current figure do not count) + p4 6000;
    # p8's report is of July. 9000 / 160000 = 5.625 % → 5.63 (half up).
    funds = rate(row, "funds")
    assert (funds["numerator"], funds["denominator"]) == ("9000.00", "160000.00")
    assert funds["value"] == "5.63"


def test_timeliness_counts_on_time_reports_of_projects_due_in_the_months_weeks(june):
    row = region_row(compute_report(year=2022, month=6), "甲县")
    # Due: p1 4, p2 4, p3 3 (signed 10 June, week 22 ended 5 June), p4 4 (in production from
    # 20 June, the first day of week 25: still due), p5 0 (terminated), p6 4 (signed 2021),
    # p7 0, p8 4 → 23. On time: p1 4, p4 1 (week 25 late), p6 1; p5's is not due → 6.
    timeliness = rate(row, "timeliness")
    assert (timeliness["numerator"], timeliness["denominator"]) == (6, 23)
    assert timeliness["value"] == "26.09"


def test_problem_resolution_counts_this_years_problems_resolved_or_closed_by_the_day(june):
    data = compute_report(year=2022, month=6)
    row = region_row(data, "甲县")
    # Raised 2022 up to 30 June: four; resolved or closed by then: two.
    assert rate(row, "problems") == {
        "key": "problems",
        "numerator": 2,
        "denominator": 4,
        "value": "50.00",
        "change": "0.00",  # May: one (resolved 1 May) of two (raised March and April)
    }
    chain_row = next(r for r in data["chains"] if r["name"] == "甲链")
    assert rate(chain_row, "problems")["value"] == "50.00"
    assert rate(data["city"], "problems")["value"] == "50.00"


def test_a_rate_with_nothing_to_count_is_a_dash_not_zero(june, client):
    data = compute_report(year=2022, month=6)
    empty = region_row(data, "空县")
    assert all(r["value"] is None and r["change"] is None for r in empty["rates"])
    assert rate_value(0, 0) is None and rate_value(0, 5) == Decimal("0.00")
    client.force_login(factories.user(Role.MANAGER))
    html = article(client.get(reverse("tracker:monthly_report", kwargs={"month": "2022-06"})))
    row = re.search(r'<tr[^>]*data-name="空县".*?</tr>', html, re.S).group(0)
    assert row.count('data-rate="problems">—') == 1
    assert "0.00%" not in row.split('data-rate="performance">')[1][:10]


def test_city_total_adds_up_all_regions(june):
    city = compute_report(year=2022, month=6)["city"]
    assert city["ytd_count"] == 6
    assert rate(city, "timeliness")["value"] == "26.09"


def in_2022(monkeypatch):
    """Pretend today is 15 July 2022: the projects' annual plans are 2022's."""
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *a, **k: D(2022, 7, 15))


def test_lights_are_as_of_the_last_day_with_their_reasons(june, monkeypatch):
    in_2022(monkeypatch)
    data = compute_report(year=2022, month=6)
    assert data["invest_light"] is True
    lights = {w["name"]: (w["light"], w["reasons"]) for w in data["warnings"]}
    # p6: start 180 days late → red; p8: 76 days late → yellow; p1: 30 % done of its plan
    # against 49.6 % of the year (June's dispatch, not today's 9000) → yellow.
    assert set(lights) == {"六号", "八号", "一号"}
    assert lights["六号"][0] == "red" and "180" in lights["六号"][1][0]
    assert lights["八号"][0] == "yellow" and "76" in lights["八号"][1][0]
    assert lights["一号"][0] == "yellow" and "19.6" in lights["一号"][1][0]
    assert data["warnings"][0]["light"] == "red"
    row = region_row(data, "甲县")
    assert (row["red"], row["yellow"]) == (1, 2)


def test_a_past_years_month_shows_the_start_light_only(june, client):
    # Today is after 2022: the annual plans are this year's, so p1's investment light (yellow
    # in July 2022, above) does not apply to June 2022; the start lights stay.
    data = compute_report(year=2022, month=6)
    assert data["invest_light"] is False
    lights = {w["name"]: w["light"] for w in data["warnings"]}
    assert lights == {"六号": "red", "八号": "yellow"}
    row = region_row(data, "甲县")
    assert (row["red"], row["yellow"]) == (1, 1)
    client.force_login(factories.user(Role.MANAGER))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the English source text
    page = article(client.get(reverse("tracker:monthly_report", kwargs={"month": "2022-06"})))
    assert 'id="report-lights-note"' in page
    assert "applies only to the current year" in page


def test_a_stage_change_in_july_does_not_alter_junes_report(june):
    before = compute_report(year=2022, month=6)
    p3 = june["p3"]
    StageChange.objects.create(
        project=p3, from_stage=Stage.SIGNED, to_stage=Stage.STARTED, effective_on=D(2022, 7, 2)
    )
    Project.objects.filter(pk=p3.pk).update(stage=Stage.STARTED, actual_start_on=D(2022, 7, 2))
    factories.dispatch(june["p4"], iso_week=28, completed_investment=Decimal(39000))
    Project.objects.filter(pk=june["p2"].pk).update(completed_investment=Decimal(29000))
    assert compute_report(year=2022, month=6) == before
    july = region_row(compute_report(year=2022, month=7), "甲县")
    assert rate(july, "start")["numerator"] == 4  # p1, p4, p8 (10 July), p3 (2 July)


def test_a_stage_change_effective_on_the_last_day_counts_in_that_months_report():
    region = factories.region(name="边界县")
    chain = factories.chain()

    def make(history):
        return factories.project(
            region=region, chain=chain, signed_on=D(2022, 3, 1), history=history
        )

    make([(Stage.STARTED, D(2022, 6, 30))])  # started on June's last day
    make([(Stage.STARTED, D(2022, 7, 1))])  # a day too late for June
    make([(Stage.STARTED, D(2022, 4, 1)), (Stage.TERMINATED, D(2022, 6, 30))])
    june = region_row(compute_report(year=2022, month=6), "边界县")
    # Started by 30 June and not terminated on 30 June: the first project only, 1 of 3.
    assert (rate(june, "start")["numerator"], rate(june, "start")["denominator"]) == (1, 3)
    assert rate(june, "start")["value"] == "33.33"
    may = region_row(compute_report(year=2022, month=5), "边界县")
    assert rate(may, "start")["numerator"] == 1  # only the one terminated in June
    july = region_row(compute_report(year=2022, month=7), "边界县")
    assert rate(july, "start")["value"] == "66.67"  # 2 of 3


def test_production_rate_counts_production_not_construction_completed():
    region = factories.region(name="投产县")
    chain = factories.chain()
    started = (Stage.STARTED, D(2022, 3, 1))
    for history in (
        [started, (Stage.COMPLETED, D(2022, 5, 10))],  # 竣工, not 投产
        [started, (Stage.COMPLETED, D(2022, 5, 1)), (Stage.PRODUCTION, D(2022, 6, 1))],
    ):
        factories.project(region=region, chain=chain, signed_on=D(2022, 2, 1), history=history)
    row = region_row(compute_report(year=2022, month=6), "投产县")
    # In production by 30 June: one of the two projects signed this year.
    assert (rate(row, "production")["numerator"], rate(row, "production")["denominator"]) == (1, 2)
    assert rate(row, "production")["value"] == "50.00"
    assert rate(row, "start")["value"] == "100.00"  # both had started


def test_ranking_by_start_rate_then_funds_then_performance():
    fast = factories.region(name="快县", sort_order=3)
    slow = factories.region(name="慢县", sort_order=1)
    tie = factories.region(name="平县", sort_order=2)
    none = factories.region(name="无县", sort_order=0)
    zone = factories.region(name="特区", sort_order=5, ranked_in_assessment=False)
    chain = factories.chain()
    started = [(Stage.STARTED, D(2022, 2, 1))]
    factories.project(region=fast, chain=chain, signed_on=D(2022, 1, 5), history=started)
    factories.project(region=slow, chain=chain, signed_on=D(2022, 1, 5))
    tied = factories.project(region=tie, chain=chain, signed_on=D(2022, 1, 5), history=started)
    factories.dispatch(tied, iso_week=5, completed_investment=Decimal(1000))
    factories.project(region=zone, chain=chain, signed_on=D(2022, 1, 5), history=started)
    data = compute_report(year=2022, month=2)
    order = [(row["name"], row["rank"]) for row in data["regions"]]
    # 平县 and 快县 both 100 % started; 平县 has funds in place. 无县 has no rates: last.
    assert order == [("平县", 1), ("快县", 2), ("慢县", 3), ("无县", 4), ("特区", None)]
    assert none.ranked_in_assessment


# --- the rate definitions are in one place and on the page ------------------------------------
def test_every_rate_is_defined_once_and_shown_in_the_footnote(june, client):
    keys = [r.key for r in RATES]
    assert keys == ["performance", "start", "production", "funds", "timeliness", "problems"]
    client.force_login(factories.user(Role.COUNTY))
    response = client.get(reverse("tracker:monthly_report", kwargs={"month": "2022-06"}))
    footnote = re.search(r'id="report-definitions".*?</section>', article(response), re.S)
    text = footnote.group(0)
    for definition in RATES:
        assert str(definition.label) in text
        assert str(definition.numerator_text) in text
        assert str(definition.denominator_text) in text


# --- months ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "month", ["2022-13", "2022-00", "1999-01", "garbage", "2022-6", "2099-01", "2021-11"]
)
def test_a_month_that_cannot_be_reported_answers_404_with_the_reason(june, client, month):
    client.force_login(factories.user(Role.MANAGER))
    response = client.get(reverse("tracker:monthly_report", kwargs={"month": month}))
    assert response.status_code == 404
    assert 'id="report-missing"' in response.content.decode()


def test_the_current_month_is_not_reported_before_it_ends(june, client, settings):
    from django.utils import timezone

    today = timezone.localdate()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the English source text
    client.force_login(factories.user(Role.MANAGER))
    url = reverse("tracker:monthly_report", kwargs={"month": today.strftime("%Y-%m")})
    response = client.get(url)
    assert response.status_code == 404
    assert "once the month has ended" in response.content.decode()


def test_a_month_is_reportable_from_the_day_after_its_last_day():
    factories.project(signed_on=D(2022, 3, 1))
    with pytest.raises(assembly.ReportMonthError):
        assembly.check_month(2022, 6, today=D(2022, 6, 30))  # its own last day
    assert assembly.check_month(2022, 6, today=D(2022, 7, 1)) == D(2022, 6, 30)
    assert (2022, 6) not in assembly.reportable_months(today=D(2022, 6, 30))
    assert assembly.reportable_months(today=D(2022, 7, 1))[0] == (2022, 6)


@pytest.mark.parametrize(("today", "status"), [(D(2022, 6, 30), 404), (D(2022, 7, 1), 200)])
def test_the_report_page_opens_the_day_after_the_months_last_day(
    client, monkeypatch, today, status
):
    factories.project(signed_on=D(2022, 3, 1))
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *a, **k: today)
    client.force_login(factories.user(Role.MANAGER))
    response = client.get(reverse("tracker:monthly_report", kwargs={"month": "2022-06"}))
    assert response.status_code == status


def test_the_index_lists_months_from_the_first_signing_with_their_versions(june, client):
    manager = factories.user(Role.MANAGER)
    publish_monthly_report(year=2022, month=6, by=manager)
    client.force_login(factories.user(Role.CHAIN_OFFICE))
    body = client.get(reverse("tracker:report_index")).content.decode()
    assert 'data-month="2021-12"' in body  # p6 was signed in December 2021
    assert 'data-month="2021-11"' not in body
    assert reverse("tracker:monthly_report_version", kwargs={"month": "2022-06", "version": 1}) in (
        body
    )


# --- publishing --------------------------------------------------------------------------------
def test_a_manager_publishes_frozen_json_as_version_1(june):
    manager = factories.user(Role.MANAGER)
    report = publish_monthly_report(year=2022, month=6, by=manager)
    assert (report.version, report.reason, report.published_by) == (1, "", manager)
    report.refresh_from_db()
    assert report.data["as_of"] == "2022-06-30"
    assert report.data["city"]["ytd_amount"] == "160000.00"
    assert rate(report.data["city"], "funds")["value"] == "5.63"


def test_published_texts_are_in_the_official_language_whatever_the_ui_language(june):
    from django.utils import translation

    with translation.override("en"):
        live = compute_report(year=2022, month=6)
        report = publish_monthly_report(year=2022, month=6, by=factories.user(Role.MANAGER))
    assert live["warnings"][0]["light_label"] == "red"
    assert report.data["warnings"][0]["light_label"] == "红灯"
    assert {w["stage"] for w in report.data["warnings"]} <= {"签约", "开工"}


def test_republishing_needs_a_reason_and_keeps_the_old_version(june):
    manager = factories.user(Role.MANAGER)
    publish_monthly_report(year=2022, month=6, by=manager)
    with pytest.raises(ValidationError) as error:
        publish_monthly_report(year=2022, month=6, by=manager, reason="   ")
    assert "reason" in error.value.message_dict
    v2 = publish_monthly_report(year=2022, month=6, by=manager, reason="更正袁州区数据")
    assert v2.version == 2
    assert list(MonthlyReport.objects.values_list("version", flat=True).order_by("version")) == [
        1,
        2,
    ]


def test_only_managers_publish(june):
    for role in (Role.COUNTY, Role.COMMISSIONER, Role.CHAIN_OFFICE):
        with pytest.raises(PermissionDenied):
            publish_monthly_report(year=2022, month=6, by=factories.user(role))
    assert not MonthlyReport.objects.exists()


def test_a_concurrent_publish_of_the_same_number_takes_the_next_one(june, monkeypatch):
    manager = factories.user(Role.MANAGER)
    publish_monthly_report(year=2022, month=6, by=manager)
    stale = iter([0])  # the first read misses version 1, published meanwhile
    real = publishing.latest_version
    monkeypatch.setattr(publishing, "latest_version", lambda y, m: next(stale, None) or real(y, m))
    report = publish_monthly_report(year=2022, month=6, by=manager, reason="第二次发布")
    assert report.version == 2
    assert MonthlyReport.objects.count() == 2


def test_a_concurrent_first_publish_without_reason_is_refused_clearly(june, monkeypatch):
    manager = factories.user(Role.MANAGER)
    publish_monthly_report(year=2022, month=6, by=manager)
    stale = iter([0])
    real = publishing.latest_version
    monkeypatch.setattr(publishing, "latest_version", lambda y, m: next(stale, None) or real(y, m))
    with pytest.raises(ValidationError) as error:
        publish_monthly_report(year=2022, month=6, by=manager)
    assert "reason" in error.value.message_dict
    assert MonthlyReport.objects.count() == 1


def test_a_publish_that_keeps_colliding_is_refused_clearly(june, monkeypatch):
    manager = factories.user(Role.MANAGER)
    publish_monthly_report(year=2022, month=6, by=manager)
    monkeypatch.setattr(publishing, "latest_version", lambda y, m: 0)  # always stale
    with pytest.raises(ValidationError) as error:
        publish_monthly_report(year=2022, month=6, by=manager, reason="重发")
    with translation.override("en"):  # the source text, whatever the catalogue holds
        assert "try again" in str(error.value)
    assert MonthlyReport.objects.count() == 1


def test_a_reason_longer_than_the_field_is_refused(june):
    manager = factories.user(Role.MANAGER)
    publish_monthly_report(year=2022, month=6, by=manager)
    with pytest.raises(ValidationError) as error:
        publish_monthly_report(year=2022, month=6, by=manager, reason="长" * 501)
    assert "reason" in error.value.message_dict
    assert MonthlyReport.objects.count() == 1


def test_publish_view_redirects_to_the_new_version(june, client):
    client.force_login(factories.user(Role.MANAGER))
    url = reverse("tracker:monthly_report_publish", kwargs={"month": "2022-06"})
    response = client.post(url, {"reason": "", "version": 1, "confirm": "yes"})
    version_url = reverse(
        "tracker:monthly_report_version", kwargs={"month": "2022-06", "version": 1}
    )
    # Publishing runs as a background job: its page, then (once a worker ran it) the version.
    assert response.status_code == 302
    assert not MonthlyReport.objects.exists()
    run_queued_jobs()
    response = client.get(response["Location"])
    assert response.status_code == 302
    assert response["Location"] == version_url
    page = client.get(version_url)
    assert page.status_code == 200
    assert 'id="version-label"' in page.content.decode()


def test_republish_view_without_reason_shows_the_error_and_creates_nothing(june, client):
    manager = factories.user(Role.MANAGER)
    publish_monthly_report(year=2022, month=6, by=manager)
    client.force_login(manager)
    url = reverse("tracker:monthly_report_publish", kwargs={"month": "2022-06"})
    response = client.post(url, {"reason": "", "version": 2, "confirm": "yes"})
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="error-reason"' in body
    from django.utils.html import escape

    assert escape(str(publishing.REASON_REQUIRED)) in body
    assert MonthlyReport.objects.count() == 1
    response = client.post(url, {"reason": "补报数据后重发", "version": 2, "confirm": "yes"})
    assert response.status_code == 302
    run_queued_jobs()  # the background job publishing it
    assert MonthlyReport.objects.get(version=2).reason == "补报数据后重发"
    v1 = reverse("tracker:monthly_report_version", kwargs={"month": "2022-06", "version": 1})
    assert client.get(v1).status_code == 200


@pytest.mark.parametrize("role", [Role.COUNTY, Role.COMMISSIONER, Role.CHAIN_OFFICE])
def test_non_manager_post_is_403_and_nothing_is_created(june, client, role):
    client.force_login(factories.user(role))
    url = reverse("tracker:monthly_report_publish", kwargs={"month": "2022-06"})
    assert client.post(url, {"reason": "x", "version": 1, "confirm": "yes"}).status_code == 403
    assert not MonthlyReport.objects.exists()
    body = client.get(
        reverse("tracker:monthly_report", kwargs={"month": "2022-06"})
    ).content.decode()
    assert 'id="publish"' not in body


@pytest.mark.parametrize("role", [Role.COUNTY, Role.COMMISSIONER, Role.CHAIN_OFFICE])
def test_every_role_reads_the_city_wide_report(june, client, role):
    published_version_kwargs(june["p3"])
    client.force_login(factories.user(role))
    for route, kwargs in (
        ("report_index", {}),
        ("monthly_report", {"month": "2022-06"}),
        ("monthly_report_version", {"month": "2022-06", "version": 1}),
    ):
        assert client.get(reverse(f"tracker:{route}", kwargs=kwargs)).status_code == 200


# --- the red/yellow list in the reader's scope (issue 3) -------------------------------------
@pytest.fixture
def readers(june):
    """June's three lit projects (六号 red and 八号 yellow in 甲链, 九号 red in 乙链) and a
    reader of each scope; v1 of June is published (by a manager)."""
    other_chain = june["p3"].chain
    nine = factories.project(
        name="九号",
        region=june["empty"],
        chain=other_chain,
        signed_on=D(2022, 2, 1),
        planned_start_on=D(2022, 3, 1),
    )
    commissioner = factories.user(Role.COMMISSIONER)
    Project.objects.filter(pk=june["p8"].pk).update(commissioner=commissioner)
    publish_monthly_report(year=2022, month=6, by=factories.user(Role.MANAGER))
    codes = {name: Project.objects.get(name=name).code for name in ("六号", "八号", "九号")}
    return {
        "codes": codes,
        "nine": nine,
        "manager": factories.user(Role.MANAGER),
        "county": factories.user(Role.COUNTY, region=june["empty"]),
        "commissioner": commissioner,
        "chain": factories.user(Role.CHAIN_OFFICE, chain=other_chain),
    }


REPORT_PAGES = [
    ("monthly_report", {"month": "2022-06"}),
    ("monthly_report_version", {"month": "2022-06", "version": 1}),
]
# Who sees which of the three lit projects: managers and county staff all of them.
SEES = {
    "manager": {"六号", "八号", "九号"},
    "county": {"六号", "八号", "九号"},
    "commissioner": {"八号"},  # the one project assigned to them
    "chain": {"九号"},  # the one lit project of their chain
}


def _listed(page):
    section = re.search(
        r'<section class="report-section" id="report-warnings">.*?</section>', page, re.S
    ).group(0)
    return set(re.findall(r"<strong>[^<]*</strong> ([^<]+)<", section))


@pytest.mark.parametrize(("route", "kwargs"), REPORT_PAGES)
@pytest.mark.parametrize("who", sorted(SEES))
def test_the_red_yellow_list_shows_only_the_readers_projects(readers, client, route, kwargs, who):
    client.force_login(readers[who])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the English source text
    page = article(client.get(reverse(f"tracker:{route}", kwargs=kwargs)))
    assert _listed(page) == SEES[who]
    hidden = 3 - len(SEES[who])
    if hidden:
        assert f"{hidden} projects outside your scope are not listed." in page
    else:
        assert 'id="warnings-hidden"' not in page
    # The city-wide figures stay: every reader sees the same tables and light counts.
    assert 'id="city-red">2<' in page and 'id="city-yellow">1<' in page
    for name in {"六号", "八号", "九号"} - SEES[who]:
        assert name not in page and readers["codes"][name] not in page


@pytest.mark.parametrize(("route", "kwargs"), REPORT_PAGES)
@pytest.mark.parametrize("who", sorted(SEES))
def test_the_xlsx_red_yellow_sheet_shows_only_the_readers_projects(
    readers, client, route, kwargs, who
):
    client.force_login(readers[who])
    response = client.get(reverse(f"tracker:{route}", kwargs=kwargs), {"export": "xlsx"})
    workbook = load_workbook(io.BytesIO(response.content))
    rows = list(workbook["红黄灯项目"].iter_rows(min_row=FIRST_DATA_ROW, values_only=True))
    listed = {row[2] for row in rows if row[1]}
    assert listed == SEES[who]
    hidden = 3 - len(SEES[who])
    notes = [row[0] for row in rows if not row[1]]
    assert notes == ([f"另有{hidden}个项目不在您的查看范围内，未列出。"] if hidden else [])
    totals = [c.value for c in workbook["县市区"][workbook["县市区"].max_row]]
    assert totals[-2:] == [2, 1]  # the city's red and yellow counts are city-wide


def test_the_frozen_json_keeps_the_whole_list_whoever_reads_it(readers, client):
    client.force_login(readers["chain"])
    url = reverse("tracker:monthly_report_version", kwargs={"month": "2022-06", "version": 1})
    assert client.get(url).status_code == 200
    data = MonthlyReport.objects.get(year=2022, month=6, version=1).data
    assert {w["name"] for w in data["warnings"]} == {"六号", "八号", "九号"}
    assert "warnings_hidden" not in data


@pytest.mark.parametrize("who", ["manager", "county", "chain"])
def test_the_scope_filter_costs_one_query_at_most(readers, client, who):
    """One query on projects: the listed rows' pks (their links), within the reader's scope."""
    expected = 1
    url = reverse("tracker:monthly_report_version", kwargs={"month": "2022-06", "version": 1})
    client.force_login(readers[who])
    client.get(url)  # warm caches
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    assert sum('"tracker_project"' in q["sql"] for q in ctx.captured_queries) == expected


def test_an_unpublished_version_is_404(june, client):
    client.force_login(factories.user(Role.MANAGER))
    url = reverse("tracker:monthly_report_version", kwargs={"month": "2022-06", "version": 3})
    response = client.get(url)
    assert response.status_code == 404
    assert 'id="report-missing"' in response.content.decode()


def test_a_published_version_stays_byte_for_byte_the_same_after_the_data_change(june, client):
    manager = factories.user(Role.MANAGER)
    publish_monthly_report(year=2022, month=6, by=manager)
    client.force_login(manager)
    url = reverse("tracker:monthly_report_version", kwargs={"month": "2022-06", "version": 1})
    live_url = reverse("tracker:monthly_report", kwargs={"month": "2022-06"})
    page, xlsx = article(client.get(url)), client.get(url, {"export": "xlsx"}).content
    live_before = article(client.get(live_url))

    # Rewrite June's history, its dispatches, names and add a project signed in June.
    StageChange.objects.filter(project=june["p2"]).exclude(to_stage=Stage.SIGNED).delete()
    WeeklyDispatch.objects.filter(project=june["p1"]).update(completed_investment=Decimal(1))
    june["region"].name = "改名县"
    june["region"].save()
    factories.project(region=june["empty"], signed_on=D(2022, 6, 3), name="新增项目")

    assert article(client.get(url)) == page
    assert client.get(url, {"export": "xlsx"}).content == xlsx
    assert article(client.get(live_url)) != live_before  # the live report did move


# --- XLSX --------------------------------------------------------------------------------------
def test_xlsx_has_a_sheet_per_table_chinese_headers_and_numbers(june, client):
    client.force_login(factories.user(Role.MANAGER))
    url = reverse("tracker:monthly_report", kwargs={"month": "2022-06"})
    response = client.get(url, {"export": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["县市区", "产业链", "红黄灯项目", "指标说明"]
    regions = workbook["县市区"]
    header = [c.value for c in regions[HEADER_ROW]]
    assert header[:3] == ["排名", "名称", "本月签约项目数"]
    assert "履约率" in header and "问题办结率" in header
    row = next(r for r in regions.iter_rows(min_row=FIRST_DATA_ROW) if r[1].value == "甲县")
    cells = dict(zip(header, row, strict=True))
    assert cells["年累计签约项目数"].value == 6
    assert cells["年累计签约金额(万元)"].value == 160000
    assert cells["履约率"].value == pytest.approx(0.5)
    assert cells["履约率"].number_format == "0.00%"
    assert cells["资金到位率"].value == pytest.approx(0.0563)
    assert cells["履约率较上月(百分点)"].value == 10
    empty = next(r for r in regions.iter_rows(min_row=FIRST_DATA_ROW) if r[1].value == "空县")
    assert dict(zip(header, empty, strict=True))["履约率"].value is None
    warnings = workbook["红黄灯项目"]
    assert [c.value for c in warnings[HEADER_ROW]][:3] == ["灯色", "项目编号", "项目名称"]
    assert warnings.max_row == HEADER_ROW + 2  # the two start lights (2022 is a past year)
    definitions = workbook["指标说明"]
    assert [c.value for c in definitions[HEADER_ROW]] == ["指标", "分子", "分母"]
    assert definitions.max_row >= HEADER_ROW + len(RATES)


def test_xlsx_of_the_same_data_and_time_is_the_same_bytes(june):
    data = compute_report(year=2022, month=6)
    moment = datetime.datetime(2022, 7, 1, 9, 0, tzinfo=datetime.UTC)
    assert report_xlsx(data, timestamp=moment) == report_xlsx(data, timestamp=moment)


# --- query counts ------------------------------------------------------------------------------
def _book(n):
    regions = [factories.region(sort_order=i) for i in range(3)]
    chains = [factories.chain() for _ in range(2)]
    for i in range(n):
        signed_on = D(2022, 1 + i % 5, 3)
        project = factories.project(
            region=regions[i % 3],
            chain=chains[i % 2],
            signed_on=signed_on,
            history=[(Stage.STARTED, D(2022, 6, 1))] if i % 2 else [],
            planned_start_on=signed_on + datetime.timedelta(days=20),
            annual_planned_investment=Decimal(1000),
        )
        factories.dispatch(project, iso_week=24, completed_investment=Decimal(100))
    return factories.user(Role.MANAGER)


def _count(client, url, **params):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(ctx)


@pytest.mark.parametrize("export", [False, True])
def test_report_queries_do_not_grow_with_the_number_of_projects(client, export):
    url = reverse("tracker:monthly_report", kwargs={"month": "2022-06"})
    params = {"export": "xlsx"} if export else {}
    client.force_login(_book(5))
    small = _count(client, url, **params)
    client.force_login(_book(45))
    large = _count(client, url, **params)
    assert small == large
    assert large <= 20


def test_published_version_page_is_a_few_queries(june, client):
    manager = factories.user(Role.MANAGER)
    publish_monthly_report(year=2022, month=6, by=manager)
    client.force_login(manager)
    url = reverse("tracker:monthly_report_version", kwargs={"month": "2022-06", "version": 1})
    # The page: session, user, the version, its siblings, their publishers' names (one
    # query for all, User.display_by_id) and the red/yellow rows' project links.
    assert _count(client, url) <= 6
    assert _count(client, url, export="xlsx") <= 3


def test_the_ranking_order_is_a_setting(settings):
    from django.core.exceptions import ImproperlyConfigured

    from tracker.reports.rates import ranking_keys, ranking_text

    assert ranking_keys() == ["start", "funds", "performance"]
    settings.TRACKER = {**settings.TRACKER, "REPORT_RANKING": ["production", "start"]}
    with translation.override("en"):
        assert ranking_text().startswith("Ranked regions are ordered by production rate")
    settings.TRACKER = {**settings.TRACKER, "REPORT_RANKING": ["nonsense"]}
    with pytest.raises(ImproperlyConfigured):
        ranking_keys()
