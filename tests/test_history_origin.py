"""Where a change came from (an import, a bulk change) is kept on every history row the
service writes for it, before the reason a person gave (``history.noted``)."""

import datetime
from decimal import Decimal

import pytest

from tests import factories
from tracker.choices import Role, Stage
from tracker.history import noted
from tracker.models import ChangeLog, StageChange
from tracker.projects_service import create_project
from tracker.services import update_project

pytestmark = pytest.mark.django_db

ORIGIN = "Excel导入 #7"


def test_noted_puts_the_origin_before_the_reason():
    assert noted(ORIGIN, " 核实后更正 ") == "Excel导入 #7：核实后更正"
    assert noted(ORIGIN) == ORIGIN
    assert noted("", "理由") == "理由"
    assert noted("", "") == ""


def test_an_edit_with_an_origin_marks_every_history_row_and_the_stage_change():
    manager = factories.user(Role.MANAGER)
    project = factories.project(completed_investment=Decimal("100"))
    update_project(
        project_id=project.pk,
        data={"name": "导入后的名称", "completed_investment": Decimal("50")},
        expected_version=project.version,
        by=manager,
        stage=Stage.STARTED,
        stage_on=datetime.date(2022, 5, 1),
        note="现场核实",
        reason="原数据录错",
        origin=ORIGIN,
    )
    notes = dict(ChangeLog.objects.filter(object_id=project.pk).values_list("field", "note"))
    assert notes == {
        "name": ORIGIN,
        "completed_investment": f"{ORIGIN}：原数据录错",
        "stage": ORIGIN,
        "actual_start_on": ORIGIN,
    }
    change = StageChange.objects.get(project=project, to_stage=Stage.STARTED)
    assert change.note == f"{ORIGIN}：现场核实"


def test_an_edit_without_an_origin_keeps_only_the_reason():
    manager = factories.user(Role.MANAGER)
    project = factories.project()
    update_project(
        project_id=project.pk, data={"name": "新名称"}, expected_version=project.version, by=manager
    )
    assert list(ChangeLog.objects.filter(object_id=project.pk).values_list("note", flat=True)) == [
        ""
    ]


def test_a_created_project_carries_its_origin():
    manager = factories.user(Role.MANAGER)
    template = factories.project()
    project = create_project(
        data={
            "code": "IMP001",
            "name": "导入的项目",
            "enterprise": template.enterprise,
            "region": template.region,
            "chain": template.chain,
            "signed_on": datetime.date(2022, 4, 1),
            "signed_amount": Decimal("12000"),
        },
        by=manager,
        origin=ORIGIN,
    )
    rows = ChangeLog.objects.filter(object_id=project.pk)
    assert rows.count() > 1
    assert set(rows.values_list("note", flat=True)) == {ORIGIN}
    assert project.stage_changes.get().note == ORIGIN
