"""The seed: the published 2022 figures, plausible spread, consistent history, idempotence.

The seed is loaded once for the module (inside a transaction rolled back at the end), with a
fixed load date so that nothing depends on the clock; each test runs in a savepoint.
"""

import csv
import datetime
import hashlib
import importlib.util
import itertools
import time
from collections import defaultdict
from decimal import Decimal
from io import StringIO
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.db.models import Count, F, Sum
from django.test import override_settings

from tracker.choices import CapitalSource, RegionKind, Role, Stage
from tracker.models import (
    AnnualIndicator,
    AssessmentAdjustment,
    ChainLeader,
    Enterprise,
    IndustryChain,
    Inspection,
    MonthlyReport,
    Park,
    Problem,
    ProblemEvent,
    Project,
    Region,
    StageChange,
    User,
    WeeklyDispatch,
)
from tracker.validators import validate_credit_code

pytestmark = pytest.mark.django_db

LOAD_DAY = "2026-11-30"  # a Monday: the last full ISO week is 2026-W48 (23–29 November)
LAST_WEEK_END = datetime.date(2026, 11, 29)
OTHER_DAY = "2023-03-01"
TZ = ZoneInfo("Asia/Shanghai")
LITHIUM_REGIONS = {"etdz", "yifeng", "fengxin", "yuanzhou", "wanzai", "shanggao", "gaoan"}
DEMO = {
    "admin": (True, True, ""),
    "manager": (False, True, Role.MANAGER),
    "yuanzhou": (False, False, Role.COUNTY),
    "zhangshu": (False, False, Role.COUNTY),
    "tepaiyuan": (False, False, Role.COMMISSIONER),
    "lidian": (False, False, Role.CHAIN_OFFICE),
}


