"""The domain model: constraints, credit codes, stage transitions, as-of-date counts."""

import datetime
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import override_settings
from django.utils import translation

from tests import factories
from tracker.choices import CapitalSource, Role, Stage, Tier5020
from tracker.lights import annotate_lights
from tracker.models import (
    AnnualIndicator,
    ChangeLog,
    Enterprise,
    Project,
    StageChange,
    User,
    WeeklyDispatch,
)
from tracker.reports.rates import AsOf, rate_rows
from tracker.rules import allowed_targets, stage_before_stall, stage_transition_error
from tracker.validators import credit_code_check_char, validate_credit_code

pytestmark = pytest.mark.django_db

# Published codes of real companies, hard-coded. Each check character was recomputed by hand
# (GB 32100-2015: weights 3**i mod 31, check = 31 − Σ mod 31, 31 → 0) outside this code base,
# and the embedded organisation code's own GB 11714 check digit was verified too. The list
# covers every class of check character: a digit, a letter, 0 (Σ mod 31 = 0) and Y (= 1).
REAL_VALID_CODES = {
    "914403001922038216": "华为技术有限公司",  # digit 6 (Σ = 831, mod 31 = 25)
    "91350900587527783P": "宁德时代新能源科技股份有限公司",  # letter P (Σ = 1558, mod 8)
    "91440300192317458F": "比亚迪股份有限公司",  # letter F (Σ = 1194, mod 16)
    "91440300708461136T": "深圳市腾讯计算机系统有限公司",  # letter T (Σ = 966, mod 5)
    "91330100716105852F": "阿里巴巴(中国)网络技术有限公司",  # letter F (Σ = 884, mod 16)
    "913700001675754710": "通裕重工股份有限公司",  # 0 (Σ = 1116 = 36 × 31)
    "914200001775644500": "三环集团有限公司",  # 0 (Σ = 899 = 29 × 31)
    "91340000610400837Y": "马鞍山钢铁股份有限公司",  # Y (Σ = 714, mod 31 = 1)
}
CHECK_CLASSES = {
    "digit": "914403001922038216",
    "letter": "91350900587527783P",
    "zero": "913700001675754710",
    "Y": "91340000610400837Y",
}
CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100-2015, table 1


# --- credit code (GB 32100-2015) ------------------------------------------------------
@pytest.mark.parametrize("code", REAL_VALID_CODES)
def test_real_credit_codes_are_accepted(code):
    validate_credit_code(code)
    validate_credit_code(code.lower())  # typed in lower case is the same code
    validate_credit_code(f" {code} ")  # pasted with spaces around it


@pytest.mark.parametrize("code", REAL_VALID_CODES)
def test_the_check_character_is_the_published_one(code):
    assert credit_code_check_char(code[:17]) == code[17]


def test_the_published_codes_cover_every_class_of_check_character():
    last = {name: code[17] for name, code in CHECK_CLASSES.items()}
    assert last["digit"] in "123456789"
    assert last["letter"].isalpha() and last["letter"] != "Y"
    assert (last["zero"], last["Y"]) == ("0", "Y")


@pytest.mark.parametrize("code", CHECK_CLASSES.values())
def test_every_other_check_character_is_refused_and_the_right_one_named(code):
    for other in CREDIT_CODE_CHARSET.replace(code[17], ""):
        with translation.override("en"):
            with pytest.raises(ValidationError) as info:
                validate_credit_code(code[:17] + other)
            message = str(info.value.messages[0])
        assert "check character" in message
        assert f"should be {code[17]})" in message


@pytest.mark.parametrize(
    ("code", "message_part"),
    [
        ("91440300708461136X", "check character"),  # last character altered
        ("91440300708461163T", "check character"),  # two digits swapped
        ("91340000610400873Y", "check character"),  # two digits swapped, Y kept
        ("913700001675754711", "check character"),  # 0 → 1
        ("9144030070846113", "18 characters"),  # too short
        ("91440300708461136", "18 characters"),  # 17: the check character left out
        ("91440300708461136TT", "18 characters"),  # too long
        ("", "18 characters"),
        ("9144030070846I136T", "capital letters"),  # I is not allowed
        ("91440300708461136O", "capital letters"),  # O is not allowed
        ("9144030070846Z136T", "capital letters"),  # Z is not allowed
        ("9144030070846S136T", "capital letters"),  # S is not allowed
        ("9144030070846V136T", "capital letters"),  # V is not allowed
        ("91350900587527783S", "capital letters"),  # a forbidden letter as check character
        ("9135090058752778-P", "capital letters"),
        ("91AB0300708461136T", "region code"),
    ],
)
def test_wrong_credit_codes_are_refused_with_a_reason(code, message_part):
    with translation.override("en"):
        with pytest.raises(ValidationError) as info:
            validate_credit_code(code)
        assert message_part in str(info.value.messages[0])


