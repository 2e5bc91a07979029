"""/projects/<id>/edit/: scope, optimistic locking, validation, history and stage changes."""

import datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from tests import factories
from tracker.choices import ChangeAction, Role, Stage
from tracker.locking import Conflict
from tracker.models import ChangeLog, Project, StageChange
from tracker.services import update_project
from tracker.views.projects import _normalised

pytestmark = pytest.mark.django_db


def edit_url(project):
    return reverse("tracker:project_edit", args=[project.pk])


@pytest.fixture
def region():
    return factories.region(name="袁州区")


@pytest.fixture
def project(region):
    return factories.project(
        region=region,
        park=factories.park(region=region),
        signed_on=datetime.date(2022, 3, 1),
        signed_amount=Decimal("50000"),
        annual_planned_investment=Decimal("20000"),
        completed_investment=Decimal("1000"),
    )


@pytest.fixture
def staff(region):
    return factories.user(Role.COUNTY, region=region, username="yuanzhou", display_name="陈丽华")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def form_data(client, project, **changes):
    """What the browser would send back from a freshly opened edit form, plus ``changes``."""
    response = client.get(edit_url(project))
    assert response.status_code == 200
    form = response.context["form"]
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None:
            value = ""
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        data[name] = value
    data["target_stage"] = ""
    data.update(changes)
    return data


def unit_label_of(name):
    return Project._meta.get_field(name).verbose_name


def state(project):
    """Everything an edit could change, to prove that nothing did."""
    row = Project.objects.values().get(pk=project.pk)
    row.pop("updated_at")
    return (
        row,
        ChangeLog.objects.filter(object_id=project.pk).count(),
        StageChange.objects.filter(project=project).count(),
    )


# --- scope ----------------------------------------------------------------------------


def test_county_staff_edit_their_own_regions_project(staff_client, project, staff):
    data = form_data(staff_client, project, responsible_unit="袁州区工信局")
    response = staff_client.post(edit_url(project), data)
    assert response.status_code == 302
    assert response["Location"] == reverse("tracker:project_detail", args=[project.pk])
    project.refresh_from_db()
    assert project.responsible_unit == "袁州区工信局"
    assert project.version == 2
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert messages


@pytest.mark.parametrize(
    "make_user",
    [
        lambda p: factories.user(Role.COUNTY),  # another region
        lambda p: factories.user(Role.COMMISSIONER),  # not assigned
        lambda p: factories.user(Role.CHAIN_OFFICE, chain=p.chain),  # its chain, read-only
        lambda p: factories.user(role=""),
    ],
    ids=["other-region-staff", "other-commissioner", "chain-office", "no-role"],
)
def test_others_get_404_for_get_and_post_and_nothing_changes(client, project, make_user):
    manager = factories.user(Role.MANAGER)
    client.force_login(manager)
    data = form_data(client, project, name="被篡改", responsible_unit="外区")
    before = state(project)
    client.force_login(make_user(project))
    assert client.get(edit_url(project)).status_code == 404
    assert client.post(edit_url(project), data).status_code == 404
    assert state(project) == before


def test_commissioner_edits_assigned_project_only(client, project):
    commissioner = factories.user(Role.COMMISSIONER)
    Project.objects.filter(pk=project.pk).update(commissioner=commissioner)
    client.force_login(commissioner)
    data = form_data(client, project, responsible_leader="李副县长")
    assert client.post(edit_url(project), data).status_code == 302
    project.refresh_from_db()
    assert project.responsible_leader == "李副县长"


