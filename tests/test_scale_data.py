"""generate_scale_data: deterministic, valid, as many rows as asked, the 2022 book untouched.

The seed is loaded once for the module (inside a transaction rolled back at the end) with a
fixed load date; the scale data (60 projects × 6 weeks) is generated twice on the same
state, once inside a savepoint rolled back, to compare the two runs; each test runs in a
savepoint of its own.
"""

import datetime
import hashlib
import itertools
from collections import defaultdict
from io import StringIO
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.test import override_settings

from tracker.choices import Role, Stage
from tracker.models import (
    Enterprise,
    Inspection,
    Park,
    Problem,
    ProblemEvent,
    Project,
    RectificationItem,
    Region,
    StageChange,
    User,
    WeeklyDispatch,
)
from tracker.seed.scale import CITIES, CODE_PREFIX
from tracker.validators import validate_credit_code

pytestmark = pytest.mark.django_db

LOAD_DAY = "2026-11-30"  # a Monday: the last full ISO week is 2026-W48 (23–29 November)
WINDOW_END = datetime.date(2026, 11, 29)
WINDOW_START = datetime.date(2026, 10, 19)  # the Monday six weeks before
PROJECTS, WEEKS = 60, 6
GENERATED = {"code__startswith": f"{CODE_PREFIX}-"}
NEW_REGIONS = sum(len(names.split()) for *_head, names in CITIES)


def run(*args, debug=True):
    out, err = StringIO(), StringIO()
    with override_settings(DEBUG=debug):
        call_command("generate_scale_data", *args, stdout=out, stderr=err)
    return out.getvalue()


def generate(seed=0):
    return run(
        "--projects", str(PROJECTS), "--weeks", str(WEEKS), "--seed", str(seed),
        "--today", LOAD_DAY,
    )  # fmt: skip


def book_2022():
    """The 2022 book's totals and a checksum of its rows and history."""
    projects = Project.objects.signed_in(2022)
    rows = list(
        projects.order_by("code").values_list(
            "code", "signed_amount", "stage", "completed_investment", "region__code"
        )
    )
    history = list(
        WeeklyDispatch.objects.filter(project__in=projects)
        .order_by("project__code", "iso_year", "iso_week")
        .values_list("project__code", "iso_year", "iso_week", "completed_investment")
    )
    digest = hashlib.sha256(repr((rows, history)).encode()).hexdigest()
    return projects.totals(), digest


def fingerprint():
    """Every generated row by natural keys (ids of the small tables come from sequences,
    which PostgreSQL does not roll back)."""
    generated = Project.objects.filter(**GENERATED)
    parts = [
        Region.objects.order_by("code").values_list("code", "name", "kind", "sort_order"),
        Park.objects.order_by("name").values_list("name", "region__code"),
        User.objects.order_by("username").values_list(
            "username", "display_name", "unit", "role", "region__code"
        ),
        generated.order_by("code").values_list(
            "code", "name", "enterprise__name", "enterprise__credit_code", "region__code",
            "park__name", "chain__code", "capital_source", "signed_on", "signed_amount",
            "planned_start_on", "planned_production_on", "actual_start_on",
            "actual_production_on", "annual_planned_investment", "completed_investment",
            "stage", "commissioner__username", "created_at", "updated_at",
        ),
        StageChange.objects.filter(project__in=generated)
        .order_by("project__code", "effective_on", "id")
        .values_list("project__code", "from_stage", "to_stage", "effective_on", "recorded_at"),
        WeeklyDispatch.objects.filter(project__in=generated)
        .order_by("project__code", "iso_year", "iso_week")
        .values_list(
            "project__code", "iso_year", "iso_week", "stage", "completed_investment",
            "progress", "problems", "filed_at", "is_late", "filed_by__username",
        ),
        Problem.objects.filter(project__in=generated)
        .order_by("project__code", "raised_on", "title")
        .values_list("project__code", "title", "status", "deadline", "raised_on", "closed_on"),
        Inspection.objects.order_by("region__code", "year", "quarter", "title").values_list(
            "region__code", "year", "quarter", "title", "inspected_on", "project__code"
        ),
    ]  # fmt: skip
    return [list(part) for part in parts]