def seed(*args, debug=True):
    out = StringIO()
    with override_settings(DEBUG=debug):
        call_command("seed", *args, stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        started = time.monotonic()
        output = seed("--today", LOAD_DAY)
        seconds = time.monotonic() - started
        print(f"\nseed --today {LOAD_DAY}: {seconds:.1f} s")  # shown with pytest -s
        yield SimpleNamespace(output=output, seconds=seconds)
        transaction.set_rollback(True)


def fingerprint():
    """Row count and a checksum of every value of every tracker and auth table."""
    models = [*apps.get_app_config("tracker").get_models(), Group]
    result = {}
    for model in models:
        fields = [f.attname for f in model._meta.concrete_fields]
        rows = list(model.objects.order_by("pk").values_list(*fields))
        result[model._meta.label] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    for through in (
        IndustryChain.anchor_enterprises.through,
        Group.permissions.through,
        User.groups.through,
    ):
        rows = sorted(through.objects.values_list(*[f.attname for f in through._meta.fields]))
        result[through._meta.label] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    return result


def clear_review_cycle():
    """The review cycle's rows point at projects and users with protected keys: remove
    them before a test deletes the book or the accounts to load it again."""
    for model in (Inspection, Problem, MonthlyReport, AssessmentAdjustment):
        model.objects.all().delete()


def rows_of_2022():
    steps = list(
        StageChange.objects.filter(effective_on__year=2022)
        .order_by("project__code", "effective_on")
        .values_list("project__code", "from_stage", "to_stage", "effective_on", "recorded_at")
    )
    reports = list(
        WeeklyDispatch.objects.filter(iso_year=2022)
        .order_by("project__code", "iso_week")
        .values_list(
            "project__code",
            "iso_week",
            "stage",
            "completed_investment",
            "progress",
            "problems",
            "filed_at",
            "is_late",
        )
    )
    return steps, reports


# --- the published figures ---------------------------------------------------------------


def test_the_2022_book_has_the_published_figures(seeded):
    book = Project.objects.signed_in(2022)
    assert book.totals() == {
        "count": 338,
        "amount": Decimal("17961600"),
        "count_5020": 41,
        "count_billion": 298,
    }
    assert book.is_5020().count() == 41
    assert book.billion_or_more().count() == 298
    assert book.billion_or_more(False).count() == 40
    assert f"{Decimal('17961600') / 10000:.2f}" == "1796.16"
    assert "338 projects, 1796.16 亿元" in seeded.output
    assert '41 "5020" projects, 298 projects of ≥ 1 亿元' in seeded.output


def test_no_project_sits_near_a_threshold_that_could_move_the_figures(seeded):
    book = Project.objects.signed_in(2022)
    # The 5020 projects are domestic; foreign or mixed capital stays far below any tier.
    assert not book.is_5020().exclude(capital_source=CapitalSource.DOMESTIC).exists()
    assert (
        not book.exclude(capital_source=CapitalSource.DOMESTIC)
        .filter(signed_amount__gt=100_000)
        .exists()
    )
    assert not book.filter(signed_amount__gt=190_000, signed_amount__lt=200_000).exists()


def test_lithium_dominates_the_2022_book_by_amount(seeded):
    by_chain = dict(
        Project.objects.signed_in(2022)
        .values_list("chain__code")
        .annotate(amount=Sum("signed_amount"))
        .values_list("chain__code", "amount")
    )
    lithium = by_chain.pop("lithium")
    assert lithium > sum(by_chain.values())
    assert lithium > 2 * max(by_chain.values())


def test_every_region_has_2022_projects_and_chains_sit_where_domain_says(seeded):
    book = Project.objects.signed_in(2022)
    for region in Region.objects.all():
        assert book.filter(region=region).exists(), region
    lithium = set(book.filter(chain__code="lithium").values_list("region__code", flat=True))
    assert lithium <= LITHIUM_REGIONS

    def leader(chain):
        counts = defaultdict(int)
        for code in book.filter(chain__code=chain).values_list("region__code", flat=True):
            counts[code] += 1
        return max(counts, key=counts.get)

    assert leader("biomedicine") == "zhangshu"
    assert leader("building-materials") == "gaoan"
    for project in book.exclude(park=None).select_related("park"):
        assert project.park.region_id == project.region_id


def test_reference_data(seeded):
    assert Region.objects.count() == 13
    assert Region.objects.exclude(kind=RegionKind.SPECIAL).count() == 10
    assert Region.objects.filter(kind=RegionKind.SPECIAL).count() == 3
    ranked = set(Region.objects.filter(ranked_in_assessment=True).values_list("name", flat=True))
    assert len(ranked) == 11 and "宜春经济技术开发区" in ranked
    assert {"宜春经开区", "丰城高新区", "樟树工业园"} <= set(
        Park.objects.values_list("name", flat=True)
    )
    assert IndustryChain.objects.count() == 10
    assert set(IndustryChain.objects.filter(emerging=True).values_list("name", flat=True)) == {
        "锂电新能源",
        "生物医药",
        "电子信息",
        "先进装备制造",
    }
    lithium = IndustryChain.objects.get(is_leading=True)
    assert lithium.name == "锂电新能源"
    assert {e.name for e in lithium.anchor_enterprises.all()} == {
        "宜春时代（宁德时代）",
        "江西国轩（国轩高科）",
        "赣锋锂业",
        "比亚迪",
        "欣旺达",
    }
    for chain in IndustryChain.objects.all():
        assert chain.lead_unit.startswith("市")
        assert chain.leaders.filter(position="leader").exists()
    # Leaders by position only: every title is a post of the city (市…), no names.
    assert all(t.startswith("市") for t in ChainLeader.objects.values_list("title", flat=True))


def test_real_projects_are_marked_real_and_everything_else_sample(seeded):
    real = Project.objects.filter(is_sample=False)
    assert set(real.values_list("enterprise__name", "signed_amount")) == {
        ("宜春时代（宁德时代）", Decimal("5000000")),
        ("江西国轩（国轩高科）", Decimal("2300000")),
        ("赣锋锂业", Decimal("3000000")),
        ("比亚迪", Decimal("2850000")),
    }
    assert real.signed_in(2022).count() == 1
    assert all(
        n.startswith("示例")
        for n in Project.objects.filter(is_sample=True).values_list("name", flat=True)
    )
    sample_enterprises = Enterprise.objects.filter(is_sample=True)
    assert sample_enterprises.count() == 337
    assert all(n.startswith("示例") for n in sample_enterprises.values_list("name", flat=True))
    assert not Enterprise.objects.filter(is_sample=False).exclude(credit_code="").exists()
    codes = list(Project.objects.values_list("code", flat=True))
    assert len(codes) == len(set(codes)) == 341
    assert Project.objects.signed_in(2022).filter(code__startswith="YC2022-").count() == 338


def test_registered_enterprises_have_valid_unique_credit_codes_and_signed_ones_none(seeded):
    registered = set(
        StageChange.objects.filter(to_stage__in=Stage.reached(Stage.REGISTERED)).values_list(
            "project__enterprise_id", flat=True
        )
    )
    codes = []
    for enterprise in Enterprise.objects.filter(is_sample=True):
        if enterprise.pk in registered:
            validate_credit_code(enterprise.credit_code)
            assert enterprise.credit_code[2:6] == "3609"
            codes.append(enterprise.credit_code)
        else:
            assert enterprise.credit_code == ""
    assert len(codes) == len(set(codes)) > 300
    assert len(codes) < Enterprise.objects.filter(is_sample=True).count()  # a few never registered


def test_2022_indicators_are_data(seeded):
    indicators = {i.key: i for i in AnnualIndicator.objects.filter(year=2022)}
    revenue = indicators["revenue-above-scale"]
    assert (revenue.value, revenue.unit, revenue.growth) == (
        Decimal("5094.6"),
        "亿元",
        Decimal("8.8"),
    )
    assert indicators["value-added-above-scale"].growth == Decimal("9.0")
    assert indicators["value-added-above-scale"].provincial_rank == 2
    assert indicators["industrial-investment"].growth == Decimal("14")
    assert indicators["industrial-investment"].provincial_rank == 2
    assert indicators["profit-above-scale"].value == Decimal("555.2")
    assert indicators["emerging-share"].growth_unit == "个百分点"
    assert indicators["digital-revenue"].value == Decimal("1074.94")
    assert indicators["new-firms-contribution"].value == Decimal("34.2")
    assert all(i.source == "宜春市2022年工业发展综述" for i in indicators.values())
    totals = Project.objects.signed_in(2022).totals()
    assert indicators["signed-projects"].value == totals["count"]
    assert indicators["signed-amount"].value * 10000 == totals["amount"]
    assert indicators["signed-5020"].value == totals["count_5020"]
    assert indicators["signed-billion"].value == totals["count_billion"]


# --- history ---------------------------------------------------------------------------------


def test_history_is_consistent_with_every_project(seeded):
    steps = defaultdict(list)
    for project_id, *step in StageChange.objects.order_by(
        "project_id", "effective_on", "id"
    ).values_list("project_id", "from_stage", "to_stage", "effective_on"):
        steps[project_id].append(tuple(step))
    reports = defaultdict(list)
    for project_id, *report in WeeklyDispatch.objects.order_by(
        "project_id", "iso_year", "iso_week"
    ).values_list(
        "project_id", "iso_year", "iso_week", "stage", "completed_investment", "filed_at", "is_late"
    ):
        reports[project_id].append(tuple(report))
    assert sum(map(len, reports.values())) < 60_000

    for p in Project.objects.all():
        history = steps[p.pk]
        assert history[0] == ("", Stage.SIGNED, p.signed_on), p.code
        for before, after in itertools.pairwise(history):
            assert after[0] == before[1] and after[2] > before[2], p.code
        assert history[-1][1] == p.stage, p.code
        assert history[-1][2] <= LAST_WEEK_END
        started = [on for _f, to, on in history if to in Stage.reached(Stage.STARTED)]
        production = [on for _f, to, on in history if to == Stage.PRODUCTION]
        assert p.actual_start_on == (started[0] if started else None), p.code
        assert p.actual_production_on == (production[0] if production else None), p.code
        if p.planned_start_on:
            assert p.planned_start_on >= p.signed_on

        sheet = reports[p.pk]
        assert sheet, p.code
        assert p.completed_investment == sheet[-1][3]
        amounts = [r[3] for r in sheet]
        assert amounts == sorted(amounts) and amounts[-1] <= p.signed_amount, p.code
        monday = p.signed_on - datetime.timedelta(days=p.signed_on.weekday())
        assert sheet[0][:2] == tuple(monday.isocalendar())[:2], p.code
        for (y1, w1, *_), (y2, w2, *_) in itertools.pairwise(sheet):  # no gaps
            next_week = datetime.date.fromisocalendar(y1, w1, 1) + datetime.timedelta(days=7)
            assert (y2, w2) == tuple(next_week.isocalendar())[:2], p.code
        for year, week, stage, _amount, filed_at, is_late in sheet:
            local = filed_at.astimezone(TZ)
            assert local.isocalendar()[:2] == (year, week) and local.isoweekday() in (4, 5)
            due = datetime.datetime.combine(
                datetime.date.fromisocalendar(year, week, 5), datetime.time(18), TZ
            )
            assert is_late == (local > due)
            in_force = [to for _f, to, on in history if on <= local.date()][-1]
            assert stage == in_force, (p.code, year, week)
        last_week = datetime.date.fromisocalendar(*sheet[-1][:2], 7)
        if p.stage in (Stage.PRODUCTION, Stage.TERMINATED):  # reports stop with the project
            assert last_week - datetime.timedelta(days=6) <= history[-1][2] <= last_week
            assert sheet[-1][2] == p.stage
        else:  # and go on to the last full week before the load date
            assert last_week == LAST_WEEK_END


def test_every_month_of_2022_has_stage_changes_and_dispatches(seeded):
    step_months = {
        d.month
        for d in StageChange.objects.filter(effective_on__year=2022).dates("effective_on", "month")
    }
    filed = WeeklyDispatch.objects.filter(filed_at__year=2022).datetimes(
        "filed_at", "month", tzinfo=TZ
    )
    assert step_months == set(range(1, 13))
    assert {d.month for d in filed} == set(range(1, 13))
    assert WeeklyDispatch.objects.filter(iso_year=2022, is_late=True).exists()
    assert WeeklyDispatch.objects.filter(iso_year=2022).exclude(problems="").exists()


def test_the_2022_problem_ledger_gives_every_chain_a_resolution_rate(seeded):
    """Problems raised in 2022 (示例) against 2022 projects, handled over the year: the
    December report then has a problem-resolution rate for every chain."""
    raised = Problem.objects.filter(raised_on__year=2022)
    by_chain = dict(raised.values_list("chain__code").annotate(n=Count("pk")))
    assert set(by_chain) == set(IndustryChain.objects.values_list("code", flat=True))
    statuses = set(raised.values_list("status", flat=True))
    assert statuses == {"assigned", "resolved", "closed"}
    assert all(p.title.endswith("（示例）") for p in raised)
    assert all(p.project.signed_on <= p.raised_on for p in raised.select_related("project"))
    late = raised.filter(resolved_on__gt=F("deadline"))
    assert late.exists()  # some were resolved after their deadline
    assert not raised.filter(resolved_on__lt=F("raised_on")).exists()
    assert ProblemEvent.objects.filter(problem__in=raised, at__year=2022).count() >= 3 * len(
        by_chain
    )


def test_today_most_projects_produce_some_are_late_a_few_stalled_or_terminated(seeded):
    day = datetime.date.fromisoformat(LOAD_DAY)
    total = Project.objects.count()
    in_production = Project.objects.filter(stage=Stage.PRODUCTION).count()
    stalled = Project.objects.filter(stage=Stage.STALLED).count()
    terminated = Project.objects.filter(stage=Stage.TERMINATED).count()
    late = Project.objects.filter(
        stage__in=[Stage.STARTED, Stage.COMPLETED], planned_production_on__lt=day
    ).count()
    assert in_production > 0.8 * total
    assert 1 <= stalled <= 0.05 * total
    assert 1 <= terminated <= 0.05 * total
    assert late >= 3
    # Projects still being built carry an annual plan for the load date's year.
    building = Project.objects.filter(stage=Stage.STARTED)
    assert not building.filter(annual_planned_investment=0).exists()


def test_history_of_2022_does_not_depend_on_the_load_date(seeded):
    before = rows_of_2022()
    later = (StageChange.objects.count(), WeeklyDispatch.objects.count())
    clear_review_cycle()
    Project.objects.all().delete()  # dispatches and stage changes go with them
    Enterprise.objects.filter(is_sample=True).delete()
    seed("--today", OTHER_DAY, "--no-demo-users")
    assert rows_of_2022() == before
    assert len(before[0]) > 338 and len(before[1]) > 5000
    # The other load date really cut the history short.
    assert StageChange.objects.count() < later[0] and WeeklyDispatch.objects.count() < later[1]
    assert WeeklyDispatch.objects.order_by("-iso_year", "-iso_week").first().week_start == (
        datetime.date(2023, 2, 20)
    )


def test_a_later_load_date_only_adds_history(seeded):
    before = rows_of_2022()
    count = WeeklyDispatch.objects.count()
    active = Project.objects.exclude(stage__in=[Stage.PRODUCTION, Stage.TERMINATED]).count()
    seed("--today", "2026-12-14")  # two more full weeks: 2026-W49 and W50
    added = WeeklyDispatch.objects.count() - count
    assert active < added <= 2 * active
    assert not WeeklyDispatch.objects.filter(iso_year=2026, iso_week__gt=50).exists()
    assert rows_of_2022() == before


# --- idempotence ---------------------------------------------------------------------------


def test_loading_twice_changes_nothing(seeded):
    before = fingerprint()
    output = seed("--today", LOAD_DAY)
    assert fingerprint() == before
    assert "Created: nothing." in output and "Updated: nothing." in output


def test_an_earlier_load_date_after_a_later_one_cuts_nothing(seeded):
    before = fingerprint()
    output = seed("--today", OTHER_DAY)
    assert fingerprint() == before
    assert "already have history past this load date" in output


def test_a_project_changed_in_the_app_keeps_its_history(seeded):
    project = Project.objects.filter(stage=Stage.STARTED).order_by("code").first()
    Project.objects.filter(pk=project.pk).update(version=2)  # what an edit in the app does
    reports = project.dispatches.count()
    output = seed("--today", "2026-12-14")
    project.refresh_from_db()
    assert project.dispatches.count() == reports
    assert "1 project(s) changed in the app" in output


def test_skip_history_loads_the_book_at_its_signing_stage(seeded):
    clear_review_cycle()
    Project.objects.all().delete()
    Enterprise.objects.all().delete()
    User.objects.all().delete()
    seed("--today", LOAD_DAY, "--skip-history", "--no-demo-users", debug=False)
    assert Project.objects.signed_in(2022).totals()["count"] == 338
    assert not WeeklyDispatch.objects.exists()
    assert set(Project.objects.values_list("stage", flat=True)) == {Stage.SIGNED}
    assert StageChange.objects.count() == Project.objects.count()
    assert not Enterprise.objects.exclude(credit_code="").exists()
    assert not User.objects.exists()
    # A full load afterwards extends the same projects.
    seed("--today", LOAD_DAY, "--no-demo-users")
    assert Project.objects.filter(stage=Stage.PRODUCTION).count() > 300


# --- demo accounts and groups --------------------------------------------------------------


def test_demo_accounts_have_their_roles_and_the_demo_password(seeded):
    users = {u.username: u for u in User.objects.all()}
    assert set(users) == set(DEMO)
    for name, (superuser, staff, role) in DEMO.items():
        user = users[name]
        assert (user.is_superuser, user.is_staff, user.role) == (superuser, staff, role), name
        assert user.check_password(settings.DEMO_PASSWORD), name
        assert user.display_name and user.unit, name
        assert name in seeded.output
        assert user.display_name in seeded.output
    assert users["yuanzhou"].region.name == "袁州区"
    assert users["zhangshu"].region.name == "樟树市"
    assert users["lidian"].chain.name == "锂电新能源"
    assert 4 <= users["tepaiyuan"].commissioned_projects.count() <= 8
    groups = {u: set(users[u].groups.values_list("name", flat=True)) for u in DEMO}
    assert groups["manager"] == {"市工信局管理员"}
    assert groups["yuanzhou"] == groups["zhangshu"] == {"县市区工作人员"}
    assert groups["tepaiyuan"] == {"企业特派员"}
    assert groups["lidian"] == {"链长办"}
    assert settings.DEMO_PASSWORD in seeded.output


def test_a_second_load_keeps_a_changed_password(seeded):
    user = User.objects.get(username="yuanzhou")
    user.set_password("changed-by-the-user-2023")
    user.save()
    seed("--today", LOAD_DAY)
    user.refresh_from_db()
    assert user.check_password("changed-by-the-user-2023")
    assert not user.check_password(settings.DEMO_PASSWORD)


def test_demo_accounts_are_refused_when_debug_is_off(seeded):
    clear_review_cycle()
    User.objects.all().delete()
    before = fingerprint()
    with pytest.raises(CommandError, match="DEBUG is off"):
        seed("--today", "2026-12-14", debug=False)
    assert fingerprint() == before
    assert not User.objects.exists()


def test_the_load_date_must_leave_2022_behind(seeded):
    with pytest.raises(CommandError, match="2023-01-02"):
        seed("--today", "2022-12-31")
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        seed("--today", "30/11/2026")


def test_role_groups_come_with_their_permissions(seeded):
    # Created by migration 0002 on the fresh test database; the seed adds nothing to them.
    perms = {
        g.name: set(g.permissions.values_list("codename", flat=True)) for g in Group.objects.all()
    }
    assert set(perms) == {"市工信局管理员", "县市区工作人员", "企业特派员", "链长办"}
    manager = perms["市工信局管理员"]
    for model in ("project", "weeklydispatch", "region", "enterprise", "annualindicator"):
        assert {f"view_{model}", f"add_{model}", f"change_{model}"} <= manager
    assert "view_user" in manager and "change_user" not in manager
    for group in ("县市区工作人员", "企业特派员"):
        assert {"view_project", "change_project", "add_weeklydispatch", "view_region"} <= perms[
            group
        ]
        assert "change_region" not in perms[group] and "add_project" not in perms[group]
    assert {"view_project", "view_weeklydispatch"} <= perms["链长办"]
    assert not any(p.startswith(("add_", "change_", "delete_")) for p in perms["链长办"])


def test_the_committed_book_is_what_the_script_writes():
    path = Path(settings.BASE_DIR) / "scripts" / "make_project_book.py"
    spec = importlib.util.spec_from_file_location("make_project_book", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with (Path(settings.BASE_DIR) / "fixtures" / "projects.csv").open(encoding="utf-8") as fh:
        committed = list(csv.DictReader(fh))
    assert committed == module.make_rows()


def test_the_seed_is_fast(seeded):
    assert seeded.seconds < 60