def test_anonymous_post_is_sent_to_login_and_changes_nothing(client, project):
    before = state(project)
    response = client.post(edit_url(project), {"name": "x", "version": "1"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert state(project) == before


def test_manager_only_fields_are_not_on_the_staff_form(staff_client, project):
    form = staff_client.get(edit_url(project)).context["form"]
    for name in ("signed_amount", "region", "chain", "enterprise", "commissioner"):
        assert name not in form.fields
    data = form_data(staff_client, project, signed_amount="1", commissioner="1")
    assert staff_client.post(edit_url(project), data).status_code == 302
    project.refresh_from_db()
    assert project.signed_amount == Decimal("50000")  # ignored, not on this user's form


def test_manager_can_change_signed_amount_and_commissioner(client, project):
    client.force_login(factories.user(Role.MANAGER))
    commissioner = factories.user(Role.COMMISSIONER)
    data = form_data(client, project, signed_amount="60000", commissioner=str(commissioner.pk))
    assert client.post(edit_url(project), data).status_code == 302
    project.refresh_from_db()
    assert project.signed_amount == Decimal("60000")
    assert project.commissioner == commissioner


def test_park_choices_of_staff_are_their_regions_parks(staff_client, project):
    foreign_park = factories.park()
    data = form_data(staff_client, project, park=str(foreign_park.pk))
    response = staff_client.post(edit_url(project), data)
    assert response.status_code == 200
    assert "park" in response.context["form"].errors


# --- optimistic locking -----------------------------------------------------------------


def test_second_save_of_a_stale_form_is_refused_and_shows_what_changed(
    client, staff_client, project, region
):
    first = form_data(staff_client, project, responsible_unit="第一个人的单位")
    colleague = factories.user(Role.COUNTY, region=region, username="tongshi")
    other = client.__class__()
    other.force_login(colleague)
    second = form_data(other, project, responsible_leader="第二个人的领导")
    assert first["version"] == second["version"] == 1

    assert staff_client.post(edit_url(project), first).status_code == 302
    saved = state(project)

    response = other.post(edit_url(project), second)
    assert response.status_code == 200
    assert state(project) == saved  # the first save stands, nothing overwritten
    project.refresh_from_db()
    assert project.responsible_unit == "第一个人的单位"
    assert project.responsible_leader == ""
    conflict = response.context["conflict"]
    fields = {row[0]: row[1:] for row in conflict["differences"]}
    unit = fields[Project._meta.get_field("responsible_unit").verbose_name]
    assert unit[:2] == ("", "第一个人的单位")
    assert unit[2].changed_by.username == "yuanzhou"  # changed meanwhile, by whom
    leader = fields[Project._meta.get_field("responsible_leader").verbose_name]
    assert leader == ("第二个人的领导", "", None)  # the stale form's own edit
    assert conflict["differences"][0][0] == unit_label_of("responsible_unit")  # theirs first
    html = response.content.decode()
    assert 'id="conflict"' in html and "第一个人的单位" in html
    assert conflict["by"].username == "yuanzhou"
    # The re-shown form carries the new version: saving again (knowingly) applies it.
    assert response.context["form"]["version"].value() == "2"


def test_update_project_refuses_a_stale_version(project, staff):
    before = state(project)
    with pytest.raises(Conflict):
        update_project(project_id=project.pk, data={"name": "新名称"}, expected_version=7, by=staff)
    assert state(project) == before


def test_a_save_that_lands_between_read_and_write_is_not_overwritten(project, staff, monkeypatch):
    """The version guard sits in the UPDATE's WHERE clause, not only in the first read."""
    import tracker.services as services

    real_snapshot = services.snapshot

    def concurrent_save_then_snapshot(obj, fields=None):
        Project.objects.filter(pk=project.pk).update(
            name="别人刚保存的名称", version=F("version") + 1
        )
        return real_snapshot(obj, fields)

    monkeypatch.setattr(services, "snapshot", concurrent_save_then_snapshot)
    with pytest.raises(Conflict) as caught:
        update_project(
            project_id=project.pk, data={"name": "我的名称"}, expected_version=1, by=staff
        )
    assert caught.value.current.version == 2
    assert caught.value.current.name == "别人刚保存的名称"  # what the conflict shows
    project.refresh_from_db()
    assert project.name != "我的名称"
    assert not ChangeLog.objects.filter(object_id=project.pk).exists()


# --- validation: message beside the field, nothing saved -------------------------------

TOMORROW = timezone.localdate() + datetime.timedelta(days=1)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"completed_investment": "-1"}, "completed_investment"),
        ({"annual_planned_investment": "-0.01"}, "annual_planned_investment"),
        ({"completed_investment": "abc"}, "completed_investment"),
        ({"annual_planned_investment": "1e5x"}, "annual_planned_investment"),
        ({"completed_investment": "75000.01"}, "completed_investment"),  # > 50000 × 1.5
        (
            {"actual_start_on": "2022-05-01", "actual_production_on": "2022-04-01"},
            "actual_production_on",
        ),
        ({"actual_production_on": "2022-06-01"}, "actual_production_on"),  # never started
        ({"actual_start_on": TOMORROW.isoformat()}, "actual_start_on"),
        ({"actual_start_on": "2022-02-01"}, "actual_start_on"),  # before signing
        ({"planned_start_on": "2022-01-01"}, "planned_start_on"),  # before signing
        (
            {"planned_start_on": "2022-06-01", "planned_production_on": "2022-05-01"},
            "planned_production_on",
        ),
        ({"actual_start_on": "2022-02-30"}, "actual_start_on"),
        ({"notes": "长" * 4001}, "notes"),
        ({"name": "名" * 201}, "name"),
        ({"name": ""}, "name"),
        ({"target_stage": Stage.STALLED, "stage_effective_on": "2022-04-01"}, "target_stage"),
        ({"target_stage": Stage.SIGNED, "stage_effective_on": "2022-04-01"}, "target_stage"),
        ({"target_stage": "flying", "stage_effective_on": "2022-04-01"}, "target_stage"),
        ({"target_stage": Stage.STARTED, "stage_effective_on": ""}, "stage_effective_on"),
        (
            {"target_stage": Stage.STARTED, "stage_effective_on": TOMORROW.isoformat()},
            "stage_effective_on",
        ),
        # before the signing date: refused by Project.advance_to
        ({"target_stage": Stage.STARTED, "stage_effective_on": "2022-01-01"}, "target_stage"),
    ],
)
def test_bad_input_gets_a_message_beside_the_field_and_nothing_is_saved(
    staff_client, project, changes, field
):
    data = form_data(staff_client, project, responsible_unit="本次提交的其他修改", **changes)
    before = state(project)
    response = staff_client.post(edit_url(project), data)
    assert response.status_code == 200
    assert field in response.context["form"].errors, response.context["form"].errors
    assert f'id="error-{field}"' in response.content.decode()
    assert state(project) == before


