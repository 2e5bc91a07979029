"""One write path per topic, history beneath it.

1. The admin: every add and change form of every registered model is submitted as a
   manager (superuser + staff) with a real change. Either the model is read-only (the POST
   is refused and the database is unchanged) or every field that changed has a ChangeLog
   row for that object, written by that request.
2. Each rule the admin could once skip is refused there, with the message, nothing saved.
3. Each service writes its history row.
"""

import datetime
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone, translation

from tests import factories
from tests.test_admin import BUILDERS, url
from tracker import assessments, dispatching, inspections, problems, projects_service
from tracker.choices import ChangeAction, RegionKind, Role, Stage
from tracker.history import history_for, snapshot, snapshot_m2m
from tracker.models import (
    AnnualIndicator,
    AssessmentAdjustment,
    AssessmentWeight,
    ChainLeader,
    ChangeLog,
    Enterprise,
    IndustryChain,
    Inspection,
    MissingDispatch,
    MonthlyReport,
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
from tracker.services import update_project

pytestmark = pytest.mark.django_db

D = Decimal
REGISTERED = sorted(admin.site._registry, key=lambda m: m._meta.label)


# --- a browser's view of an admin form ---------------------------------------------------
class _FormFields(HTMLParser):
    """The name/value pairs a browser would submit for the form with ``form_id``."""

    def __init__(self, form_id):
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.pairs = []
        self.select = None
        self.textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
            return
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.pairs.append((name, a.get("value", "on")))
                return
            self.pairs.append((name, a.get("value", "")))
        elif tag == "select" and name:
            self.select = {"name": name, "multiple": "multiple" in a, "options": [], "chosen": []}
        elif tag == "option" and self.select is not None:
            value = a.get("value", "")
            self.select["options"].append(value)
            if "selected" in a:
                self.select["chosen"].append(value)
        elif tag == "textarea" and name:
            self.textarea = [name, []]

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea[1].append(data)

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select" and self.select is not None:
            chosen = self.select["chosen"]
            if not chosen and not self.select["multiple"] and self.select["options"]:
                chosen = self.select["options"][:1]
            self.pairs += [(self.select["name"], value) for value in chosen]
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            text = "".join(self.textarea[1])
            self.pairs.append((self.textarea[0], text.removeprefix("\r\n").removeprefix("\n")))
            self.textarea = None


def form_data(response, model):
    parser = _FormFields(f"{model._meta.model_name}_form")
    parser.feed(response.content.decode())
    data = {}
    for name, value in parser.pairs:
        data.setdefault(name, []).append(value)
    return {name: values if len(values) > 1 else values[0] for name, values in data.items()}


def fingerprint():
    """Every row of every tracker table (and the auth groups and the login records)."""
    models = [
        *apps.get_app_config("tracker").get_models(),
        Group,
        AccessAttempt,
        AccessLog,
        AccessFailureLog,
    ]
    return {m._meta.label: list(m._default_manager.order_by("pk").values_list()) for m in models}


def history_rows(obj, *, after_id):
    ctype = ContentType.objects.get_for_model(obj, for_concrete_model=True)
    return ChangeLog.objects.filter(content_type=ctype, object_id=obj.pk, pk__gt=after_id)


def last_log_id():
    return ChangeLog.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


@pytest.fixture
def manager(client):
    user = factories.user(Role.MANAGER, is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def _admin(model):
    return admin.site._registry[model]


def _may(model, what, rf, user, obj=None):
    request = rf.get("/")
    request.user = user
    if what == "add":
        return _admin(model).has_add_permission(request)
    return _admin(model).has_change_permission(request, obj)


# One real change per model: what a person would type into the change form.
CHANGES = {
    Region: lambda obj: {"name": "改名区"},
    Park: lambda obj: {"name": "改名园区"},
    IndustryChain: lambda obj: {"lead_unit": "市发改委", "anchor_enterprises": []},
    ChainLeader: lambda obj: {"title": "新职务"},
    User: lambda obj: {"last_name": "新姓", "groups": [str(Group.objects.create(name="g").pk)]},
    Group: lambda obj: {"name": "改名组"},
    Enterprise: lambda obj: {"name": "改名企业", "above_scale": "on"},
    AnnualIndicator: lambda obj: {"name": "改名指标", "value": "2.75"},
    Project: lambda obj: {"name": "改名项目", "signed_amount": "77777"},
    Inspection: lambda obj: {"title": "改标题", "findings": "新发现"},
    RectificationItem: lambda obj: {"description": "新描述", "deadline": "2022-07-31"},
    # read-only: these changes must be refused
    AssessmentWeight: lambda obj: {"weight": "55"},
    AssessmentAdjustment: lambda obj: {"points": "9", "reason": "改"},
    WeeklyDispatch: lambda obj: {"completed_investment": "99999999"},
    Problem: lambda obj: {"title": "改标题"},
    ProblemEvent: lambda obj: {"note": "改"},
    MonthlyReport: lambda obj: {"reason": "改"},
    StageChange: lambda obj: {"to_stage": Stage.PRODUCTION},
    ChangeLog: lambda obj: {"new_value": "forged"},
    MissingDispatch: lambda obj: {"iso_week": "30"},
    AccessAttempt: lambda obj: {"failures_since_start": "0"},
    AccessLog: lambda obj: {"username": "forged"},
    AccessFailureLog: lambda obj: {"locked_out": "on"},
}


def _add_project():
    e = factories.enterprise()
    return {
        "code": "NEW-9",
        "name": "新增项目",
        "enterprise": e.pk,
        "region": e.region_id,
        "chain": factories.chain().pk,
        "signed_on": "2022-05-01",
        "signed_amount": "25000",
    }


def _add_item():
    inspection = BUILDERS[Inspection](1)
    return {
        "inspection": inspection.pk,
        "description": "新增整改事项",
        "owner_unit": "县工信局",
        "deadline": "2022-06-30",
    }


# What a person types into each add form (the page's defaults fill in the rest).
ADDS = {
    Region: lambda: {"code": "xq", "name": "新区", "kind": RegionKind.COUNTY},
    Park: lambda: {"name": "新园区", "region": factories.region().pk},
    IndustryChain: lambda: {"code": "xl", "name": "新链", "lead_unit": "市工信局"},
    ChainLeader: lambda: {"chain": factories.chain().pk, "position": "leader", "title": "链长"},
    User: lambda: {
        "username": "xinren",
        "password1": "Yichun-test-2022",
        "password2": "Yichun-test-2022",
        "role": Role.MANAGER,
    },
    Group: lambda: {"name": "新组", "permissions": [str(Permission.objects.first().pk)]},
    Enterprise: lambda: {"name": "新企业", "region": factories.region().pk},
    AnnualIndicator: lambda: {"year": "2022", "key": "new", "name": "新指标", "value": "1.5"},
    Project: _add_project,
    Inspection: lambda: {
        "year": "2022",
        "quarter": "2",
        "region": factories.region().pk,
        "title": "新督查",
        "inspected_on": "2022-05-10",
    },
    RectificationItem: _add_item,
}


def _build(model):
    if model is Group:
        return Group.objects.create(name="老组")
    return BUILDERS[model](1)


def test_every_registered_model_has_a_change_and_its_editable_ones_an_add():
    assert set(REGISTERED) == set(CHANGES), "add a CHANGES entry for every registered model"


@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m._meta.label)
def test_an_admin_change_is_refused_or_recorded_field_by_field(client, rf, manager, model):
    obj = _build(model)
    obj = type(obj)._default_manager.get(pk=obj.pk)  # as stored
    page = client.get(url(model, "change", obj.pk))
    assert page.status_code == 200
    data = {**form_data(page, model), **CHANGES[model](obj), "_save": "save"}
    before, before_m2m = snapshot(obj), snapshot_m2m(obj)
    before_db, log_id = fingerprint(), last_log_id()

    response = client.post(url(model, "change", obj.pk), data)

    if not _may(model, "change", rf, manager, obj):
        assert response.status_code == 403
        assert fingerprint() == before_db, "a read-only model changed"
        return
    assert response.status_code == 302, response.context["adminform"].form.errors
    obj = type(obj)._default_manager.get(pk=obj.pk)
    after = {**snapshot(obj), **snapshot_m2m(obj)}
    changed = {k for k, v in {**before, **before_m2m}.items() if after[k] != v}
    assert changed, "the test's change must change something"
    recorded = history_rows(obj, after_id=log_id)
    assert {row.changed_by for row in recorded} == {manager}
    assert changed <= set(recorded.values_list("field", flat=True)), (
        f"{model._meta.label}: changed {sorted(changed)} without a history row"
    )


@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m._meta.label)
def test_an_admin_add_is_refused_or_recorded(client, rf, manager, model):
    if not _may(model, "add", rf, manager):
        assert model not in ADDS
        before_db = fingerprint()
        response = client.post(url(model, "add"), {"_save": "save"})
        assert response.status_code == 403
        assert fingerprint() == before_db
        return
    typed = ADDS[model]()
    page = client.get(url(model, "add"))
    assert page.status_code == 200
    existing = set(model._default_manager.values_list("pk", flat=True))
    log_id = last_log_id()

    response = client.post(url(model, "add"), {**form_data(page, model), **typed, "_save": "1"})

    assert response.status_code == 302, response.context["adminform"].form.errors
    (created,) = model._default_manager.exclude(pk__in=existing)
    rows = history_rows(created, after_id=log_id)
    assert rows.filter(action=ChangeAction.CREATE, field="", changed_by=manager).exists()


