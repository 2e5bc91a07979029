"""The admin: every registered model browses, searches, filters, and keeps its history."""

import datetime
import itertools
from decimal import Decimal

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from tests import factories
from tracker.choices import ChainLeaderPosition, ChangeAction, Role, Stage
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
from tracker.services import record_creation

pytestmark = pytest.mark.django_db


# One builder per registered model: ``build(n)`` makes n rows and returns one of them.
# A model registered in the admin without a builder here fails test_every_model_has_a_builder.
def _regions(n):
    rows = [factories.region() for _ in range(n)]
    return rows[0]


def _parks(n):
    r = factories.region()
    rows = [factories.park(region=r) for _ in range(n)]
    return rows[0]


def _chains(n):
    chains = [factories.chain() for _ in range(n)]
    anchor = factories.enterprise()
    for c in chains:
        c.anchor_enterprises.add(anchor)
        ChainLeader.objects.create(
            chain=c, position=ChainLeaderPosition.LEADER, title="市政府副市长"
        )
    return chains[0]


def _chain_leaders(n):
    c = factories.chain()
    rows = [
        ChainLeader.objects.create(
            chain=c,
            position=ChainLeaderPosition.DEPUTY,
            title=f"副职{i}",
            user=factories.user(role=Role.CHAIN_OFFICE, chain=c),
        )
        for i in range(n)
    ]
    return rows[0]


def _users(n):
    rows = [factories.user() for _ in range(n)]
    return rows[0]


def _enterprises(n):
    r, c = factories.region(), factories.chain()
    rows = [factories.enterprise(region=r, chain=c) for _ in range(n)]
    return rows[0]


def _projects(n):
    r, c = factories.region(), factories.chain()
    e = factories.enterprise(region=r, chain=c)
    rows = [
        factories.project(
            region=r,
            enterprise=e,
            chain=c,
            signed_amount=Decimal(10000 * (i + 1)),
            history=[(Stage.REGISTERED, datetime.date(2022, 4, 1))] if i % 2 else None,
        )
        for i in range(n)
    ]
    return rows[0]


def _stage_changes(n):
    _projects(n)
    return StageChange.objects.first()


def _dispatches(n):
    p = _projects(1)
    filer = factories.user(region=p.region)
    rows = [factories.dispatch(p, iso_week=i + 1, filed_by=filer) for i in range(n)]
    return rows[0]


def _change_logs(n):
    p = _projects(1)
    by = factories.user(region=p.region)
    rows = [record_creation(p, by=by) for _ in range(n)]
    return rows[0]


def _indicators(n):
    start = AnnualIndicator.objects.count()
    rows = [
        AnnualIndicator.objects.create(
            year=2022, key=f"k{start + i}", name=f"指标{i}", value=Decimal("1.5"), unit="亿元"
        )
        for i in range(n)
    ]
    return rows[0]


def _monthly_reports(n):
    by = factories.user(Role.MANAGER)
    start = MonthlyReport.objects.count()
    rows = [
        MonthlyReport.objects.create(
            year=2022,
            month=12,
            version=start + i + 1,
            data={"n": i},
            published_by=by,
            reason="" if start + i == 0 else f"更正{i}",
        )
        for i in range(n)
    ]
    return rows[0]


def _inspections(n):
    region = factories.region()
    rows = [
        Inspection.objects.create(
            year=2022,
            quarter=2,
            region=region,
            title=f"二季度督查{i}",
            inspected_on=datetime.date(2022, 5, 10),
        )
        for i in range(n)
    ]
    for row in rows:
        RectificationItem.objects.create(
            inspection=row,
            description="整改事项",
            owner_unit="县工信局",
            deadline=datetime.date(2022, 6, 30),
        )
    return rows[0]


def _rectification_items(n):
    inspection = _inspections(1)
    rows = [
        RectificationItem.objects.create(
            inspection=inspection,
            description=f"事项{i}",
            owner_unit="县工信局",
            deadline=datetime.date(2022, 6, 30),
        )
        for i in range(n)
    ]
    return rows[0]