def test_staff_cannot_move_back_but_a_manager_can(client, region):
    project = factories.project(region=region, history=[(Stage.STARTED, datetime.date(2022, 4, 1))])
    client.force_login(factories.user(Role.COUNTY, region=region))
    staff_choices = [
        v for v, _ in client.get(edit_url(project)).context["form"].fields["target_stage"].choices
    ]
    assert Stage.SIGNED not in staff_choices and Stage.STALLED not in staff_choices
    assert Stage.COMPLETED in staff_choices
    client.force_login(factories.user(Role.MANAGER))
    data = form_data(client, project, target_stage=Stage.STALLED, stage_effective_on="2022-05-01")
    assert client.post(edit_url(project), data).status_code == 302
    project.refresh_from_db()
    assert project.stage == Stage.STALLED


def test_script_tags_are_stored_as_text_and_escaped_on_output(staff_client, project):
    script = "<script>alert('x')</script>"
    data = form_data(staff_client, project, notes=script, responsible_unit=script)
    assert staff_client.post(edit_url(project), data).status_code == 302
    project.refresh_from_db()
    assert project.notes == script
    for url in (reverse("tracker:project_detail", args=[project.pk]), edit_url(project)):
        html = staff_client.get(url).content.decode()
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert" in html


# --- history ------------------------------------------------------------------------------


def test_every_change_appears_in_history_with_who_and_when(staff_client, project, staff):
    start = timezone.now()
    data = form_data(
        staff_client, project, responsible_unit="工信局", completed_investment="2500.00"
    )
    staff_client.post(edit_url(project), data)
    rows = ChangeLog.objects.filter(object_id=project.pk, action=ChangeAction.UPDATE)
    changed = {r.field: (r.old_value, r.new_value) for r in rows}
    assert changed == {
        "responsible_unit": ("", "工信局"),
        "completed_investment": ("1000.00", "2500.00"),
    }
    assert {r.changed_by for r in rows} == {staff}
    assert all(r.changed_at >= start for r in rows)
    html = staff_client.get(reverse("tracker:project_detail", args=[project.pk])).content
    assert "工信局".encode() in html and "陈丽华".encode() in html  # who, by name


def test_saving_an_unchanged_form_records_no_history(staff_client, project):
    staff_client.post(edit_url(project), form_data(staff_client, project))
    assert not ChangeLog.objects.filter(object_id=project.pk).exists()