@pytest.fixture(scope="module")
def scale(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        with override_settings(DEBUG=True):
            call_command("seed", "--today", LOAD_DAY, stdout=StringIO())
        before = book_2022()
        counts = {
            model: model.objects.count()
            for model in (Region, Park, User, Project, Enterprise, WeeklyDispatch)
        }
        with transaction.atomic():
            generate(seed=1)
            other_seed = fingerprint()
            transaction.set_rollback(True)
        with transaction.atomic():
            generate()
            first = fingerprint()
            transaction.set_rollback(True)
        output = generate()
        yield SimpleNamespace(
            before=before, counts=counts, first=first, other_seed=other_seed, output=output
        )
        transaction.set_rollback(True)


def test_the_same_seed_writes_the_same_rows_and_another_seed_others(scale):
    again = fingerprint()
    assert again == scale.first
    assert again[3] != scale.other_seed[3]  # the projects differ with the seed
    assert len(again[3]) == len(scale.other_seed[3]) == PROJECTS


def test_the_2022_book_and_its_totals_are_unchanged(scale):
    totals, digest = book_2022()
    assert totals == scale.before[0]
    assert digest == scale.before[1]
    assert totals["count"] == 338 and totals["amount"] == 17_961_600
    assert not Project.objects.filter(**GENERATED, signed_on__lt=datetime.date(2023, 1, 1))


def test_counts_are_as_asked(scale):
    c = scale.counts
    generated = Project.objects.filter(**GENERATED)
    assert generated.count() == PROJECTS == Project.objects.count() - c[Project]
    assert Enterprise.objects.count() - c[Enterprise] == PROJECTS
    # Eleven cities: Yichun's 13 regions and the other ten cities' counties, a park and a
    # county clerk account each.
    assert Region.objects.count() - c[Region] == NEW_REGIONS > 80
    assert {code.split("-")[0] for code in Region.objects.filter(code__contains="-")
            .values_list("code", flat=True)} == {city for city, *_rest in CITIES}  # fmt: skip
    assert Park.objects.count() - c[Park] == NEW_REGIONS
    assert User.objects.filter(role=Role.COUNTY).count() - 2 == NEW_REGIONS
    assert not Region.objects.filter(code__contains="-").exclude(staff__role=Role.COUNTY).exists()
    # One dispatch per project per week of the window, from the signing week on; a
    # terminated project stops reporting after the week it ended.
    dispatches = WeeklyDispatch.objects.filter(project__in=generated)
    assert dispatches.count() == WeeklyDispatch.objects.count() - c[WeeklyDispatch]
    expected = 0
    for p in generated:
        monday = max(WINDOW_START, p.signed_on - datetime.timedelta(days=p.signed_on.weekday()))
        end = WINDOW_END
        if p.stage == Stage.TERMINATED:
            ended = p.stage_changes.get(to_stage=Stage.TERMINATED).effective_on
            end = min(end, ended - datetime.timedelta(days=ended.weekday()) + datetime.timedelta(6))
        expected += max(0, (end - monday).days + 1) // 7
    assert dispatches.count() == expected
    assert PROJECTS * WEEKS * 0.6 < expected <= PROJECTS * WEEKS
    assert f"{PROJECTS} projects" in scale.output
    assert f"{expected} weekly dispatches" in scale.output
    assert Problem.objects.filter(project__in=generated).exists() or PROJECTS < 100
    assert Inspection.objects.filter(region__code__contains="-").exists()


def test_every_generated_row_passes_the_models_validation(scale):
    generated = Project.objects.filter(**GENERATED)
    rows = [
        *Region.objects.filter(code__contains="-"),
        *Park.objects.filter(region__code__contains="-"),
        *User.objects.filter(username__startswith="clerk-"),
        *Enterprise.objects.filter(projects__in=generated),
        *generated.select_related("park", "region"),
        *StageChange.objects.filter(project__in=generated),
        *WeeklyDispatch.objects.filter(project__in=generated),
        *Problem.objects.filter(project__in=generated).select_related("project"),
        *ProblemEvent.objects.filter(problem__project__in=generated),
        *Inspection.objects.filter(region__code__contains="-").select_related("project"),
        *RectificationItem.objects.filter(inspection__region__code__contains="-"),
    ]
    assert len(rows) > PROJECTS * (WEEKS + 3)
    for row in rows:
        row.full_clean()
    for code in Enterprise.objects.filter(projects__in=generated).exclude(credit_code=""):
        validate_credit_code(code.credit_code)


def test_history_follows_the_stage_rules_and_investment_never_goes_down(scale):
    steps, reports = defaultdict(list), defaultdict(list)
    generated = Project.objects.filter(**GENERATED)
    for pid, *step in (
        StageChange.objects.filter(project__in=generated)
        .order_by("project_id", "effective_on", "id")
        .values_list("project_id", "from_stage", "to_stage", "effective_on")
    ):
        steps[pid].append(step)
    for pid, *report in (
        WeeklyDispatch.objects.filter(project__in=generated)
        .order_by("project_id", "iso_year", "iso_week")
        .values_list("project_id", "iso_year", "iso_week", "stage", "completed_investment",
                     "filed_at")
    ):  # fmt: skip
        reports[pid].append(report)
    for p in generated:
        history = steps[p.pk]
        assert history[0] == ["", Stage.SIGNED, p.signed_on], p.code
        for before, after in itertools.pairwise(history):
            assert after[0] == before[1] and after[2] > before[2], p.code
        assert history[-1][1] == p.stage and history[-1][2] <= WINDOW_END
        started = [on for _f, to, on in history if to in Stage.reached(Stage.STARTED)]
        assert p.actual_start_on == (started[0] if started else None)
        sheet = reports[p.pk]
        amounts = [r[3] for r in sheet]
        assert amounts == sorted(amounts), p.code
        assert p.completed_investment == (amounts[-1] if amounts else 0)
        for (y1, w1, *_), (y2, w2, *_) in itertools.pairwise(sheet):  # no gaps
            following = datetime.date.fromisocalendar(y1, w1, 1) + datetime.timedelta(7)
            assert (y2, w2) == tuple(following.isocalendar())[:2]
        for _year, _week, stage, _amount, filed_at in sheet:
            in_force = [to for _f, to, on in history if on <= filed_at.date()][-1]
            assert stage == in_force, p.code


def test_the_sequences_continue_after_the_written_ids(scale):
    project = Project.objects.filter(**GENERATED).order_by("pk").last()
    change = StageChange.objects.create(
        project=project, from_stage=project.stage, to_stage=Stage.STALLED,
        effective_on=WINDOW_END,
    )  # fmt: skip
    assert change.pk > StageChange.objects.exclude(pk=change.pk).order_by("pk").last().pk
    report = WeeklyDispatch.objects.create(
        project=project, iso_year=2026, iso_week=49, stage=project.stage,
        completed_investment=project.completed_investment,
    )  # fmt: skip
    assert report.pk > WeeklyDispatch.objects.exclude(pk=report.pk).order_by("pk").last().pk


def test_refused_without_debug(scale):
    before = Project.objects.count()
    with pytest.raises(CommandError, match="DEBUG is off"):
        run("--projects", "5", "--weeks", "2", "--today", LOAD_DAY, debug=False)
    assert Project.objects.count() == before


def test_refused_twice_and_before_the_seed(scale):
    with pytest.raises(CommandError, match="already holds generated scale data"):
        generate()
    # The 2022 book is checked first: without it, nothing else is looked at (moved to 2021).
    Project.objects.filter(signed_on__year=2022).update(signed_on=datetime.date(2021, 1, 4))
    with pytest.raises(CommandError, match="2022 project book is not loaded"):
        generate()
