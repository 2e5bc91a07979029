"""The living demo (``seed --living``, issue 9 item 7): later years' illustrative signings.

On any load date every county has a sheet worth filling, the current year's dashboard and
monthly report have substance and some lights are red or yellow; everything added is 示例,
deterministic for a load date, and the 2022 book's figures do not move.

Two loads on 2025-03-15 with the living demo (compared with each other) and one without
(the 2022 rows compared with it) run first, each in a transaction rolled back at once; the
module then loads 2026-12-01 once for the other tests.
"""

import datetime
import hashlib
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.db.models import Q
from django.test.utils import override_settings
from django.utils import translation

from tests import factories
from tracker.choices import Light, Role
from tracker.dashboard import dashboard_data
from tracker.dispatching import current_week, dispatch_projects
from tracker.lights import annotate_lights
from tracker.models import Enterprise, Project, Region, StageChange, WeeklyDispatch
from tracker.reports.assembly import compute_report
from tracker.seed.living import FIRST_YEAR, living_rows

pytestmark = pytest.mark.django_db

DAY = datetime.date(2026, 12, 1)  # a Tuesday of 2026-W49
EARLY_DAY = datetime.date(2025, 3, 15)  # a Saturday in March: few signings of the year yet
# The 2022 book, as DOMAIN.md publishes it (17,961,600 万元 = 1796.16 亿元).
BOOK_2022 = {
    "count": 338,
    "amount": Decimal("17961600"),
    "count_5020": 41,
    "count_billion": 298,
}


def _seed(day, *extra):
    out = StringIO()
    with override_settings(DEBUG=True):
        call_command("seed", "--today", day.isoformat(), "--no-demo-users", *extra, stdout=out)
    return out.getvalue()


def _living():
    return Q(signed_on__year__gte=FIRST_YEAR)


def _fingerprint(projects):
    """A checksum of the projects' values, their stage history and their dispatches, by
    natural keys (no primary keys: they differ between two databases)."""
    rows = [
        sorted(
            projects.values_list(
                "code",
                "name",
                "enterprise__name",
                "enterprise__credit_code",
                "enterprise__above_scale",
                "region__code",
                "park__name",
                "chain__code",
                "capital_source",
                "signed_on",
                "signed_amount",
                "planned_start_on",
                "planned_production_on",
                "stage",
                "actual_start_on",
                "actual_production_on",
                "completed_investment",
                "annual_planned_investment",
                "is_sample",
            )
        ),
        sorted(
            StageChange.objects.filter(project__in=projects).values_list(
                "project__code", "from_stage", "to_stage", "effective_on", "recorded_at"
            )
        ),
        sorted(
            WeeklyDispatch.objects.filter(project__in=projects).values_list(
                "project__code",
                "iso_year",
                "iso_week",
                "stage",
                "completed_investment",
                "progress",
                "problems",
                "filed_at",
                "is_late",
            )
        ),
    ]
    return [len(part) for part in rows], hashlib.sha256(repr(rows).encode()).hexdigest()


def _sheet_counts(day):
    """Projects on this week's sheet of a county clerk of each region (the sheet's query)."""
    year, week = current_week(day)
    return {
        region.code: dispatch_projects(
            factories.user(Role.COUNTY, region=region), year, week
        ).count()
        for region in Region.objects.order_by("sort_order")
    }


def _load(day, *, living):
    with transaction.atomic():
        _seed(day, *(["--living"] if living else []))
        result = {
            "living": _fingerprint(Project.objects.filter(_living())),
            "book": _fingerprint(Project.objects.exclude(_living())),
            "totals": Project.objects.signed_in(2022).totals(),
            "sheets": _sheet_counts(day),
        }
        with translation.override("zh-hans"):
            result["report_2022"] = compute_report(year=2022, month=12)
        transaction.set_rollback(True)
    return result


# --- determinism and the 2022 book (before the module's load) -------------------------------


