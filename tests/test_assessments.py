"""年考核: scores against hand-computed cases, "no data", weights validation, adjustments,
ranking and ties, awards, scope of every assessment route, invalid years, query counts,
XLSX export."""

import datetime
import io
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from tests import factories
from tracker import assessments
from tracker.assessments import INDICATORS, compute_assessment, ensure_default_weights
from tracker.choices import ProblemStatus, Role, Stage
from tracker.models import (
    AssessmentAdjustment,
    AssessmentWeight,
    ChangeLog,
    MissingDispatch,
    Problem,
    WeeklyDispatch,
)
from tracker.spreadsheets import HEADER_ROW

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client, settings):
    """Pages in the English source text, whatever the translation catalogue holds."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


# Routes whose scope is tested here rather than by test_scope's generic walk: the index
# redirects, and the weights and adjustment pages are for managers only (403).
OWN_SCOPE_TESTS = {"assessment_index", "assessment_weights", "assessment_adjust"}

TODAY = datetime.date(2023, 6, 1)
D = Decimal


@pytest.fixture
def case():
    """Two ranked regions and an unranked one; hand-computed in the test below.

    A: 30 亿 (5020, leading chain, started 2022) + 10 亿 (not started); invested 5 亿 in 2022;
       one report, on time.
    B: 20 亿 (5020, started and in production in 2022); invested 2 亿; one report, late.
    C (not ranked): 100 亿, ignored.
    """
    lithium = factories.chain(name="锂电", is_leading=True)
    other = factories.chain(name="医药")
    a = factories.region(name="甲县", code="a", sort_order=1)
    b = factories.region(name="乙县", code="b", sort_order=2)
    c = factories.region(name="特色区", code="c", sort_order=3, ranked_in_assessment=False)
    signed = datetime.date(2022, 3, 1)
    a1 = factories.project(
        region=a,
        chain=lithium,
        signed_on=signed,
        signed_amount=D("300000"),
        history=[(Stage.STARTED, datetime.date(2022, 6, 1))],
    )
    factories.project(region=a, chain=other, signed_on=signed, signed_amount=D("100000"))
    b1 = factories.project(
        region=b,
        chain=other,
        signed_on=signed,
        signed_amount=D("200000"),
        history=[
            (Stage.STARTED, datetime.date(2022, 4, 1)),
            (Stage.PRODUCTION, datetime.date(2022, 11, 1)),
        ],
    )
    factories.project(region=c, chain=lithium, signed_on=signed, signed_amount=D("1000000"))
    factories.dispatch(a1, iso_year=2022, iso_week=50, completed_investment=D("50000"))
    factories.dispatch(
        b1, iso_year=2022, iso_week=50, completed_investment=D("20000"), is_late=True
    )
    return {"a": a, "b": b, "c": c, "a1": a1, "b1": b1, "lithium": lithium}


def row_of(result, region):
    return next(r for r in result.rows if r.region == region)


def cells(row):
    return {c.indicator.key: (c.value, c.points) for c in row.cells}


def test_default_weights_sum_to_100_and_are_created_once():
    assert sum(i.default_weight for i in INDICATORS) == 100
    rows = ensure_default_weights(2022)
    assert sum(w.weight for w in rows) == 100
    assert ensure_default_weights(2022) and AssessmentWeight.objects.filter(year=2022).count() == 7


def test_scores_match_the_hand_computed_case(case):
    result = compute_assessment(2022, today=TODAY)
    assert [r.region for r in result.rows] == [case["a"], case["b"]]  # C is not ranked
    a, b = row_of(result, case["a"]), row_of(result, case["b"])
    assert cells(a)["signed_amount"] == (D(40), D(25))
    assert cells(b)["signed_amount"] == (D(20), D("12.5"))
    assert cells(a)["count_5020"] == (D(1), D(15))
    assert cells(a)["start_rate"] == (D(50), D("7.5"))
    assert cells(b)["start_rate"] == (D(100), D(15))
    assert cells(a)["production_rate"] == (D(0), D(0))
    assert cells(b)["production_rate"] == (D(100), D(10))
    assert cells(a)["completed_investment"] == (D(5), D(15))
    assert cells(b)["completed_investment"] == (D(2), D(6))
    # The report's dispatch rate over the year's weeks: A's two projects (signed Tuesday
    # 1 March, ISO week 9) were due weeks 9–52, 88 reports, one on time; B's was due weeks
    # 9–44 (in production from 1 November, in week 44), its one report late.
    assert cells(a)["dispatch_timeliness"] == (D("1.14"), D(10))
    assert cells(b)["dispatch_timeliness"] == (D(0), D(0))
    # No problems anywhere: the indicator is left out, the other 90 points scaled to 100.
    assert cells(a)["problem_resolution"] == (None, None)
    assert a.computed == D("80.56")  # 72.5 × 100 / 90
    assert b.computed == D("65.00")  # 58.5 × 100 / 90
    assert (a.rank, b.rank) == (1, 2)


def test_the_production_rate_counts_production_not_construction_completed(case):
    factories.project(
        region=case["a"],
        chain=case["lithium"],
        signed_on=datetime.date(2022, 3, 1),
        signed_amount=D("50000"),
        history=[
            (Stage.STARTED, datetime.date(2022, 4, 1)),
            (Stage.COMPLETED, datetime.date(2022, 10, 1)),  # 竣工, never 投产
        ],
    )
    result = compute_assessment(2022, today=TODAY)
    a, b = row_of(result, case["a"]), row_of(result, case["b"])
    # A: three projects signed in 2022, none in production; B: b1 in production, 1 of 1.
    assert cells(a)["production_rate"] == (D(0), D(0))
    assert cells(b)["production_rate"] == (D(100), D(10))
    assert cells(a)["start_rate"][0] == D("66.67")  # a1 and the completed one started


def test_a_region_without_problems_is_neither_rewarded_nor_punished(case):
    user = factories.user(Role.MANAGER)

    def problem(status, **kw):
        return Problem.objects.create(
            chain=case["lithium"],
            region=case["a"],
            title="用地",
            raised_by=user,
            raised_on=datetime.date(2022, 5, 1),
            status=status,
            assigned_unit="自然资源局" if status != ProblemStatus.RAISED else "",
            deadline=datetime.date(2022, 6, 1) if status != ProblemStatus.RAISED else None,
            **kw,
        )

    problem(ProblemStatus.RESOLVED, resolved_on=datetime.date(2022, 5, 20))
    problem(ProblemStatus.ASSIGNED)
    # Resolved only after the year's end: not resolved in 2022.
    problem(ProblemStatus.CLOSED, resolved_on=datetime.date(2023, 1, 5), closed_on=TODAY)
    result = compute_assessment(2022, today=TODAY)
    a, b = row_of(result, case["a"]), row_of(result, case["b"])
    value, points = cells(a)["problem_resolution"]
    assert value.quantize(D("0.01")) == D("33.33") and points == D(10)  # the best region
    assert a.computed == D("82.50")  # 72.5 + 10, out of the full 100
    assert cells(b)["problem_resolution"] == (None, None)
    assert b.computed == D("65.00")  # unchanged: scaled over its 90 points of data


def test_yearly_dispatch_timeliness_against_a_hand_computed_case(case):
    """The report's 报送及时率 over the weeks whose Friday deadline falls in the year."""
    region = factories.region(name="丙县", code="d", sort_order=4)
    chain = case["lithium"]
    # Signed Sunday 3 July (week 26, which ends that day): due weeks 26–52 = 27.
    july = factories.project(region=region, chain=chain, signed_on=datetime.date(2022, 7, 3))
    # Signed in 2021, terminated Wednesday 9 March (week 10): due weeks 1–10 = 10.
    ended = factories.project(
        region=region,
        chain=chain,
        signed_on=datetime.date(2021, 6, 1),
        history=[(Stage.TERMINATED, datetime.date(2022, 3, 9))],
    )
    # Signed Monday 19 December (week 51): due weeks 51–52 = 2.
    late = factories.project(region=region, chain=chain, signed_on=datetime.date(2022, 12, 19))
    for week in (26, 30, 52):
        factories.dispatch(july, iso_year=2022, iso_week=week, completed_investment=D(1))
    factories.dispatch(july, iso_year=2022, iso_week=31, completed_investment=D(1), is_late=True)
    factories.dispatch(july, iso_year=2021, iso_week=52, completed_investment=D(0))  # not 2022
    factories.dispatch(ended, iso_year=2022, iso_week=10, completed_investment=D(0))
    factories.dispatch(ended, iso_year=2022, iso_week=11, completed_investment=D(0))  # not due
    factories.dispatch(late, iso_year=2022, iso_week=51, completed_investment=D(0))
    factories.dispatch(late, iso_year=2023, iso_week=1, completed_investment=D(0))  # 2023
    # A missing-week flag is only a reminder: the due weeks come from the history.
    MissingDispatch.objects.create(project=late, iso_year=2022, iso_week=52)
    values = assessments.indicator_values(2022, [region.pk], as_of=datetime.date(2022, 12, 31))
    # On time: 3 + 1 + 1 = 5 of 27 + 10 + 2 = 39 → 12.82 %.
    assert values[region.pk]["dispatch_timeliness"] == D("12.82")
    # While 2022 runs (as of Wednesday 6 July: Fridays up to 1 July, weeks 1–26): July's
    # project is due week 26 only, the terminated one weeks 1–10: 2 of 11.
    values = assessments.indicator_values(2022, [region.pk], as_of=datetime.date(2022, 7, 6))
    assert values[region.pk]["dispatch_timeliness"] == D("18.18")