def test_enterprise_full_clean_refuses_a_wrong_code():
    region = factories.region()
    enterprise = Enterprise(name="错误代码企业", credit_code="91440300708461136X", region=region)
    with pytest.raises(ValidationError) as info:
        enterprise.full_clean()
    assert "credit_code" in info.value.message_dict


def test_database_refuses_malformed_credit_code():
    region = factories.region()
    with pytest.raises(IntegrityError), transaction.atomic():
        Enterprise.objects.create(name="小写企业", credit_code="abc", region=region)


def test_two_enterprises_may_lack_a_code_but_not_share_one():
    region = factories.region()
    Enterprise.objects.create(name="未注册甲", credit_code="", region=region)
    Enterprise.objects.create(name="未注册乙", credit_code="", region=region)
    Enterprise.objects.create(name="甲公司", credit_code=CHECK_CLASSES["letter"], region=region)
    with pytest.raises(IntegrityError), transaction.atomic():
        Enterprise.objects.create(name="乙公司", credit_code=CHECK_CLASSES["letter"], region=region)


# --- single-row constraints -------------------------------------------------------------
def _bad_project_rows():
    day = datetime.date(2022, 5, 1)
    return {
        "negative signed amount": {"signed_amount": Decimal("-1")},
        "negative annual plan": {"annual_planned_investment": Decimal("-0.01")},
        "negative completed": {"completed_investment": Decimal("-5")},
        "start before signing": {"actual_start_on": day - datetime.timedelta(days=1)},
        "production before start": {
            "actual_start_on": day + datetime.timedelta(days=10),
            "actual_production_on": day + datetime.timedelta(days=5),
        },
        "production without start": {"actual_production_on": day + datetime.timedelta(days=5)},
        "planned start before signing": {"planned_start_on": day - datetime.timedelta(days=3)},
        "planned production before planned start": {
            "planned_start_on": day + datetime.timedelta(days=30),
            "planned_production_on": day + datetime.timedelta(days=20),
        },
        "unknown stage": {"stage": "flying"},
        "version zero": {"version": 0},
    }


@pytest.mark.parametrize("case", list(_bad_project_rows()))
def test_database_refuses_each_bad_project_row(case):
    good = factories.project(signed_on=datetime.date(2022, 5, 1))
    values = _bad_project_rows()[case]
    with pytest.raises(IntegrityError), transaction.atomic():
        Project.objects.filter(pk=good.pk).update(**values)
    good.refresh_from_db()
    assert good.signed_amount == Decimal("50000")


@pytest.mark.parametrize("case", [c for c in _bad_project_rows() if c != "version zero"])
def test_full_clean_explains_each_bad_project_row_in_words(case):
    project = factories.project(signed_on=datetime.date(2022, 5, 1))
    for field, value in _bad_project_rows()[case].items():
        setattr(project, field, value)
    with pytest.raises(ValidationError) as info:
        project.full_clean()
    text = " ".join(info.value.messages)
    assert text and "constraint" not in text.lower()


def test_completed_investment_far_above_the_signed_amount_is_explained():
    project = factories.project(signed_amount=Decimal("10000"))
    project.completed_investment = Decimal("15001")  # default ratio 1.5
    with pytest.raises(ValidationError) as info:
        project.full_clean()
    assert "completed_investment" in info.value.message_dict
    project.completed_investment = Decimal("15000")
    project.full_clean()


def test_park_must_be_in_the_projects_region():
    project = factories.project()
    project.park = factories.park()  # in another region
    with pytest.raises(ValidationError) as info:
        project.full_clean()
    assert "park" in info.value.message_dict


