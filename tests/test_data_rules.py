"""The rules that keep bad data out: no control characters in any text field, dates and
years within 2000–2100 (signing and actual dates not after today).

- Introspection: every text field of every model and every text field of every form
  (declared fields, filters, the admin's forms) carries the one validator
  (``tracker.validators.validate_no_control_characters``), so a field added later cannot
  forget it; every date, timestamp and year column has its range constraint, every date
  field its validator.
- Behaviour at the boundaries: the validators, the database constraints, the services that
  check their own input, and a form and the admin through the client (Chinese messages).
- The data migration 0006 cleans and moves rows stored before the rules.
"""

import datetime
import importlib
import inspect
import pkgutil
from decimal import Decimal

import django_filters
import pytest
from django import forms
from django.apps import apps
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone, translation

import tracker
from tests import factories
from tracker import problems
from tracker.choices import Role
from tracker.models import ChangeLog, Problem, Project, Region, User
from tracker.validators import (
    CONTROL_CHARACTERS_RE,
    FIRST_DAY,
    LAST_DAY,
    validate_date_in_range,
    validate_no_control_characters,
    validate_past_date,
)

pytestmark = pytest.mark.django_db

REFUSED = [chr(c) for c in [*range(0, 9), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, 0xD800, 0xDFFF]]
ALLOWED = ["\t", "\n", "\r", " ", "\u00a0", "\u200f", "😀", "𠀀", "é"]
# Text columns whose own validator admits a fixed alphabet only (refusing every control
# character, checked below), and the password hash, which nobody types.
OWN_ALPHABET = {("enterprise", "credit_code")}
NOT_TEXT = {("user", "password")}


def model_text_fields():
    for model in apps.get_app_config("tracker").get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, models.CharField | models.TextField):
                if (model._meta.model_name, field.name) not in NOT_TEXT:
                    yield model, field


def test_the_validator_refuses_each_control_character_and_nothing_else():
    for ch in REFUSED:
        with pytest.raises(ValidationError):
            validate_no_control_characters(f"前{ch}后")
    for ch in ALLOWED:
        validate_no_control_characters(f"前{ch}后")
    with translation.override("zh-hans"), pytest.raises(ValidationError) as info:
        validate_no_control_characters("甲\x0b乙\x0c")
    assert info.value.messages == [
        "此处文字含有不可见的控制字符（U+000B, U+000C），通常是复制粘贴时带入的。"
        "请删除这些字符（必要时重新输入）后再保存。"
    ]


def test_every_model_text_field_refuses_control_characters():
    """Every CharField/TextField of the tracker models (the account's names too) carries the
    validator, or (choices, a fixed alphabet) refuses every control character itself."""
    missing, letting_through = [], []
    for model, field in model_text_fields():
        key = (model._meta.model_name, field.name)
        if not field.choices and not isinstance(field, models.SlugField):
            if key not in OWN_ALPHABET and validate_no_control_characters not in field.validators:
                missing.append(".".join(key))
        for ch in REFUSED if field.editable else ():  # Django validates editable fields only
            try:
                field.clean(f"a{ch}b", None)
            except ValidationError:
                continue
            letting_through.append(f"{'.'.join(key)} takes U+{ord(ch):04X}")
    assert not missing, f"text fields without the control-character rule: {missing}"
    assert not letting_through, letting_through


def _tracker_modules():
    for info in pkgutil.walk_packages(tracker.__path__, "tracker."):
        if ".migrations" not in info.name and ".management" not in info.name:
            yield importlib.import_module(info.name)


def _form_classes():
    found = set()
    for module in _tracker_modules():
        for _name, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, forms.BaseForm) and value.__module__.startswith("tracker"):
                found.add(value)
    return found


def _unchecked_char_fields(form_class, model_fields=()):
    return [
        f"{form_class.__name__}.{name}"
        for name, field in form_class.base_fields.items()
        if isinstance(field, forms.CharField)
        and not isinstance(field, forms.ChoiceField | forms.ModelChoiceField)
        and name not in model_fields
        and not name.startswith("password")
        and validate_no_control_characters not in field.validators
    ]


def test_every_form_text_field_refuses_control_characters():
    """Declared CharFields of every form of the app (a model form's model fields are
    checked by the model's validators: ``test_every_model_text_field…``)."""
    classes = _form_classes()
    assert {"ProjectForm", "DispatchRowForm", "RaiseForm", "PublishForm", "ChangeStageForm"} <= {
        c.__name__ for c in classes
    }
    unchecked = []
    for form_class in classes:
        meta = getattr(form_class, "_meta", None)
        model = getattr(meta, "model", None)
        model_fields = {f.name for f in model._meta.fields} if model else set()
        unchecked += _unchecked_char_fields(form_class, model_fields)
    assert not unchecked, unchecked