def test_the_living_demo_is_the_same_for_the_same_load_date_and_leaves_2022_alone():
    first = _load(EARLY_DAY, living=True)
    second = _load(EARLY_DAY, living=True)
    plain = _load(EARLY_DAY, living=False)

    counts, _digest = first["living"]
    assert counts[0] > 250 and counts[2] > 10_000  # 2023 … early 2025, with weekly reports
    assert second["living"] == first["living"]
    assert plain["living"] == ([0, 0, 0], _fingerprint(Project.objects.none())[1])
    # The 2022 book, its history and its December report are those of a load without it.
    assert first["book"] == plain["book"]
    assert first["totals"] == plain["totals"] == BOOK_2022
    assert first["report_2022"] == plain["report_2022"]
    # In March, with the year's first signings only, every county still has a sheet.
    assert all(10 <= n <= 40 for n in first["sheets"].values()), first["sheets"]
    assert max(plain["sheets"].values()) < 10  # what the book alone leaves on the sheet


def test_a_later_load_date_only_adds_signings():
    early = living_rows(EARLY_DAY)
    late = living_rows(DAY)
    assert late[: len(early)] == early
    assert {r["signed_on"][:4] for r in late} == {"2023", "2024", "2025", "2026"}
    # Nothing signed after the last full week before the load date (where history stops).
    assert max(r["signed_on"] for r in late) <= "2026-11-29"


def test_the_living_demo_is_refused_without_debug():
    with override_settings(DEBUG=False), pytest.raises(CommandError, match="DEBUG is off"):
        call_command("seed", "--today", "2026-12-01", "--no-demo-users", "--living")
    assert not Project.objects.exists()


# --- one load on 2026-12-01 ------------------------------------------------------------------


@pytest.fixture(scope="module")
def loaded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        yield _seed(DAY, "--living")
        transaction.set_rollback(True)


def test_every_county_has_10_to_40_projects_on_this_weeks_sheet(loaded):
    counts = _sheet_counts(DAY)
    assert len(counts) == 13
    assert all(10 <= n <= 40 for n in counts.values()), counts


def test_everything_added_is_marked_illustrative(loaded):
    added = Project.objects.filter(_living())
    assert added.count() > 400
    assert f"Living demo (示例): {added.count()} projects signed 2023–2026." in loaded
    assert not added.filter(is_sample=False).exists()
    assert not added.exclude(name__startswith="示例").exists()
    enterprises = Enterprise.objects.filter(projects__in=added).distinct()
    assert enterprises.count() == added.count()  # one synthetic enterprise per project
    assert not enterprises.filter(is_sample=False).exists()
    # Every project has its signing in the stage history and reports up to its stage.
    assert StageChange.objects.filter(project__in=added, from_stage="").count() == added.count()
    assert not added.exclude(signed_on__lte=datetime.date(2026, 11, 29)).exists()


def test_the_2022_book_keeps_its_published_figures(loaded):
    assert Project.objects.signed_in(2022).totals() == BOOK_2022


def test_the_current_years_dashboard_has_substance(loaded):
    data = dashboard_data(Project.objects.all(), year=2026, today=DAY)
    headline = data["headline"]
    assert headline["count"] >= 100
    assert headline["amount"] > 0
    assert headline["started"] > 0
    assert headline["invested"] > 0
    assert sum(1 for m in data["signing"] if m["count"]) >= 10  # signings through the year


def test_the_current_years_monthly_report_has_rows_and_warnings(loaded):
    with translation.override("zh-hans"):
        report = compute_report(year=2026, month=11)
    city = report["city"]
    assert city["month_count"] > 0
    assert city["ytd_count"] >= 100
    assert city["red"] > 0 and city["yellow"] > 0
    assert len(report["warnings"]) == city["red"] + city["yellow"]
    assert all(r["ytd_count"] > 0 for r in report["regions"])


def test_some_lights_are_red_and_some_yellow_this_week(loaded):
    lights = annotate_lights(Project.objects.filter(_living()), today=DAY, plan_year=2026)
    red = lights.filter(light=Light.RED).count()
    yellow = lights.filter(light=Light.YELLOW).count()
    green = lights.filter(light=Light.GREEN).count()
    assert red > 0 and yellow > 0
    assert green > red + yellow  # most projects are on schedule


def test_some_weekly_reports_were_filed_late(loaded):
    reports = WeeklyDispatch.objects.filter(project__in=Project.objects.filter(_living()))
    late = reports.filter(is_late=True).count()
    assert 0 < late < reports.count() / 10