def test_only_the_stages_and_dispatches_of_the_year_count(case):
    # Started in 2023: still not started in 2022's assessment.
    a2 = case["a"].projects.exclude(pk=case["a1"].pk).get()
    a2.stage_changes.create(from_stage=Stage.SIGNED, to_stage=Stage.STARTED, effective_on=TODAY)
    # 2023's investment and a 2021 baseline for B.
    factories.dispatch(case["a1"], iso_year=2023, iso_week=10, completed_investment=D("90000"))
    WeeklyDispatch.objects.create(
        project=case["b1"],
        iso_year=2021,
        iso_week=52,
        stage=Stage.SIGNED,
        completed_investment=D("5000"),
    )
    result = compute_assessment(2022, today=TODAY)
    a, b = row_of(result, case["a"]), row_of(result, case["b"])
    assert cells(a)["start_rate"][0] == D(50)
    assert cells(a)["completed_investment"][0] == D(5)
    assert cells(b)["completed_investment"][0] == D("1.5")  # 2.0 − 0.5 baseline
    result_2023 = compute_assessment(2023, today=TODAY)
    assert cells(row_of(result_2023, case["a"]))["completed_investment"][0] == D(4)


def test_weights_come_from_the_year(case):
    manager = factories.user(Role.MANAGER)
    values = {i.key: D(0) for i in INDICATORS}
    values["production_rate"] = D(100)
    assessments.set_weights(year=2022, values=values, by=manager)
    result = compute_assessment(2022, today=TODAY)
    assert row_of(result, case["b"]).computed == D(100)
    assert row_of(result, case["a"]).computed == D(0)
    assert (row_of(result, case["b"]).rank, row_of(result, case["a"]).rank) == (1, 2)
    # 2021 keeps the defaults.
    assert all(w.pk is None for w in assessments.weights_for(2021))