def test_future_actual_dates_are_refused():
    project = factories.project(signed_on=datetime.date(2022, 1, 10))
    project.actual_start_on = datetime.date.today() + datetime.timedelta(days=40)  # noqa: DTZ011
    with pytest.raises(ValidationError) as info:
        project.full_clean()
    assert "actual_start_on" in info.value.message_dict


def test_user_roles_need_their_scope():
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="nowhere", role=Role.COUNTY)
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="nochain", role=Role.CHAIN_OFFICE)


def test_stage_change_must_change_something():
    project = factories.project()
    with pytest.raises(IntegrityError), transaction.atomic():
        StageChange.objects.create(
            project=project,
            from_stage=Stage.SIGNED,
            to_stage=Stage.SIGNED,
            effective_on=project.signed_on,
        )


def test_indicator_constraints():
    AnnualIndicator.objects.create(year=2022, key="revenue", name="营业收入")
    with pytest.raises(IntegrityError), transaction.atomic():
        AnnualIndicator.objects.create(year=2022, key="revenue", name="重复")
    with pytest.raises(IntegrityError), transaction.atomic():
        AnnualIndicator.objects.create(year=1999, key="old", name="太早")
    with pytest.raises(IntegrityError), transaction.atomic():
        AnnualIndicator.objects.create(year=2022, key="rank", name="排名", provincial_rank=0)


# --- dispatch: one per project and ISO week ----------------------------------------------
def test_one_dispatch_per_project_week():
    project = factories.project()
    factories.dispatch(project, iso_year=2022, iso_week=10)
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.dispatch(project, iso_year=2022, iso_week=10)
    factories.dispatch(project, iso_year=2022, iso_week=11)
    assert WeeklyDispatch.objects.filter(project=project).count() == 2


@pytest.mark.parametrize("week", [0, 54])
def test_dispatch_week_out_of_range_is_refused(week):
    project = factories.project()
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.dispatch(project, iso_year=2022, iso_week=week)


def test_dispatch_clean_refuses_week_53_of_a_52_week_year():
    project = factories.project()
    dispatch = WeeklyDispatch(
        project=project, iso_year=2022, iso_week=53, stage=Stage.SIGNED, completed_investment=0
    )
    with pytest.raises(ValidationError) as info:
        dispatch.full_clean()
    assert "iso_week" in info.value.message_dict
    dispatch.iso_year = 2020  # 2020 has 53 ISO weeks
    dispatch.full_clean()
    assert dispatch.week_start == datetime.date(2020, 12, 28)


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_dispatch_inserts_leave_one_row():
    """Two connections insert the same project-week at once: the database keeps one."""
    project = factories.project()
    barrier = threading.Barrier(2)
    outcomes = []

    def insert():
        try:
            barrier.wait(timeout=10)
            with transaction.atomic():
                factories.dispatch(project, iso_year=2022, iso_week=20)
            outcomes.append("inserted")
        except IntegrityError:
            outcomes.append("refused")
        except Exception as exc:  # SQLite may report a lock instead; that is also a refusal
            outcomes.append(f"refused: {type(exc).__name__}")
        finally:
            connection.close()

    threads = [threading.Thread(target=insert) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(o.split(":")[0] for o in outcomes) == ["inserted", "refused"]
    assert WeeklyDispatch.objects.filter(project=project, iso_year=2022, iso_week=20).count() == 1


# --- derived classification -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("amount", "source", "tier", "billion"),
    [
        ("9999.99", CapitalSource.DOMESTIC, Tier5020.NONE, False),
        ("10000", CapitalSource.DOMESTIC, Tier5020.NONE, True),
        ("199999.99", CapitalSource.DOMESTIC, Tier5020.NONE, True),
        ("200000", CapitalSource.DOMESTIC, Tier5020.TIER_20, True),
        ("500000", CapitalSource.DOMESTIC, Tier5020.TIER_50, True),
        ("200000", CapitalSource.MIXED, Tier5020.TIER_20, True),
        ("200000", CapitalSource.FOREIGN, Tier5020.NONE, True),  # 30,000 万美元 × 7 = 210,000
        ("210000", CapitalSource.FOREIGN, Tier5020.TIER_20, True),
        ("490000", CapitalSource.FOREIGN, Tier5020.TIER_50, True),
    ],
)
def test_5020_tier_and_billion_flag_are_derived_in_python_and_sql(amount, source, tier, billion):
    project = factories.project(signed_amount=Decimal(amount), capital_source=source)
    assert project.tier_5020 == tier
    assert project.is_billion is billion
    annotated = Project.objects.with_tiers().get(pk=project.pk)
    assert annotated.tier_5020_value == tier
    assert annotated.is_billion_value is billion
    assert Project.objects.in_tier(tier).filter(pk=project.pk).exists()
    assert Project.objects.is_5020().filter(pk=project.pk).exists() is (tier != Tier5020.NONE)