# --- stage change through the form ----------------------------------------------------------


def test_stage_change_and_field_edits_are_saved_together(staff_client, project, staff):
    data = form_data(
        staff_client,
        project,
        responsible_leader="王县长",
        target_stage=Stage.STARTED,
        stage_effective_on="2022-04-15",
        stage_note="桩基开工",
    )
    assert staff_client.post(edit_url(project), data).status_code == 302
    project.refresh_from_db()
    assert project.stage == Stage.STARTED
    assert project.actual_start_on == datetime.date(2022, 4, 15)
    assert project.responsible_leader == "王县长"
    change = project.stage_changes.order_by("-id").first()
    assert (change.to_stage, change.effective_on, change.changed_by, change.note) == (
        Stage.STARTED,
        datetime.date(2022, 4, 15),
        staff,
        "桩基开工",
    )
    fields = set(ChangeLog.objects.filter(object_id=project.pk).values_list("field", flat=True))
    assert {"stage", "responsible_leader", "actual_start_on"} <= fields


def test_refused_stage_change_leaves_the_field_edits_unsaved_too(staff_client, region):
    project = factories.project(
        region=region, history=[(Stage.REGISTERED, datetime.date(2022, 6, 1))]
    )
    before = state(project)
    # Allowed target, but dated before the last stage change: advance_to refuses it
    # after the field update ran, so the whole submission must roll back.
    data = form_data(
        staff_client,
        project,
        name="不应保存的新名称",
        target_stage=Stage.LAND,
        stage_effective_on="2022-05-01",
    )
    response = staff_client.post(edit_url(project), data)
    assert response.status_code == 200
    assert "target_stage" in response.context["form"].errors
    assert state(project) == before


# --- actual dates follow the stage and its history ---------------------------------------
#
# Messages are read in English (the language cookie), so that translating them later does
# not break the tests; the field each one sits beside is what the form promises.

APRIL_1 = datetime.date(2022, 4, 1)
SEPTEMBER_1 = datetime.date(2022, 9, 1)


@pytest.fixture
def manager():
    return factories.user(Role.MANAGER, username="shigongxinju")