# --- adjustments, ranking, awards ------------------------------------------------------------


def test_adjustments_add_to_the_computed_score_and_can_change_the_ranking(case):
    manager = factories.user(Role.MANAGER)
    assessments.add_adjustment(
        year=2022, region=case["b"], points=D("10"), reason="超额完成", by=manager
    )
    assessments.add_adjustment(
        year=2022, region=case["b"], points=D("6"), reason="专项奖励", by=manager
    )
    result = compute_assessment(2022, today=TODAY)
    b = row_of(result, case["b"])
    assert (b.computed, b.adjustment_total, b.final) == (D("65.00"), D(16), D("81.00"))
    assert [r.region for r in result.rows] == [case["b"], case["a"]]
    assert [len(r.adjustments) for r in result.rows] == [2, 0]
    assert ChangeLog.objects.filter(content_type__model="assessmentadjustment").count() == 2


def test_equal_final_scores_share_a_rank_listed_by_computed_score(case):
    manager = factories.user(Role.MANAGER)
    assessments.add_adjustment(
        year=2022, region=case["b"], points=D("15.56"), reason="并列", by=manager
    )
    result = compute_assessment(2022, today=TODAY)
    assert [(r.region, r.rank, r.final) for r in result.rows] == [
        (case["a"], 1, D("80.56")),
        (case["b"], 1, D("80.56")),
    ]