def test_5020_thresholds_come_from_settings():
    project = factories.project(signed_amount=Decimal("150000"))
    assert project.tier_5020 == Tier5020.NONE
    conf = {
        "TIER_5020_DOMESTIC": (Decimal("100000"), Decimal("400000")),
        "TIER_5020_FOREIGN_USD": (Decimal("30000"), Decimal("70000")),
        "USD_CNY": Decimal("7"),
        "BILLION_THRESHOLD": Decimal("10000"),
    }
    from django.conf import settings

    with override_settings(TRACKER={**settings.TRACKER, **conf}):
        assert project.tier_5020 == Tier5020.TIER_20
        assert Project.objects.is_5020().filter(pk=project.pk).exists()


def test_totals_aggregate_in_one_query(django_assert_num_queries):
    for amount in ("5000", "20000", "250000", "600000"):
        factories.project(signed_amount=Decimal(amount))
    with django_assert_num_queries(1):
        totals = Project.objects.totals()
    assert totals == {
        "count": 4,
        "amount": Decimal("875000"),
        "count_5020": 2,
        "count_billion": 3,
    }


# --- stage transitions ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("current", "target", "manager", "allowed"),
    [
        (Stage.SIGNED, Stage.REGISTERED, False, True),
        (Stage.REGISTERED, Stage.STARTED, False, True),  # 零地招商: land step skipped
        (Stage.STARTED, Stage.PRODUCTION, False, True),
        (Stage.STARTED, Stage.LAND, False, False),  # back needs a manager
        (Stage.STARTED, Stage.LAND, True, True),
        (Stage.STARTED, Stage.STALLED, False, False),
        (Stage.STARTED, Stage.STALLED, True, True),
        (Stage.STARTED, Stage.TERMINATED, False, False),
        (Stage.TERMINATED, Stage.STARTED, False, False),
        (Stage.TERMINATED, Stage.STARTED, True, True),
        (Stage.PRODUCTION, Stage.PRODUCTION, True, False),
    ],
)
def test_transition_rules(current, target, manager, allowed):
    error = stage_transition_error(current=current, target=target, override=manager)
    assert (error is None) is allowed


def test_stalled_project_resumes_forward_only_for_staff():
    assert (
        stage_transition_error(
            current=Stage.STALLED,
            target=Stage.STARTED,
            override=False,
            resume_stage=Stage.STARTED,
        )
        is None
    )
    assert stage_transition_error(
        current=Stage.STALLED, target=Stage.LAND, override=False, resume_stage=Stage.STARTED
    )
    assert Stage.LAND not in allowed_targets(
        current=Stage.STALLED, override=False, resume_stage=Stage.STARTED
    )


def test_stage_before_stall_is_the_latest_main_line_change(django_assert_num_queries):
    d = datetime.date
    project = factories.project(
        history=[
            (Stage.LAND, d(2022, 4, 1)),
            (Stage.STARTED, d(2022, 6, 1)),
            (Stage.STALLED, d(2022, 6, 1)),  # same day, recorded after the start
            (Stage.TERMINATED, d(2022, 8, 1)),
        ]
    )
    assert project.stage_before_stall() == Stage.STARTED
    prefetched = Project.objects.prefetch_related("stage_changes").get(pk=project.pk)
    changes = list(reversed(project.stage_changes.all()))  # the order given does not matter
    with django_assert_num_queries(0):  # a fetched list, as the dispatch sheet passes
        assert prefetched.stage_before_stall() == Stage.STARTED
        assert stage_before_stall(changes) == Stage.STARTED
    assert stage_before_stall([]) is None