# --- the rules the admin once skipped ------------------------------------------------------
def _error_text(message):
    with translation.override("zh-hans"):  # the language the admin is served in
        return str(message)


def test_admin_weights_must_total_100_and_nothing_is_saved(client, manager):
    assessments.ensure_default_weights(2022)
    page_url = url(AssessmentWeight, "year", 2022)
    page = client.get(page_url)
    data = form_data(page, AssessmentWeight)
    before_db, log_id = fingerprint(), last_log_id()
    response = client.post(page_url, {**data, "signed_amount": "35"})  # 25 → 35: total 110
    assert response.status_code == 200
    expected = _error_text(
        assessments._("The weights add up to %(total)s points; they must add up to %(required)s.")
        % {"total": 110, "required": 100}
    )
    assert expected in response.content.decode()
    assert fingerprint() == before_db and last_log_id() == log_id


def test_admin_weights_page_saves_through_set_weights_with_history(client, manager):
    page_url = url(AssessmentWeight, "year", 2022)
    data = form_data(client.get(page_url), AssessmentWeight)
    response = client.post(page_url, {**data, "signed_amount": "35", "count_5020": "5"})
    assert response.status_code == 302
    saved = dict(AssessmentWeight.objects.filter(year=2022).values_list("key", "weight"))
    assert (saved["signed_amount"], saved["count_5020"]) == (D(35), D(5))
    changes = ChangeLog.objects.filter(content_type__model="assessmentweight", field="weight")
    assert {(c.old_value, c.new_value) for c in changes} == {("25.00", "35.00"), ("15.00", "5.00")}