def _weights(n):
    start = AssessmentWeight.objects.count()
    rows = [
        AssessmentWeight.objects.create(
            year=2022, key=f"w{start + i}", name=f"指标{i}", weight=Decimal("10")
        )
        for i in range(n)
    ]
    return rows[0]


def _adjustments(n):
    by = factories.user(Role.MANAGER)
    rows = [
        AssessmentAdjustment.objects.create(
            year=2022,
            region=factories.region(),
            points=Decimal("2"),
            reason="加分理由",
            adjusted_by=by,
        )
        for i in range(n)
    ]
    return rows[0]


def _problems(n):
    p = _projects(1)
    by = factories.user(region=p.region)
    rows = [
        Problem.objects.create(
            chain=p.chain,
            project=p,
            region=p.region,
            title=f"问题{i}",
            raised_by=by,
            raised_on=datetime.date(2022, 5, 1),
        )
        for i in range(n)
    ]
    for row in rows:
        ProblemEvent.objects.create(problem=row, action="raise", to_status="raised", by=by)
    return rows[0]


def _problem_events(n):
    problem = _problems(1)
    rows = [
        ProblemEvent.objects.create(problem=problem, action="comment", note=f"备注{i}")
        for i in range(n)
    ]
    return rows[0]


def _missing_dispatches(n):
    p = _projects(1)
    rows = [
        MissingDispatch.objects.create(project=p, iso_year=2022, iso_week=i + 1) for i in range(n)
    ]
    return rows[0]


_guesses = itertools.count(1)


def _login_records(model, **fields):
    """django-axes' records (the login throttle), as its handler writes them."""

    def build(n):
        common = {"user_agent": "Chromium", "http_accept": "text/html", "path_info": "/"}
        rows = [
            model.objects.create(
                username=f"guess{next(_guesses)}", ip_address="10.0.0.1", **common, **fields
            )
            for _ in range(n)
        ]
        return rows[0]

    return build


BUILDERS = {
    AccessAttempt: _login_records(AccessAttempt, get_data="", post_data="", failures_since_start=1),
    AccessLog: _login_records(AccessLog),
    AccessFailureLog: _login_records(AccessFailureLog),
    MonthlyReport: _monthly_reports,
    Inspection: _inspections,
    RectificationItem: _rectification_items,
    AssessmentWeight: _weights,
    AssessmentAdjustment: _adjustments,
    Problem: _problems,
    ProblemEvent: _problem_events,
    MissingDispatch: _missing_dispatches,
    Region: _regions,
    Park: _parks,
    IndustryChain: _chains,
    ChainLeader: _chain_leaders,
    User: _users,
    Enterprise: _enterprises,
    Project: _projects,
    StageChange: _stage_changes,
    WeeklyDispatch: _dispatches,
    ChangeLog: _change_logs,
    AnnualIndicator: _indicators,
}
REGISTERED = sorted(admin.site._registry, key=lambda m: m._meta.label)


def url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def superuser(admin_user):
    return admin_user


def test_every_model_has_a_builder():
    missing = [
        m._meta.label for m in REGISTERED if m._meta.app_label == "tracker" and m not in BUILDERS
    ]
    assert not missing, f"add a builder in tests/test_admin.py for {missing}"
    assert set(BUILDERS) <= set(admin.site._registry), "every tracker model is in the admin"


@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m._meta.label)
def test_changelist_and_add_page_render(admin_client, superuser, rf, model):
    assert admin_client.get(url(model, "changelist")).status_code == 200
    request = rf.get("/")
    request.user = superuser
    can_add = admin.site._registry[model].has_add_permission(request)
    assert admin_client.get(url(model, "add")).status_code == (200 if can_add else 403)


@pytest.mark.parametrize("model", list(BUILDERS), ids=lambda m: m._meta.label)
def test_change_page_of_an_object_renders(admin_client, model):
    obj = BUILDERS[model](2)
    response = admin_client.get(url(model, "change", obj.pk))
    assert response.status_code == 200
    assert response.context["original"] == obj