def test_advance_to_records_the_change_with_date_and_user():
    staff = factories.user(Role.COUNTY)
    project = factories.project(signed_on=datetime.date(2022, 2, 1), region=staff.region)
    project.advance_to(Stage.REGISTERED, on=datetime.date(2022, 3, 1), by=staff)
    project.advance_to(Stage.STARTED, on=datetime.date(2022, 6, 15), by=staff)
    project.refresh_from_db()
    assert project.stage == Stage.STARTED
    assert project.actual_start_on == datetime.date(2022, 6, 15)
    assert project.version == 3
    changes = list(project.stage_changes.values_list("from_stage", "to_stage", "changed_by"))
    assert changes == [
        ("", Stage.SIGNED, None),
        (Stage.SIGNED, Stage.REGISTERED, staff.pk),
        (Stage.REGISTERED, Stage.STARTED, staff.pk),
    ]
    logged = ChangeLog.objects.filter(object_id=project.pk, field="stage")
    assert logged.count() == 2 and all(row.changed_by == staff for row in logged)


def test_advance_to_refuses_and_saves_nothing():
    staff = factories.user(Role.COUNTY)
    project = factories.project(
        history=[(Stage.STARTED, datetime.date(2022, 4, 1))], region=staff.region
    )
    before = (
        project.stage,
        project.version,
        StageChange.objects.count(),
        ChangeLog.objects.count(),
    )
    for target, on in [
        (Stage.LAND, datetime.date(2022, 5, 1)),  # backwards by staff
        (Stage.STALLED, datetime.date(2022, 5, 1)),  # side state by staff
        (Stage.COMPLETED, datetime.date(2022, 3, 1)),  # before the last change
        (Stage.COMPLETED, datetime.date(2022, 1, 1)),  # before signing
        (Stage.COMPLETED, datetime.date.today() + datetime.timedelta(days=2)),  # noqa: DTZ011
    ]:
        with pytest.raises(ValidationError):
            project.advance_to(target, on=on, by=staff)
    project.refresh_from_db()
    after = (project.stage, project.version, StageChange.objects.count(), ChangeLog.objects.count())
    assert after == before


def test_two_stage_changes_on_the_same_day_are_allowed_and_kept_in_order():
    staff = factories.user(Role.COUNTY)
    day = datetime.date(2022, 4, 1)
    project = factories.project(
        signed_on=datetime.date(2022, 3, 1),
        history=[(Stage.REGISTERED, day)],
        region=staff.region,
    )
    project.advance_to(Stage.LAND, on=day, by=staff)  # the same day as the last change
    project.advance_to(Stage.STARTED, on=day, by=staff)  # and once more
    project.refresh_from_db()
    assert (project.stage, project.actual_start_on) == (Stage.STARTED, day)
    changes = list(project.stage_changes.values_list("to_stage", "effective_on"))
    assert changes[1:] == [(Stage.REGISTERED, day), (Stage.LAND, day), (Stage.STARTED, day)]


def test_a_stage_change_dated_a_day_before_the_last_one_is_refused():
    staff = factories.user(Role.COUNTY)
    project = factories.project(
        signed_on=datetime.date(2022, 3, 1),
        history=[(Stage.REGISTERED, datetime.date(2022, 4, 1))],
        region=staff.region,
    )
    with translation.override("en"), pytest.raises(ValidationError) as info:
        project.advance_to(Stage.LAND, on=datetime.date(2022, 3, 31), by=staff)
    assert "before the last stage change (2022-04-01)" in info.value.message_dict["stage"][0]
    project.refresh_from_db()
    assert project.stage == Stage.REGISTERED
    assert project.stage_changes.count() == 2


def test_manager_may_stall_and_staff_may_resume():
    manager = factories.user(Role.MANAGER)
    staff = factories.user(Role.COUNTY)
    project = factories.project(history=[(Stage.STARTED, datetime.date(2022, 4, 1))])
    project.advance_to(Stage.STALLED, on=datetime.date(2022, 7, 1), by=manager)
    with pytest.raises(ValidationError):
        project.advance_to(Stage.LAND, on=datetime.date(2022, 8, 1), by=staff)
    project.advance_to(Stage.STARTED, on=datetime.date(2022, 8, 1), by=staff)
    project.refresh_from_db()
    assert project.stage == Stage.STARTED
    assert project.actual_start_on == datetime.date(2022, 4, 1)  # first start is kept