def test_an_adjustment_needs_a_reason(case):
    manager = factories.user(Role.MANAGER)
    with pytest.raises(assessments.ValidationError):
        assessments.add_adjustment(
            year=2022, region=case["a"], points=D(3), reason="  ", by=manager
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        AssessmentAdjustment.objects.create(
            year=2022, region=case["a"], points=D(3), reason="", adjusted_by=manager
        )
    assert not AssessmentAdjustment.objects.exists()


def test_an_unranked_region_cannot_be_adjusted(case):
    with pytest.raises(assessments.ValidationError):
        assessments.add_adjustment(
            year=2022, region=case["c"], points=D(3), reason="x", by=factories.user(Role.MANAGER)
        )


def test_awards_top_n_and_leading_chain(case, settings):
    result = compute_assessment(2022, today=TODAY)
    awards = {award["key"]: regions for award, regions in result.awards}
    assert awards["overall"] == [case["a"], case["b"]]  # top 3 of two regions
    assert awards["leading"] == [case["a"]]  # the only ranked region with lithium
    assert row_of(result, case["a"]).awards == [
        "工业发展综合先进县(市、区)",
        "首位产业发展先进县(市、区)",
    ]

    settings.TRACKER = {**settings.TRACKER, "ASSESSMENT_TOP_N": 1}
    result = compute_assessment(2022, today=TODAY)
    awards = {award["key"]: regions for award, regions in result.awards}
    assert awards["overall"] == [case["a"]]

    settings.TRACKER = {
        **settings.TRACKER,
        "ASSESSMENT_AWARDS": [{"key": "x", "name": "最佳", "rule": "overall", "top": 2}],
    }
    result = compute_assessment(2022, today=TODAY)
    assert [(a["name"], regions) for a, regions in result.awards] == [
        ("最佳", [case["a"], case["b"]])
    ]


def test_ties_at_the_award_boundary_all_win(case, settings):
    settings.TRACKER = {**settings.TRACKER, "ASSESSMENT_TOP_N": 1}
    assessments.add_adjustment(
        year=2022,
        region=case["b"],
        points=D("15.56"),
        reason="并列",
        by=factories.user(Role.MANAGER),
    )
    result = compute_assessment(2022, today=TODAY)
    awards = {award["key"]: regions for award, regions in result.awards}
    assert awards["overall"] == [case["a"], case["b"]]


# --- weights validation ----------------------------------------------------------------------


def weights_post(**changes):
    data = {i.key: str(i.default_weight) for i in INDICATORS}
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"signed_amount": "30"}, "they must add up to 100"),
        ({"signed_amount": "101", "count_5020": "-61"}, "100"),
        ({"signed_amount": "abc"}, "number"),
    ],
)
def test_weights_page_refuses_invalid_weights_and_saves_nothing(client, case, changes, message):
    client.force_login(factories.user(Role.MANAGER))
    ensure_default_weights(2022)
    before = list(AssessmentWeight.objects.values_list("key", "weight"))
    response = client.post(
        reverse("tracker:assessment_weights", args=[2022]), weights_post(**changes)
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert list(AssessmentWeight.objects.values_list("key", "weight")) == before


def test_set_weights_refuses_a_total_other_than_100(case):
    manager = factories.user(Role.MANAGER)
    with pytest.raises(assessments.ValidationError):
        assessments.set_weights(year=2022, values={"signed_amount": D(30)}, by=manager)
    assert sum(w.weight for w in assessments.weights_for(2022)) == 100
    assert not AssessmentWeight.objects.filter(year=2022, weight=30).exists()


def test_weights_page_saves_valid_weights_with_history(client, case):
    client.force_login(factories.user(Role.MANAGER))
    response = client.post(
        reverse("tracker:assessment_weights", args=[2022]),
        weights_post(signed_amount="30", count_5020="10"),
    )
    assert response.status_code == 302
    saved = dict(AssessmentWeight.objects.filter(year=2022).values_list("key", "weight"))
    assert (saved["signed_amount"], saved["count_5020"]) == (D(30), D(10))
    assert sum(saved.values()) == 100
    weights = ChangeLog.objects.filter(content_type__model="assessmentweight")
    assert weights.filter(action="update").count() == 2
    assert weights.filter(action="create").count() == len(INDICATORS), "defaults created"


def test_adjust_page_requires_a_reason(client, case):
    client.force_login(factories.user(Role.MANAGER))
    url = reverse("tracker:assessment_adjust", args=[2022])
    response = client.post(url, {"region": case["a"].pk, "points": "3", "reason": ""})
    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    assert not AssessmentAdjustment.objects.exists()
    response = client.post(url, {"region": case["a"].pk, "points": "-2.5", "reason": "数据差错"})
    assert response.status_code == 302
    body = client.get(reverse("tracker:assessment_year", args=[2022])).content.decode()
    assert "数据差错" in body and "-2.50" in body


# --- scope, years ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.COUNTY, Role.COMMISSIONER, Role.CHAIN_OFFICE])
def test_other_roles_read_the_assessment_but_cannot_edit(client, case, role):
    client.force_login(factories.user(role))
    assert client.get(reverse("tracker:assessment_year", args=[2022])).status_code == 200
    ensure_default_weights(2022)
    before = (
        list(AssessmentWeight.objects.values_list("key", "weight")),
        AssessmentAdjustment.objects.count(),
        ChangeLog.objects.count(),
    )
    weights = reverse("tracker:assessment_weights", args=[2022])
    adjust = reverse("tracker:assessment_adjust", args=[2022])
    assert client.get(weights).status_code == 403
    assert client.post(weights, weights_post(signed_amount="35", count_5020="5")).status_code == 403
    assert client.get(adjust).status_code == 403
    response = client.post(adjust, {"region": case["a"].pk, "points": "9", "reason": "x"})
    assert response.status_code == 403
    assert (
        list(AssessmentWeight.objects.values_list("key", "weight")),
        AssessmentAdjustment.objects.count(),
        ChangeLog.objects.count(),
    ) == before
    body = client.get(reverse("tracker:assessment_year", args=[2022])).content.decode()
    assert "edit-weights" not in body


@pytest.mark.parametrize("year", [1999, 2021, 2999])
def test_years_without_an_assessment_are_404_with_the_reason(client, case, year):
    client.force_login(factories.user(Role.MANAGER))
    for name in ("assessment_year", "assessment_weights", "assessment_adjust"):
        response = client.get(reverse(f"tracker:{name}", args=[year]))
        assert response.status_code == 404
        assert "missing-message" in response.content.decode()


def test_index_redirects_to_the_latest_year_with_data(client, case):
    client.force_login(factories.user(Role.COUNTY))
    response = client.get(reverse("tracker:assessment_index"))
    assert response.status_code == 302
    assert response["Location"] == reverse("tracker:assessment_year", args=[2022])


def test_index_without_any_project_says_so(client):
    client.force_login(factories.user(Role.MANAGER))
    response = client.get(reverse("tracker:assessment_index"))
    assert response.status_code == 200
    assert "missing-message" in response.content.decode()


# --- query counts, export --------------------------------------------------------------------


def grow(n_regions, n_projects):
    chain = factories.chain()
    for _ in range(n_regions):
        region = factories.region()
        for k in range(n_projects):
            p = factories.project(
                region=region,
                chain=chain,
                signed_amount=D(10000 * (k + 1)),
                history=[(Stage.STARTED, datetime.date(2022, 5, 1))],
            )
            factories.dispatch(p, iso_year=2022, iso_week=30, completed_investment=D(100))


def test_query_count_does_not_grow_with_projects_or_regions(client, case):
    client.force_login(factories.user(Role.MANAGER))
    url = reverse("tracker:assessment_year", args=[2022])
    client.get(url)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
            compute_assessment(2022, today=TODAY)
        return len(ctx.captured_queries)

    small = count()
    grow(4, 6)
    assert count() == small


def test_xlsx_export_has_numbers_as_numbers(client, case):
    from openpyxl import load_workbook

    client.force_login(factories.user(Role.COUNTY, region=case["a"]))
    response = client.get(reverse("tracker:assessment_year", args=[2022]), {"export": "xlsx"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(min_row=HEADER_ROW, values_only=True))
    assert len(rows) == 3
    first = rows[1]
    assert first[0] == 1 and first[1] == "甲县"
    assert first[2] == 40  # signed amount, 亿元, stored as a number
    assert isinstance(first[-2], float) and abs(first[-2] - 80.56) < 1e-9


# --- one definition of the rates: the monthly report's -----------------------------------------


def test_the_december_report_and_the_assessment_give_the_same_rates(case):
    """Start, production and problems: the December report's year-to-date rates per region
    are the assessment's (as of 31 December). Terminated projects and problems closed without
    a status of resolved are counted alike by both."""
    from tracker.reports.assembly import compute_report

    manager = factories.user(Role.MANAGER)
    terminated = factories.project(
        region=case["b"],
        chain=case["lithium"],
        signed_on=datetime.date(2022, 2, 1),
        history=[
            (Stage.STARTED, datetime.date(2022, 3, 1)),
            (Stage.TERMINATED, datetime.date(2022, 9, 1)),
        ],
    )
    for raised, resolved, status in (
        (datetime.date(2022, 2, 1), datetime.date(2022, 4, 1), ProblemStatus.RESOLVED),
        (datetime.date(2022, 5, 1), None, ProblemStatus.ASSIGNED),
        (datetime.date(2022, 11, 1), datetime.date(2023, 1, 3), ProblemStatus.RESOLVED),
        (datetime.date(2021, 12, 1), datetime.date(2022, 1, 3), ProblemStatus.RESOLVED),
    ):
        Problem.objects.create(
            chain=case["lithium"],
            region=case["b"],
            project=terminated,
            title="用地",
            raised_by=manager,
            raised_on=raised,
            status=status,
            assigned_unit="自然资源局",
            deadline=raised + datetime.timedelta(days=30),
            resolved_on=resolved,
        )
    report = compute_report(year=2022, month=12)
    result = compute_assessment(2022, today=TODAY)
    pairs = {
        "start_rate": "start",
        "production_rate": "production",
        "problem_resolution": "problems",
    }
    for region in (case["a"], case["b"]):
        report_row = next(r for r in report["regions"] if r["name"] == region.name)
        report_rates = {r["key"]: r["value"] for r in report_row["rates"]}
        values = cells(row_of(result, region))
        for indicator, rate_key in pairs.items():
            expected = report_rates[rate_key]
            assert values[indicator][0] == (None if expected is None else D(expected)), (
                region.name,
                indicator,
            )
    b = cells(row_of(result, case["b"]))
    # B: b1 started and in production, the terminated project not counted as started: 1 of 2.
    assert (b["start_rate"][0], b["production_rate"][0]) == (D(50), D(50))
    # B's problems raised in 2022: three; resolved by 31 December: one.
    assert b["problem_resolution"][0] == D("33.33")


def test_the_page_defines_the_shared_rates_with_the_reports_texts(client, case):
    from tracker.reports.rates import RATES_BY_KEY

    client.force_login(factories.user(Role.COUNTY))
    body = client.get(reverse("tracker:assessment_year", args=[2022])).content.decode()
    method = body.split('id="method"')[1]
    for indicator in INDICATORS:
        item = method.split(f'data-indicator="{indicator.key}"')[1].split("</li>")[0]
        if indicator.rate_key:
            rate = RATES_BY_KEY[indicator.rate_key]
            assert escape(str(rate.numerator_text)) in item
            assert escape(str(rate.denominator_text)) in item
        else:
            assert escape(str(indicator.definition)) in item
    assert escape(str(assessments.YEAR_PERIOD_TEXT)) in method