@pytest.mark.parametrize("model", list(BUILDERS), ids=lambda m: m._meta.label)
def test_changelist_queries_do_not_grow_with_rows(admin_client, model):
    def count_queries():
        with CaptureQueriesContext(connection) as ctx:
            response = admin_client.get(url(model, "changelist"))
        assert response.status_code == 200
        return len(ctx.captured_queries), response.context["cl"].result_count

    BUILDERS[model](5)
    count_queries()  # warm the per-process caches (content types, site) first
    few, few_rows = count_queries()
    BUILDERS[model](45)
    many, many_rows = count_queries()
    assert many_rows >= few_rows + 45
    assert many == few, (
        f"{model._meta.label}: {few} queries for {few_rows} rows, {many} for {many_rows}"
    )


def test_project_changelist_shows_the_derived_tier_and_billion_flag(admin_client):
    big = factories.project(signed_amount=Decimal("600000"), code="BIG1")
    small = factories.project(signed_amount=Decimal("5000"), code="SML1")
    response = admin_client.get(url(Project, "changelist"))
    rows = {p.code: p for p in response.context["cl"].result_list}
    assert rows[big.code].tier_5020_value == 50 and rows[big.code].is_billion_value
    assert rows[small.code].tier_5020_value == 0 and not rows[small.code].is_billion_value
    response = admin_client.get(url(Project, "changelist"), {"tier": "50"})
    assert [p.code for p in response.context["cl"].result_list] == ["BIG1"]
    response = admin_client.get(url(Project, "changelist"), {"billion": "0"})
    assert [p.code for p in response.context["cl"].result_list] == ["SML1"]


def test_project_search_finds_code_name_and_enterprise(admin_client):
    target = factories.project(
        code="YC-2022-777",
        name="锂电池隔膜项目",
        enterprise=factories.enterprise(name="宜春某某新材料有限公司"),
    )
    factories.project(code="YC-2022-001", name="其他项目")
    for q in ("777", "隔膜", "某某新材料"):
        response = admin_client.get(url(Project, "changelist"), {"q": q})
        assert list(response.context["cl"].result_list) == [target], q


def test_project_filters_by_region_and_stage(admin_client):
    r = factories.region()
    started = factories.project(region=r, stage=Stage.STARTED)
    factories.project(region=r)
    factories.project(stage=Stage.STARTED)
    response = admin_client.get(
        url(Project, "changelist"), {"region__id__exact": r.pk, "stage__exact": Stage.STARTED}
    )
    assert list(response.context["cl"].result_list) == [started]