def test_every_filter_text_field_refuses_control_characters():
    filtersets = [
        value
        for module in _tracker_modules()
        for _name, value in inspect.getmembers(module, inspect.isclass)
        if issubclass(value, django_filters.FilterSet) and value.__module__.startswith("tracker")
    ]
    assert len(filtersets) >= 3
    unchecked = [
        f"{filterset.__name__}.{name}"
        for filterset in filtersets
        for name, flt in filterset.base_filters.items()
        if isinstance(flt.field, forms.CharField)
        and not isinstance(flt.field, forms.ChoiceField | forms.ModelChoiceField)
        and validate_no_control_characters not in flt.field.validators
    ]
    assert not unchecked, unchecked


def test_every_admin_form_text_field_refuses_control_characters():
    """The admin's forms of every registered model, for adding and for changing a row."""
    superuser = factories.user("", username="root", is_superuser=True, is_staff=True)
    request = RequestFactory().get("/admin/")
    request.user = superuser
    project = factories.project()
    unchecked = []
    for model, model_admin in admin.site._registry.items():
        model_fields = {f.name for f in model._meta.fields}
        instance = project if model is Project else model._default_manager.first()
        for obj in {None, instance}:
            form_class = model_admin.get_form(request, obj, change=obj is not None)
            unchecked += _unchecked_char_fields(form_class, model_fields)
    assert not unchecked, unchecked


# --- dates ------------------------------------------------------------------------------------
PAST_DATES = {
    "project": {"signed_on", "actual_start_on", "actual_production_on"},
    "stagechange": {"effective_on"},
    "inspection": {"inspected_on"},
    "rectificationitem": {"done_on", "verified_on"},
    "problem": {"raised_on", "resolved_on", "closed_on"},
}
YEAR_FIELDS = {"year", "iso_year"}


def test_every_date_field_has_its_validator_and_every_date_column_its_constraint():
    missing = []
    for model in apps.get_app_config("tracker").get_models():
        name = model._meta.model_name
        constrained = {c.name for c in model._meta.constraints}
        for field in model._meta.concrete_fields:
            dated = isinstance(field, models.DateField)  # DateTimeField too
            if not dated and field.name not in YEAR_FIELDS:
                continue
            prefix = {"rectificationitem": "rectification", "weeklydispatch": "dispatch"}
            expected_constraint = f"{prefix.get(name, name)}_{field.name}_range"
            if field.name == "year" and name == "annualindicator":
                expected_constraint = "indicator_year_range"
            if expected_constraint not in constrained:
                missing.append(f"{name}.{field.name}: no constraint {expected_constraint}")
            if dated and not isinstance(field, models.DateTimeField):
                wanted = (
                    validate_past_date
                    if field.name in PAST_DATES.get(name, ())
                    else validate_date_in_range
                )
                if wanted not in field.validators:
                    missing.append(f"{name}.{field.name}: no {wanted.__name__}")
            if field.name in YEAR_FIELDS:
                limits = sorted(getattr(v, "limit_value", None) for v in field.validators)
                if limits != [2000, 2100]:
                    missing.append(f"{name}.{field.name}: validators {limits}")
    assert not missing, missing


def test_dates_at_the_bounds():
    today = timezone.localdate()
    for value in (FIRST_DAY, today):
        validate_past_date(value)
    for value in (FIRST_DAY, LAST_DAY):
        validate_date_in_range(value)
    with translation.override("zh-hans"):
        for value in (datetime.date(1999, 12, 31), today + datetime.timedelta(days=1)):
            with pytest.raises(ValidationError) as info:
                validate_past_date(value)
            assert info.value.messages == [
                f"请输入 2000-01-01 至今天（{today.isoformat()}）之间的日期。"
            ]
        for value in (datetime.date(1999, 12, 31), datetime.date(2101, 1, 1)):
            with pytest.raises(ValidationError) as info:
                validate_date_in_range(value)
            assert info.value.messages == ["请输入 2000-01-01 至 2100-12-31 之间的日期。"]