def as_user(client, user):
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def refused(client, project, field, fragment, **changes):
    """Post ``changes``: the form comes back with ``fragment`` beside ``field``, nothing saved."""
    data = form_data(client, project, responsible_unit="同一次提交的其他修改", **changes)
    before = state(project)
    response = client.post(edit_url(project), data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert any(fragment in message for message in errors[field]), errors[field]
    assert f'id="error-{field}"' in response.content.decode()
    assert state(project) == before
    return errors


def saved(client, project, **changes):
    data = form_data(client, project, **changes)
    response = client.post(edit_url(project), data)
    assert response.status_code == 302, response.context["form"].errors
    project.refresh_from_db()
    return project


def started(region, **kw):
    """A 开工 project whose stage history records construction starting on 1 April 2022."""
    kw.setdefault("completed_investment", Decimal("8678"))
    return factories.project(region=region, history=[(Stage.STARTED, APRIL_1)], **kw)


def test_the_reported_bypass_is_refused_beside_both_fields(client, region, staff):
    """yuanzhou on a 开工 project: production date set and 8678 → 0 万元; both refused."""
    project = started(region)
    factories.dispatch(project, iso_week=20, completed_investment=Decimal("8678"))
    as_user(client, staff)
    errors = refused(
        client,
        project,
        "actual_production_on",
        "once the project has reached",
        actual_production_on="2022-06-01",
        completed_investment="0",
    )
    assert "completed_investment" in errors
    assert "ask a city bureau manager" in " ".join(errors["completed_investment"])
    project.refresh_from_db()
    assert project.stage == Stage.STARTED
    assert project.actual_production_on is None
    assert project.completed_investment == Decimal("8678")


@pytest.mark.parametrize("who", ["staff", "manager"])
def test_production_date_needs_the_production_stage_for_everyone(client, region, staff, who):
    project = started(region)
    as_user(client, staff if who == "staff" else factories.user(Role.MANAGER))
    refused(
        client,
        project,
        "actual_production_on",
        "once the project has reached",
        actual_production_on="2022-08-01",
    )


def test_production_date_goes_with_a_change_to_production_in_the_same_save(client, region, staff):
    project = started(region)
    as_user(client, staff)
    refused(
        client,
        project,
        "actual_production_on",
        "cannot be after 2022-09-01",
        actual_production_on="2022-09-02",
        target_stage=Stage.PRODUCTION,
        stage_effective_on="2022-09-01",
    )
    saved(
        client,
        project,
        actual_production_on="2022-08-25",
        target_stage=Stage.PRODUCTION,
        stage_effective_on="2022-09-01",
    )
    assert project.stage == Stage.PRODUCTION
    assert project.actual_production_on == datetime.date(2022, 8, 25)


@pytest.mark.parametrize("who", ["staff", "manager"])
def test_start_date_is_refused_before_construction_started(client, project, staff, who):
    as_user(client, staff if who == "staff" else factories.user(Role.MANAGER))
    refused(
        client,
        project,
        "actual_start_on",
        "once the project has reached",
        actual_start_on="2022-04-01",
    )


def test_start_date_goes_with_a_change_to_started_on_or_before_its_date(client, project, staff):
    as_user(client, staff)
    refused(
        client,
        project,
        "actual_start_on",
        "cannot be after 2022-04-15",
        actual_start_on="2022-04-16",
        target_stage=Stage.STARTED,
        stage_effective_on="2022-04-15",
    )
    saved(
        client,
        project,
        actual_start_on="2022-04-10",
        target_stage=Stage.STARTED,
        stage_effective_on="2022-04-15",
    )
    assert (project.stage, project.actual_start_on) == (Stage.STARTED, datetime.date(2022, 4, 10))


def test_a_missing_start_date_is_filled_in_no_later_than_the_history_says(client, region, staff):
    project = started(region)
    Project.objects.filter(pk=project.pk).update(actual_start_on=None)
    as_user(client, staff)
    refused(
        client,
        project,
        "actual_start_on",
        "cannot be after 2022-04-01",
        actual_start_on="2022-04-02",
    )
    assert saved(client, project, actual_start_on="2022-03-20").actual_start_on == datetime.date(
        2022, 3, 20
    )


def test_a_stalled_project_takes_a_start_date_only_if_it_had_started(client, region, staff):
    had_started = factories.project(
        region=region,
        history=[(Stage.STARTED, APRIL_1), (Stage.STALLED, datetime.date(2022, 6, 1))],
    )
    Project.objects.filter(pk=had_started.pk).update(actual_start_on=None)
    never_started = factories.project(
        region=region,
        history=[(Stage.LAND, APRIL_1), (Stage.STALLED, datetime.date(2022, 6, 1))],
    )
    as_user(client, staff)
    assert saved(client, had_started, actual_start_on="2022-04-01").actual_start_on == APRIL_1
    refused(
        client,
        never_started,
        "actual_start_on",
        "once the project has reached",
        actual_start_on="2022-04-01",
    )


@pytest.mark.parametrize("value", ["2022-03-20", ""], ids=["changed", "cleared"])
def test_staff_cannot_change_or_clear_a_date_the_stage_history_recorded(
    client, region, staff, value
):
    project = started(region)
    as_user(client, staff)
    refused(
        client,
        project,
        "actual_start_on",
        "Only a city bureau manager can change or clear it",
        actual_start_on=value,
    )


def test_commissioner_cannot_change_a_recorded_production_date(client, region):
    commissioner = factories.user(Role.COMMISSIONER)
    project = factories.project(
        region=region,
        commissioner=commissioner,
        history=[(Stage.STARTED, APRIL_1), (Stage.PRODUCTION, SEPTEMBER_1)],
    )
    as_user(client, commissioner)
    refused(
        client,
        project,
        "actual_production_on",
        "Only a city bureau manager",
        actual_production_on="2022-08-01",
    )


def test_a_manager_corrects_a_recorded_date_within_the_history(client, region, manager):
    project = started(region)
    as_user(client, manager)
    refused(
        client,
        project,
        "actual_start_on",
        "cannot be after 2022-04-01",
        actual_start_on="2022-04-05",
    )
    assert saved(client, project, actual_start_on="2022-03-20").actual_start_on == datetime.date(
        2022, 3, 20
    )
    row = ChangeLog.objects.get(object_id=project.pk, field="actual_start_on")
    assert (row.old_value, row.new_value, row.changed_by) == ("2022-04-01", "2022-03-20", manager)


def test_a_started_project_keeps_its_start_date_unless_the_stage_moves_back(
    client, region, manager
):
    project = started(region)
    as_user(client, manager)
    refused(client, project, "actual_start_on", "needs this date", actual_start_on="")
    saved(
        client,
        project,
        actual_start_on="",
        target_stage=Stage.LAND,
        stage_effective_on="2022-05-01",
    )
    assert (project.stage, project.actual_start_on) == (Stage.LAND, None)


def test_dates_the_submit_leaves_alone_never_block_an_edit(client, region, staff):
    """A project stalled after production keeps its dates; other edits still save."""
    project = factories.project(
        region=region,
        history=[
            (Stage.STARTED, APRIL_1),
            (Stage.PRODUCTION, SEPTEMBER_1),
            (Stage.STALLED, datetime.date(2022, 10, 1)),
        ],
    )
    as_user(client, staff)
    project = saved(client, project, responsible_unit="奉新县工信局")
    assert project.responsible_unit == "奉新县工信局"
    assert project.actual_production_on == SEPTEMBER_1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"actual_production_on": "2022-03-15"}, "actual_production_on"),  # before the start
        ({"actual_start_on": "2022-02-01"}, "actual_start_on"),  # before signing
        ({"actual_start_on": TOMORROW.isoformat()}, "actual_start_on"),  # in the future
    ],
)
def test_the_model_rules_on_actual_dates_still_hold_for_a_manager(
    client, region, manager, changes, field
):
    project = factories.project(
        region=region, history=[(Stage.STARTED, APRIL_1), (Stage.PRODUCTION, SEPTEMBER_1)]
    )
    as_user(client, manager)
    data = form_data(client, project, **changes)
    before = state(project)
    response = client.post(edit_url(project), data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert state(project) == before


# --- cumulative investment does not go down (tracker.investment, one rule for every path) ---


@pytest.fixture
def reported(region):
    """Reported 5000 万元 in week 10 and 8000 万元 in week 20; the book says 8678."""
    project = started(region)
    factories.dispatch(project, iso_week=10, completed_investment=Decimal("5000"))
    factories.dispatch(project, iso_week=20, completed_investment=Decimal("8000"))
    return project


@pytest.mark.parametrize(
    "value", ["6000", "8000", "8677.99"], ids=["below-report", "to-report", "just-below"]
)
def test_staff_cannot_lower_the_projects_figure_even_above_the_dispatch(
    client, reported, staff, value
):
    """The reported bypass: a clerk lowered 9034.50 → 8800 (above the 8713 report)."""
    as_user(client, staff)
    errors = refused(
        client,
        reported,
        "completed_investment",
        "ask a city bureau manager to correct it",
        completed_investment=value,
    )
    assert "8678.00" in " ".join(errors["completed_investment"])
    assert "reason" not in client.get(edit_url(reported)).context["form"].fields


def test_commissioner_cannot_lower_the_projects_figure(client, reported):
    commissioner = factories.user(Role.COMMISSIONER)
    Project.objects.filter(pk=reported.pk).update(commissioner=commissioner)
    as_user(client, commissioner)
    refused(
        client,
        reported,
        "completed_investment",
        "ask a city bureau manager",
        completed_investment="0",
    )


@pytest.mark.parametrize("value", ["8678", "8678.01", "9000"], ids=["same", "cent-up", "up"])
def test_staff_may_keep_or_raise_the_figure(client, reported, staff, value):
    as_user(client, staff)
    assert saved(client, reported, completed_investment=value).completed_investment == Decimal(
        value
    )


def test_a_manager_lowers_the_figure_only_with_a_reason_kept_in_the_history(
    client, reported, manager
):
    """The reported bypass: a manager lowered the figure to 100 with no reason."""
    as_user(client, manager)
    errors = refused(client, reported, "reason", "give the reason", completed_investment="100")
    assert "8678.00" in errors["reason"][0] and "100.00" in errors["reason"][0]
    reason = "重复统计，核实为 100 万元"
    project = saved(client, reported, completed_investment="100", reason=reason)
    assert project.completed_investment == 100
    row = ChangeLog.objects.get(object_id=reported.pk, field="completed_investment")
    assert (row.old_value, row.new_value, row.note) == ("8678.00", "100.00", reason)
    other = ChangeLog.objects.filter(object_id=reported.pk).exclude(field="completed_investment")
    assert not other.exclude(note="").exists()  # the reason is the figure's, not the others'


def test_a_manager_raising_the_figure_needs_no_reason(client, reported, manager):
    as_user(client, manager)
    assert saved(client, reported, completed_investment="9000").completed_investment == 9000


def test_update_project_refuses_lowering_the_figure_itself(reported, staff, manager):
    """The service asks the same rule, beneath every caller (the form, the admin, scripts)."""
    before = state(reported)
    for by, field in ((staff, "completed_investment"), (manager, "reason")):
        with pytest.raises(ValidationError) as caught:
            update_project(
                project_id=reported.pk,
                data={"completed_investment": Decimal("100")},
                expected_version=reported.version,
                by=by,
            )
        assert list(caught.value.message_dict) == [field]
        assert state(reported) == before
    update_project(
        project_id=reported.pk,
        data={"completed_investment": Decimal("100")},
        expected_version=reported.version,
        by=manager,
        reason="核实",
    )
    assert ChangeLog.objects.get(object_id=reported.pk, field="completed_investment").note == "核实"


def test_an_untouched_figure_below_the_dispatch_does_not_block_other_edits(client, reported, staff):
    Project.objects.filter(pk=reported.pk).update(completed_investment=Decimal("100"))
    as_user(client, staff)
    project = saved(client, reported, responsible_leader="张副区长")
    assert (project.responsible_leader, project.completed_investment) == ("张副区长", 100)


def test_the_conflict_panel_compares_amounts_rounded_half_up():
    assert _normalised({"a": "0.125", "b": "", "c": "工信局"}) == {
        "a": "0.13",
        "b": "",
        "c": "工信局",
    }


# --- update_project checks every rule itself, whoever calls it ----------------------------


def test_update_project_refuses_who_may_not_edit_and_manager_only_fields(project, region, staff):
    """The reported hole: a chain office saved signed_amount and a move to another region."""
    other = factories.region(name="樟树市")
    office = factories.user(Role.CHAIN_OFFICE, chain=project.chain)
    neighbour = factories.user(Role.COUNTY, region=other)
    before = state(project)
    for by, data in (
        (office, {"signed_amount": Decimal(1), "region": other}),
        (office, {"name": "新名称"}),
        (neighbour, {"name": "新名称"}),
        (staff, {"signed_amount": Decimal(1)}),  # their project, a manager's field
        (staff, {"name": "新名称", "region": other}),
    ):
        with pytest.raises(PermissionDenied):
            update_project(project_id=project.pk, data=data, expected_version=1, by=by)
        assert state(project) == before, (by, data)
    update_project(project_id=project.pk, data={"name": "新名称"}, expected_version=1, by=staff)
    assert Project.objects.get(pk=project.pk).name == "新名称"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"completed_investment": Decimal("99999999")}, "completed_investment"),  # the cap
        ({"signed_amount": Decimal("600")}, "completed_investment"),  # 1000 > 600 × 1.5
        ({"actual_start_on": TOMORROW}, "actual_start_on"),
    ],
)
def test_update_project_runs_the_models_rules_even_for_a_manager(project, manager, data, field):
    """The reported hole: a manager set 99,999,999 万元 on a project signed at 1,000."""
    Project.objects.filter(pk=project.pk).update(signed_amount=Decimal(1000))
    before = state(project)
    with pytest.raises(ValidationError) as caught:
        update_project(project_id=project.pk, data=data, expected_version=1, by=manager)
    assert field in caught.value.message_dict
    assert state(project) == before
    assert not ChangeLog.objects.filter(object_id=project.pk).exists()


def test_update_project_checks_a_constraint_against_a_field_left_as_it_was(project, manager):
    with pytest.raises(ValidationError):
        update_project(
            project_id=project.pk,
            data={"planned_start_on": datetime.date(2022, 1, 1)},  # before signing (3-1)
            expected_version=1,
            by=manager,
        )
    assert Project.objects.get(pk=project.pk).planned_start_on is None