def test_non_staff_user_is_sent_to_the_login_page(client):
    client.force_login(factories.user())
    response = client.get(url(Project, "changelist"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_anonymous_user_is_sent_to_the_login_page(client):
    response = client.get(url(Project, "changelist"))
    assert response.status_code == 302
    assert "login" in response.url


def test_change_log_cannot_be_added_changed_or_deleted(admin_client, superuser):
    entry = _change_logs(1)
    response = admin_client.get(url(ChangeLog, "change", entry.pk))
    assert response.status_code == 200
    assert not response.context["has_change_permission"]
    response = admin_client.post(
        url(ChangeLog, "change", entry.pk), {"field": "forged", "new_value": "forged"}
    )
    assert response.status_code == 403
    assert admin_client.post(url(ChangeLog, "delete", entry.pk), {"post": "yes"}).status_code == 403
    assert admin_client.get(url(ChangeLog, "add")).status_code == 403
    entry.refresh_from_db()
    assert entry.field == "" and entry.new_value == ""


def _project_form_data(project, **changes):
    data = {
        "code": project.code,
        "name": project.name,
        "enterprise": project.enterprise_id,
        "region": project.region_id,
        "park": "",
        "chain": project.chain_id,
        "is_sample": "",
        "capital_source": project.capital_source,
        "signed_on": project.signed_on.isoformat(),
        "signed_amount": str(project.signed_amount),
        "planned_start_on": "",
        "planned_production_on": "",
        "actual_start_on": project.actual_start_on.isoformat() if project.actual_start_on else "",
        "actual_production_on": "",
        "annual_planned_investment": "0",
        "completed_investment": "0",
        "responsible_leader": "",
        "responsible_unit": "",
        "commissioner": "",
        "notes": "",
        "expected_version": project.version,
        "stage_changes-TOTAL_FORMS": "0",
        "stage_changes-INITIAL_FORMS": str(project.stage_changes.count() if project.pk else 0),
        "stage_changes-MIN_NUM_FORMS": "0",
        "stage_changes-MAX_NUM_FORMS": "0",
        "_save": "save",
    }
    data.update(changes)
    return data


def test_project_admin_save_records_history_and_bumps_the_version(admin_client, superuser):
    project = factories.project(name="旧名称")
    response = admin_client.post(
        url(Project, "change", project.pk),
        _project_form_data(project, name="新名称", stage=Stage.PRODUCTION),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    project.refresh_from_db()
    assert project.name == "新名称"
    assert project.stage == Stage.SIGNED, "the stage cannot be typed in the admin"
    assert project.version == 2
    log = ChangeLog.objects.get(object_id=project.pk, field="name")
    assert (log.old_value, log.new_value, log.changed_by) == ("旧名称", "新名称", superuser)
    assert not ChangeLog.objects.filter(object_id=project.pk, field="stage").exists()


def test_moving_a_project_in_the_admin_moves_its_problems(admin_client, superuser):
    problem = _problems(1)
    project = problem.project
    other_region, other_chain = factories.region(), factories.chain()
    response = admin_client.post(
        url(Project, "change", project.pk),
        _project_form_data(project, region=other_region.pk, chain=other_chain.pk),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    problem.refresh_from_db()
    assert (problem.region, problem.chain) == (other_region, other_chain)
    moved = ChangeLog.objects.filter(
        content_type__model="problem", object_id=problem.pk, field__in=["region", "chain"]
    )
    assert moved.count() == 2 and {row.changed_by for row in moved} == {superuser}


def test_project_admin_refuses_a_stale_edit(admin_client):
    project = factories.project(name="原名")
    Project.objects.filter(pk=project.pk).update(version=5, name="别人改的")
    response = admin_client.post(
        url(Project, "change", project.pk), _project_form_data(project, name="我改的")
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors()
    project.refresh_from_db()
    assert (project.name, project.version) == ("别人改的", 5)


def test_project_admin_add_records_creation(admin_client, superuser):
    e = factories.enterprise()
    c = factories.chain()
    data = _project_form_data(
        Project(
            code="NEW-1",
            name="新项目",
            enterprise=e,
            region=e.region,
            chain=c,
            signed_on=datetime.date(2022, 5, 1),
            signed_amount=Decimal("12000"),
        ),
        expected_version="",
    )
    response = admin_client.post(url(Project, "add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    project = Project.objects.get(code="NEW-1")
    created = ChangeLog.objects.filter(
        content_type__model="project", object_id=project.pk, action=ChangeAction.CREATE
    )
    assert {row.changed_by for row in created} == {superuser}
    values = {row.field: (row.old_value, row.new_value) for row in created}
    assert values[""] == ("", ""), "the creation row itself"
    assert values["name"] == ("", "新项目") and values["signed_amount"] == ("", "12000.00")
    # its history starts with the signing, so "stage as of a day" has an answer
    assert list(project.stage_changes.values_list("from_stage", "to_stage", "effective_on")) == [
        ("", Stage.SIGNED, datetime.date(2022, 5, 1))
    ]
    as_of = Project.objects.with_stage_as_of(datetime.date(2022, 6, 1)).get(pk=project.pk)
    assert as_of.stage_as_of == Stage.SIGNED


def test_change_stage_action_goes_through_advance_to(admin_client, superuser):
    signed = factories.project(code="A1")
    ended = factories.project(code="A2", stage=Stage.REGISTERED)
    changelist = url(Project, "changelist")
    selection = {"action": "change_stage", "_selected_action": [signed.pk, ended.pk]}
    response = admin_client.post(changelist, selection)
    assert response.status_code == 200
    assert "form" in response.context
    response = admin_client.post(
        changelist,
        {**selection, "apply": "1", "stage": Stage.REGISTERED, "effective_on": "2022-06-01"},
    )
    assert response.status_code == 302
    signed.refresh_from_db()
    ended.refresh_from_db()
    assert signed.stage == Stage.REGISTERED and signed.version == 2
    change = signed.stage_changes.get(to_stage=Stage.REGISTERED)
    assert (change.effective_on, change.changed_by) == (datetime.date(2022, 6, 1), superuser)
    assert ended.stage == Stage.REGISTERED and ended.version == 1, "already there: refused"


def test_dispatch_is_read_only_in_the_admin_even_over_the_cap(admin_client):
    """The dispatch sheet is the one write path (cap, cumulative figures, the project's own
    figure): a report edited in the admin is refused and nothing changes."""
    project = factories.project(signed_amount=Decimal("1000"))
    d = factories.dispatch(project, completed_investment=Decimal("100"))
    response = admin_client.post(
        url(WeeklyDispatch, "change", d.pk),
        {
            "project": d.project_id,
            "iso_year": d.iso_year,
            "iso_week": d.iso_week,
            "stage": d.stage,
            "completed_investment": "99999999",  # far over the cap
            "progress": "主体结构封顶",
            "problems": "",
        },
    )
    assert response.status_code == 403
    d.refresh_from_db()
    project.refresh_from_db()
    assert d.completed_investment == Decimal("100") and d.progress != "主体结构封顶"
    assert project.version == 1
    assert not ChangeLog.objects.filter(field="completed_investment").exists()


def test_project_delete_is_recorded(admin_client, superuser):
    project = factories.project(code="DEL-1")
    response = admin_client.post(url(Project, "delete", project.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not Project.objects.filter(pk=project.pk).exists()
    assert ChangeLog.objects.filter(action=ChangeAction.DELETE, object_repr__startswith="DEL-1")


def test_project_page_shows_stage_changes_with_their_labels(admin_client):
    project = factories.project(stage=Stage.STARTED)
    page = admin_client.get(url(Project, "change", project.pk)).content.decode()
    with translation.override("zh-hans"):  # the language the page is served in
        expected = f"{project.code}: {Stage.SIGNED.label} → {Stage.STARTED.label}"
    assert expected in page


def test_user_admin_sets_role_and_region_and_enforces_the_region_rule(admin_client):
    r = factories.region()
    form = {
        "username": "xinzeng",
        "usable_password": "true",
        "password1": "Yichun-test-2022",
        "password2": "Yichun-test-2022",
        "role": Role.COUNTY,
        "region": "",
        "chain": "",
        "_save": "save",
    }
    response = admin_client.post(url(User, "add"), form)
    assert response.status_code == 200
    with translation.override("zh-hans"):
        expected = translation.gettext("County staff must belong to a region.")
    assert expected in response.context["adminform"].form.non_field_errors()
    assert not User.objects.filter(username="xinzeng").exists()

    response = admin_client.post(url(User, "add"), {**form, "region": r.pk})
    assert response.status_code == 302
    created = User.objects.get(username="xinzeng")
    assert (created.role, created.region) == (Role.COUNTY, r)
    page = admin_client.get(url(User, "changelist"), {"role__exact": Role.COUNTY}).content
    assert "xinzeng" in page.decode()


@pytest.mark.parametrize("role", [Role.COUNTY, Role.COMMISSIONER, Role.CHAIN_OFFICE])
def test_admin_is_for_managers_even_if_staff_is_ticked(client, role):
    """Model permissions are not scoped by region: a county user made staff by mistake
    must still not reach the back office."""
    user = factories.user(role, is_staff=True)
    client.force_login(user)
    response = client.get(url(Project, "changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_manager_with_staff_flag_uses_the_admin(client):
    client.force_login(factories.user(Role.MANAGER, is_staff=True, is_superuser=False))
    # the manager group's permissions come with the seed; without them the index is empty
    assert client.get(reverse("admin:index")).status_code == 200


def test_problems_and_dispatch_facts_are_read_only_in_the_admin(admin_client):
    problem = _problems(1)
    response = admin_client.post(url(Problem, "change", problem.pk), {"title": "改标题"})
    assert response.status_code == 403
    problem.refresh_from_db()
    assert problem.title != "改标题"
    dispatch = _dispatches(1)
    form = admin_client.get(url(WeeklyDispatch, "change", dispatch.pk)).context["adminform"]
    assert {"stage", "filed_by", "filed_at", "is_late"} <= set(form.readonly_fields)