# --- as-of-date answers ------------------------------------------------------------------
def test_started_by_a_date_uses_the_effective_dates():
    d = datetime.date
    factories.project(history=[(Stage.STARTED, d(2022, 6, 30))])  # started on the day
    factories.project(history=[(Stage.STARTED, d(2022, 7, 1))])  # a day too late
    factories.project(
        history=[(Stage.STARTED, d(2022, 3, 1)), (Stage.STALLED, d(2022, 5, 1))]
    )  # started, then stalled: it had started
    factories.project(history=[(Stage.REGISTERED, d(2022, 4, 1))])
    factories.project(
        signed_on=d(2021, 5, 1), history=[(Stage.PRODUCTION, d(2021, 12, 1))]
    )  # earlier year
    started = Project.objects.signed_in(2022).started_by(d(2022, 6, 30))
    assert started.count() == 2
    assert Project.objects.started_by(d(2022, 6, 30)).count() == 3
    assert Project.objects.signed_in(2022).started_by(d(2022, 12, 31)).count() == 3


def test_stage_as_of_reads_the_history_not_the_current_stage():
    d = datetime.date
    project = factories.project(
        history=[
            (Stage.REGISTERED, d(2022, 4, 1)),
            (Stage.STARTED, d(2022, 7, 15)),
            (Stage.PRODUCTION, d(2023, 3, 1)),
        ]
    )

    def as_of(day):
        return Project.objects.with_stage_as_of(day).get(pk=project.pk).stage_as_of

    assert as_of(d(2022, 2, 28)) is None  # before signing
    assert as_of(d(2022, 3, 1)) == Stage.SIGNED
    assert as_of(d(2022, 6, 30)) == Stage.REGISTERED
    assert as_of(d(2022, 7, 15)) == Stage.STARTED
    assert as_of(d(2022, 12, 31)) == Stage.STARTED
    assert as_of(d(2023, 3, 1)) == Stage.PRODUCTION


def test_stage_as_of_is_one_rule_for_the_queryset_the_lights_and_the_report():
    """Two changes effective on the same day: the later recorded one is in force that day,
    in ``with_stage_as_of``, the lights (``lights_stage``) and the monthly report alike."""
    d = datetime.date
    project = factories.project(
        history=[(Stage.STARTED, d(2022, 6, 30)), (Stage.STALLED, d(2022, 6, 30))]
    )  # the stall recorded after the start, effective the same day

    def three_ways(day):
        qs = Project.objects.filter(pk=project.pk)
        return (
            qs.with_stage_as_of(day).get().stage_as_of,
            annotate_lights(qs, today=day).get().lights_stage,
            rate_rows(AsOf(day)).get(pk=project.pk).report_stage,
        )

    assert three_ways(d(2022, 6, 29)) == (Stage.SIGNED,) * 3
    assert three_ways(d(2022, 6, 30)) == (Stage.STALLED,) * 3
    assert Project.objects.reached_by(Stage.STARTED, d(2022, 6, 30)).filter(pk=project.pk).exists()
    assert not Project.objects.reached_by(Stage.STARTED, d(2022, 6, 29)).exists()


def test_moving_back_clears_the_dates_of_the_stages_left():
    manager = factories.user(Role.MANAGER)
    d = datetime.date
    project = factories.project(
        history=[(Stage.STARTED, d(2022, 4, 1)), (Stage.PRODUCTION, d(2022, 9, 1))]
    )
    project.advance_to(Stage.COMPLETED, on=d(2022, 9, 5), by=manager, note="投产登记有误")
    project.refresh_from_db()
    assert (project.actual_start_on, project.actual_production_on) == (d(2022, 4, 1), None)
    project.advance_to(Stage.LAND, on=d(2022, 9, 6), by=manager)
    project.refresh_from_db()
    assert (project.actual_start_on, project.actual_production_on) == (None, None)
    project.advance_to(Stage.STALLED, on=d(2022, 9, 7), by=manager)  # a side state keeps them
    project.advance_to(Stage.STARTED, on=d(2022, 10, 1), by=manager)
    project.refresh_from_db()
    assert project.actual_start_on == d(2022, 10, 1)