def test_a_project_signed_before_2000_or_planned_after_2100_is_refused_by_full_clean():
    project = factories.project(signed_on=datetime.date(2000, 1, 1))
    project.planned_start_on = datetime.date(2100, 12, 31)
    project.full_clean()
    project.signed_on = datetime.date(1999, 12, 31)
    project.planned_production_on = datetime.date(2101, 1, 1)
    with pytest.raises(ValidationError) as info:
        project.full_clean()
    assert set(info.value.message_dict) == {"signed_on", "planned_production_on"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("signed_on", datetime.date(1999, 12, 31)),
        ("signed_on", datetime.date(2101, 1, 1)),
        ("planned_start_on", datetime.date(2101, 1, 1)),
        ("created_at", datetime.datetime(1999, 12, 31, 23, 59, tzinfo=datetime.UTC)),
        ("updated_at", datetime.datetime(2101, 1, 1, tzinfo=datetime.UTC)),
    ],
)
def test_the_database_refuses_dates_outside_2000_to_2100(field, value):
    project = factories.project(signed_on=datetime.date(2000, 1, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        Project.objects.filter(pk=project.pk).update(**{field: value})
    Project.objects.filter(pk=project.pk).update(
        signed_on=datetime.date(2000, 1, 1), planned_start_on=datetime.date(2100, 12, 31)
    )


def test_a_deadline_after_2100_is_refused_by_the_problem_service_not_the_database():
    manager = factories.user(Role.MANAGER)
    problem = problems.raise_problem(by=manager, title="问题", project=factories.project())
    with pytest.raises(ValidationError) as info:
        problems.assign_problem(
            problem_id=problem.pk,
            expected_version=1,
            by=manager,
            unit="单位",
            deadline=datetime.date(2101, 1, 1),
        )
    assert set(info.value.message_dict) == {"deadline"}
    with pytest.raises(ValidationError) as info:
        problems.raise_problem(by=manager, title="问\x0b题", project=problem.project)
    assert set(info.value.message_dict) == {"title"}
    assert Problem.objects.count() == 1


# --- through the pages ---------------------------------------------------------------------
def test_the_project_form_refuses_a_vertical_tab_with_a_chinese_message(client):
    project = factories.project(responsible_unit="原单位")
    client.force_login(factories.user(Role.MANAGER))
    response = client.get(reverse("tracker:project_edit", args=[project.pk]))
    form = response.context["form"]
    data = {
        name: ("" if value is None else value)
        for name, value in ((n, form[n].value()) for n in form.fields)
    }
    data.update(responsible_unit="责任\x0b单位", version=project.version)
    response = client.post(reverse("tracker:project_edit", args=[project.pk]), data)
    assert response.status_code == 200
    assert "U+000B" in str(response.context["form"].errors["responsible_unit"])
    assert "不可见的控制字符" in response.content.decode()
    project.refresh_from_db()
    assert project.responsible_unit == "原单位"
    data.update(responsible_unit="新单位", planned_production_on="9999-12-31")
    response = client.post(reverse("tracker:project_edit", args=[project.pk]), data)
    assert response.status_code == 200
    assert "2100-12-31" in str(response.context["form"].errors["planned_production_on"])
    project.refresh_from_db()
    assert project.planned_production_on is None


def test_the_admin_refuses_a_control_character_in_a_region_name(client):
    region = factories.region(name="原名")
    client.force_login(factories.user("", is_superuser=True, is_staff=True))
    url = reverse("admin:tracker_region_change", args=[region.pk])
    response = client.post(
        url,
        {"code": region.code, "name": "新\x1f名", "kind": region.kind, "sort_order": 0},
    )
    assert response.status_code == 200
    assert "U+001F" in response.content.decode()
    region.refresh_from_db()
    assert region.name == "原名"


def test_the_quick_search_with_a_control_character_answers_with_the_form_error(client):
    client.force_login(factories.user(Role.MANAGER))
    for name in ("tracker:project_list", "tracker:problem_list", "tracker:inspection_list"):
        response = client.get(reverse(name), {"q": "甲\x0b乙"})  # at the ends: stripped
        assert response.status_code == 200
        assert "q" in response.context["filter"].form.errors


def test_an_assessment_year_outside_2000_to_2100_is_a_404_with_the_reason(client):
    factories.project(signed_on=datetime.date(2000, 1, 1))
    client.force_login(factories.user(Role.MANAGER))
    assert client.get(reverse("tracker:assessment_year", args=[2000])).status_code == 200
    for year in (1, 1999, 2101, 9999, 99999):
        response = client.get(reverse("tracker:assessment_year", args=[year]))
        assert response.status_code == 404
        assert response.context["message"]


# --- the data migration ------------------------------------------------------------------------
BEFORE, AFTER = (
    ("tracker", "0005_text_and_date_validators"),
    ("tracker", "0007_date_bounds_constraints"),
)


@pytest.fixture
def latest_schema_after():
    """The test migrates back to 0005 and forward to 0007 only: afterwards the database gets
    every later migration again, or the tests that run next on this worker would meet a
    schema without the columns added since (0008's names)."""
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_data_migration_cleans_text_and_moves_dates_into_range(latest_schema_after):
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    old = executor.loader.project_state([BEFORE]).apps
    region = old.get_model("tracker", "Region").objects.create(
        code="dirty", name="脏\x0b数据\x01县", kind="county"
    )
    chain = old.get_model("tracker", "IndustryChain").objects.create(code="c", name="链")
    enterprise = old.get_model("tracker", "Enterprise").objects.create(name="企业", region=region)
    old.get_model("tracker", "Project").objects.create(
        code="P1",
        name="项目\x0c名称",
        enterprise=enterprise,
        region=region,
        chain=chain,
        signed_on=datetime.date(1, 1, 1),
        signed_amount=Decimal(1),
        actual_start_on=datetime.date(1999, 12, 31),
        planned_start_on=datetime.date(9999, 12, 31),
        notes="第一行\x0b第二行\t保留\n换行",
    )
    ctype, _created = old.get_model("contenttypes", "ContentType").objects.get_or_create(
        app_label="tracker", model="region"
    )
    old.get_model("tracker", "ChangeLog").objects.create(
        content_type_id=ctype.pk, object_id=1, object_repr="x", action="update", old_value="旧\x0b"
    )
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([AFTER])

    region = Region.objects.get(code="dirty")
    assert region.name == "脏 数据 县"
    project = Project.objects.get(code="P1")
    assert project.name == "项目 名称"
    assert project.notes == "第一行 第二行\t保留\n换行"
    assert project.signed_on == datetime.date(2000, 1, 1)
    assert project.actual_start_on == datetime.date(2000, 1, 1)
    assert project.planned_start_on == datetime.date(2100, 12, 31)
    assert ChangeLog.objects.get(object_repr="x").old_value == "旧 "
    history = {
        (e.field, e.old_value, e.new_value)
        for e in ChangeLog.objects.filter(object_id=project.pk, content_type__model="project")
    }
    assert ("signed_on", "0001-01-01", "2000-01-01") in history
    assert ("name", "项目<U+000C>名称", "项目 名称") in history
    assert not any(
        CONTROL_CHARACTERS_RE.search(v)
        for v in ChangeLog.objects.values_list("old_value", flat=True)
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Project.objects.filter(pk=project.pk).update(signed_on=datetime.date(1999, 12, 31))


def test_demo_users_and_factories_hold_the_rules():
    """The factories' defaults pass the validators (the seed's in tests/test_seed.py)."""
    project = factories.project()
    project.full_clean()
    user = factories.user(Role.COUNTY, display_name="陈丽华", unit="袁州区工业和信息化局")
    user.full_clean()
    assert User.objects.filter(pk=user.pk).exists()


# --- the file writers' one cell function ------------------------------------------------------
def test_safe_text_makes_any_stored_text_writable_and_inert():
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    from tracker.spreadsheets import XLSX_CELL_MAX, safe_text

    every_control = "".join(REFUSED[:-2])  # lone surrogates cannot be stored at all
    cleaned = safe_text(f"甲{every_control}乙")
    assert cleaned == "甲" + " " * len(every_control) + "乙"
    assert not ILLEGAL_CHARACTERS_RE.search(cleaned)
    assert safe_text("\x0b=cmd|' /C calc'!A0") == "' =cmd|' /C calc'!A0"
    assert safe_text("  @SUM(A1)") == "'  @SUM(A1)"
    assert safe_text("\t=1") == "'\t=1"
    assert safe_text("第一行\n第二行\t制表") == "第一行\n第二行\t制表"
    long = safe_text("长" * 40_000)
    assert len(long) == XLSX_CELL_MAX and long.endswith("…")
    assert safe_text("长" * XLSX_CELL_MAX) == "长" * XLSX_CELL_MAX
    for value in (Decimal("-5"), -5, 0, None, datetime.date(2100, 12, 31)):
        assert safe_text(value) == value
