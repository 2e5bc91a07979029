"""The seed's demo data never reaches back into a past year's figures.

Kept apart from test_seed.py, whose module-wide seed (load date 2026) would already be in
the database and make this check pass without exercising it.
"""

import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings

from tracker.models import Problem
from tracker.seed.problems import load_demo_problems

pytestmark = pytest.mark.django_db


def test_demo_problems_stay_in_the_load_dates_year():
    assert not Problem.objects.exists()
    with override_settings(DEBUG=True):
        call_command("seed", "--today", "2023-01-10", "--skip-history", stdout=StringIO())
    assert Problem.objects.filter(title__startswith="YC2022-").exists()  # the 2022 ledger
    demo = Problem.objects.exclude(title__startswith="YC2022-")
    assert demo.count() == 6
    # Without the floor, problems raised 12–60 days before 10 January land in 2022.
    assert not demo.filter(raised_on__lt=datetime.date(2023, 1, 1)).exists()
    assert load_demo_problems(today=datetime.date(2023, 1, 10)) == 0  # idempotent


def test_production_seed_writes_no_generated_history():
    """With DEBUG off (production) the book is loaded at signing: no made-up stage changes,
    dispatches or sample inspections reach the real rates and lights."""
    from tracker.models import Inspection, Project, StageChange, WeeklyDispatch

    with override_settings(DEBUG=False):
        call_command("seed", "--today", "2026-11-30", "--no-demo-users", stdout=StringIO())
    assert Project.objects.signed_in(2022).count() == 338
    assert not WeeklyDispatch.objects.exists()
    assert not Inspection.objects.exists()
    assert not StageChange.objects.exclude(from_stage="").exists()  # only the signing rows
    assert StageChange.objects.count() == Project.objects.count()