def test_admin_weights_page_is_for_those_who_may_adjust(client):
    client.force_login(factories.user(Role.COUNTY, is_staff=True))
    response = client.post(url(AssessmentWeight, "year", 2022), {"signed_amount": "100"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not AssessmentWeight.objects.exists()


def test_admin_item_deadline_before_the_inspection_is_refused(client, manager):
    typed = _add_item()
    page = client.get(url(RectificationItem, "add"))
    before_db, log_id = fingerprint(), last_log_id()
    response = client.post(
        url(RectificationItem, "add"),
        {**form_data(page, RectificationItem), **typed, "deadline": "2022-05-09"},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["deadline"] == [
        _error_text(inspections.DEADLINE_BEFORE_INSPECTION)
    ]
    assert fingerprint() == before_db and last_log_id() == log_id

    item = RectificationItem.objects.first()
    page = client.get(url(RectificationItem, "change", item.pk))
    response = client.post(
        url(RectificationItem, "change", item.pk),
        {**form_data(page, RectificationItem), "deadline": "2022-05-09", "_save": "1"},
    )
    assert response.status_code == 200
    assert "deadline" in response.context["adminform"].form.errors
    assert fingerprint() == before_db and last_log_id() == log_id


def test_admin_inspection_date_cannot_move_after_an_item_deadline(client, manager):
    inspection = BUILDERS[Inspection](1)  # inspected 2022-05-10
    RectificationItem.objects.create(
        inspection=inspection,
        description="限期",
        owner_unit="县工信局",
        deadline=datetime.date(2022, 5, 31),
    )
    page = client.get(url(Inspection, "change", inspection.pk))
    before_db, log_id = fingerprint(), last_log_id()
    response = client.post(
        url(Inspection, "change", inspection.pk),
        {**form_data(page, Inspection), "inspected_on": "2022-06-01", "_save": "1"},
    )
    assert response.status_code == 200
    assert "inspected_on" in response.context["adminform"].form.errors
    assert fingerprint() == before_db and last_log_id() == log_id


def test_admin_project_edit_keeps_the_front_ends_date_rules(client, manager):
    project = factories.project()  # at 签约: no start date can be entered yet
    page = client.get(url(Project, "change", project.pk))
    before_db, log_id = fingerprint(), last_log_id()
    response = client.post(
        url(Project, "change", project.pk),
        {**form_data(page, Project), "actual_start_on": "2022-04-01", "_save": "1"},
    )
    assert response.status_code == 200
    assert "actual_start_on" in response.context["adminform"].form.errors
    assert fingerprint() == before_db and last_log_id() == log_id


def test_admin_dispatch_over_the_cap_is_refused_and_nothing_saved(client, manager):
    project = factories.project(signed_amount=D("1000"))
    report = factories.dispatch(project, completed_investment=D("100"))
    page = client.get(url(WeeklyDispatch, "change", report.pk))
    before_db = fingerprint()
    response = client.post(
        url(WeeklyDispatch, "change", report.pk),
        {**form_data(page, WeeklyDispatch), "completed_investment": "99999999"},
    )
    assert response.status_code == 403
    assert fingerprint() == before_db


# --- each service writes its history ---------------------------------------------------------
def _inspection(by):
    return inspections.create_inspection(
        data={
            "year": 2022,
            "quarter": 2,
            "region": factories.region(),
            "title": "督查",
            "inspected_on": datetime.date(2022, 5, 10),
        },
        by=by,
    )


def _item(by):
    return inspections.add_item(
        inspection=_inspection(by),
        description="事项",
        owner_unit="县工信局",
        deadline=datetime.date(2022, 6, 30),
        by=by,
    )


def _create_project(by):
    e = factories.enterprise()
    return projects_service.create_project(
        data={
            "code": "S-1",
            "name": "服务项目",
            "enterprise": e,
            "region": e.region,
            "chain": factories.chain(),
            "signed_on": datetime.date(2022, 3, 1),
            "signed_amount": D("30000"),
        },
        by=by,
    )


def _delete(obj, service, **kw):
    kept = type(obj)(pk=obj.pk)  # the history outlives the row
    service(by=kw.pop("by"), **kw)
    return kept


# name → (perform(by) → the object whose history is checked, the fields expected)
SERVICES = {
    "create_project": (_create_project, {"", "name", "signed_amount"}),
    "update_project": (
        lambda by: update_project(
            project_id=factories.project().pk, data={"name": "新"}, expected_version=1, by=by
        ),
        {"name"},
    ),
    "advance_to": (
        lambda by: factories.project().advance_to(
            Stage.REGISTERED, on=datetime.date(2022, 6, 1), by=by
        ),
        {"stage"},
    ),
    "delete_project": (
        lambda by: _delete(
            p := factories.project(), projects_service.delete_project, project=p, by=by
        ),
        {""},
    ),
    "create_inspection": (_inspection, {""}),
    "update_inspection": (
        lambda by: inspections.update_inspection(
            inspection=_inspection(by), data={"title": "改"}, by=by
        ),
        {"title"},
    ),
    "delete_inspection": (
        lambda by: _delete(
            i := _inspection(by), inspections.delete_inspection, inspection=i, by=by
        ),
        {""},
    ),
    "add_item": (_item, {""}),
    "update_item": (
        lambda by: inspections.update_item(
            item=_item(by), data={"deadline": datetime.date(2022, 7, 1)}, by=by
        ),
        {"deadline"},
    ),
    "delete_item": (
        lambda by: _delete(i := _item(by), inspections.delete_item, item=i, by=by),
        {""},
    ),
    "mark_item_done": (
        lambda by: inspections.mark_item_done(
            item=_item(by), on=datetime.date(2022, 6, 1), note="已整改", by=by
        ),
        {"status", "done_on", "done_note"},
    ),
    "escalate_item": (
        lambda by: inspections.escalate_item(item=_item(by), by=by),
        {"escalated"},
    ),
    "set_weights": (
        lambda by: assessments.set_weights(
            year=2022, values={"signed_amount": D(30), "count_5020": D(10)}, by=by
        )[0],
        {"weight"},
    ),
    "add_adjustment": (
        lambda by: assessments.add_adjustment(
            year=2022, region=factories.region(), points=D(2), reason="加分", by=by
        ),
        {""},
    ),
    "file_weekly_dispatch": (
        lambda by: dispatching.file_weekly_dispatch(
            iso_year=(week := timezone.localdate().isocalendar())[0],
            iso_week=week[1],
            rows=[
                {
                    "project": factories.project(signed_on=datetime.date(2022, 1, 5)).pk,
                    "completed_investment": D(10),
                }
            ],
            by=by,
        ).reports[0],
        {"stage", "completed_investment"},  # the first filing records its values
    ),
    "raise_problem": (
        lambda by: problems.raise_problem(by=by, title="用地指标", project=factories.project()),
        {""},
    ),
}


@pytest.mark.parametrize("name", list(SERVICES))
def test_each_service_writes_its_history_row(name):
    by = factories.user(Role.MANAGER)
    log_id = last_log_id()
    perform, fields = SERVICES[name]
    obj = perform(by)
    rows = history_rows(obj, after_id=log_id).filter(changed_by=by)
    assert fields <= set(rows.values_list("field", flat=True)), name


def test_a_created_project_starts_its_history_with_the_signing():
    by = factories.user(Role.MANAGER)
    project = _create_project(by)
    assert list(
        project.stage_changes.values_list("from_stage", "to_stage", "effective_on", "changed_by")
    ) == [("", Stage.SIGNED, datetime.date(2022, 3, 1), by.pk)]
    assert project.stage == Stage.SIGNED and project.version == 1


def test_creating_a_project_is_for_managers_and_saves_nothing_otherwise():
    county = factories.user(Role.COUNTY)
    with pytest.raises(projects_service.PermissionDenied):
        _create_project(county)
    assert not Project.objects.filter(code="S-1").exists()


def test_the_deadline_rule_lives_in_the_item_service():
    by = factories.user(Role.MANAGER)
    item = inspections.update_item(
        item=_item(by), data={"deadline": datetime.date(2022, 5, 31)}, by=by
    )
    for call in (
        lambda: inspections.add_item(
            inspection=item.inspection,
            description="早于督查",
            owner_unit="县工信局",
            deadline=datetime.date(2022, 5, 9),
            by=by,
        ),
        lambda: inspections.update_item(
            item=item, data={"deadline": datetime.date(2022, 5, 9)}, by=by
        ),
        lambda: inspections.update_inspection(
            inspection=item.inspection, data={"inspected_on": datetime.date(2022, 6, 1)}, by=by
        ),
    ):
        before = fingerprint()
        with pytest.raises(inspections.ValidationError):
            call()
        assert fingerprint() == before
    # the day itself is allowed
    inspections.update_item(item=item, data={"deadline": datetime.date(2022, 5, 10)}, by=by)


def test_inline_and_many_to_many_changes_of_reference_data_are_recorded(client, manager):
    chain = BUILDERS[IndustryChain](1)  # one leader inline, one anchor enterprise
    leader = chain.leaders.get()
    page = client.get(url(IndustryChain, "change", chain.pk))
    data = form_data(page, IndustryChain)
    prefix = "leaders-0-"
    data = {**data, prefix + "title": "新链长职务", "anchor_enterprises": [], "_save": "1"}
    log_id = last_log_id()
    response = client.post(url(IndustryChain, "change", chain.pk), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert history_rows(leader, after_id=log_id).filter(field="title").exists()
    assert history_rows(chain, after_id=log_id).filter(field="anchor_enterprises").exists()


def test_a_password_change_is_recorded_without_the_hash(client, manager):
    user = factories.user()
    old_hash = user.password
    log_id = last_log_id()
    response = client.post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {"password1": "Yichun-new-2022", "password2": "Yichun-new-2022"},
    )
    assert response.status_code == 302
    (row,) = history_rows(user, after_id=log_id)
    assert row.field == "password" and old_hash not in row.old_value + row.new_value
    user.refresh_from_db()
    assert user.password not in row.old_value + row.new_value


EXPECTED_READ_ONLY = {
    WeeklyDispatch,
    Problem,
    ProblemEvent,
    MonthlyReport,
    StageChange,
    ChangeLog,
    AssessmentAdjustment,
    AssessmentWeight,
    MissingDispatch,
}


def test_the_review_cycle_records_are_read_only_in_the_admin(rf):
    request = rf.get("/")
    request.user = factories.user(Role.MANAGER, is_staff=True, is_superuser=True)
    editable = {
        m
        for m, model_admin in admin.site._registry.items()
        if model_admin.has_add_permission(request) or model_admin.has_change_permission(request)
    }
    assert not editable & EXPECTED_READ_ONLY
    assert editable >= {Project, Inspection, RectificationItem, Region, User}


def test_a_new_deadline_not_in_the_past_clears_the_items_overdue_flag():
    by = factories.user(Role.MANAGER)
    item = _item(by)
    RectificationItem.objects.filter(pk=item.pk).update(overdue_since=datetime.date(2022, 6, 1))
    item.refresh_from_db()
    later = timezone.localdate() + datetime.timedelta(days=10)
    item = inspections.update_item(item=item, data={"deadline": later}, by=by)
    item.refresh_from_db()
    assert item.overdue_since is None
    assert (
        history_for(item)
        .filter(field="overdue_since", old_value="2022-06-01", new_value="")
        .exists()
    )
