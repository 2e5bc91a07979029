"""季督查: scope of every inspection route for every role, item transitions, live overdue flag,
the list's filters and fixed query counts, and the demo inspections of the seed."""

import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests import factories
from tests.html_tables import column as html_column
from tracker import inspections
from tracker.choices import RectificationStatus, Role
from tracker.models import ChangeLog, Inspection, RectificationItem

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client, settings):
    """Pages in the English source text, whatever the translation catalogue holds."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


# Routes whose scope is tested here rather than by test_scope's generic walk (their answers
# differ by role: 403 for what a role may never do, 404 for what it may not see).
OWN_SCOPE_TESTS = {
    "inspection_create",
    "inspection_detail",
    "inspection_item_add",
    "inspection_item_action",
}

DAY = datetime.date(2022, 5, 10)  # Q2 2022


def make_inspection(region, *, project=None, day=DAY, **kw):
    kw.setdefault("title", f"督查{region.name}")
    return Inspection.objects.create(
        year=day.year,
        quarter=(day.month - 1) // 3 + 1,
        region=region,
        project=project,
        inspected_on=day,
        leader="市工信局局长",
        **kw,
    )


def make_item(inspection, *, deadline=None, status=RectificationStatus.OPEN, **kw):
    deadline = deadline or inspection.inspected_on + datetime.timedelta(days=30)
    if status != RectificationStatus.OPEN:
        kw.setdefault("done_on", deadline)
        kw.setdefault("done_note", "已整改")
    if status == RectificationStatus.VERIFIED:
        kw.setdefault("verified_on", deadline)
    return RectificationItem.objects.create(
        inspection=inspection,
        description=kw.pop("description", "整改事项"),
        owner_unit=kw.pop("owner_unit", "县工信局"),
        deadline=deadline,
        status=status,
        **kw,
    )


@pytest.fixture
def world():
    region_a, region_b = factories.region(name="甲县"), factories.region(name="乙县")
    chain_a, chain_b = factories.chain(name="甲链"), factories.chain(name="乙链")
    commissioner = factories.user(Role.COMMISSIONER)
    project_a = factories.project(
        region=region_a, chain=chain_a, commissioner=commissioner, name="甲项目"
    )
    project_b = factories.project(region=region_b, chain=chain_b, name="乙项目")
    mine = make_inspection(region_a, project=project_a, title="甲县项目督查")
    region_wide = make_inspection(region_a, title="甲县全县督查")
    theirs = make_inspection(region_b, project=project_b, title="乙县项目督查")
    for inspection in (mine, region_wide, theirs):
        make_item(inspection)
    return {
        "mine": mine,
        "region_wide": region_wide,
        "theirs": theirs,
        "users": {
            "manager": factories.user(Role.MANAGER),
            "county": factories.user(Role.COUNTY, region=region_a),
            "commissioner": commissioner,
            "chain": factories.user(Role.CHAIN_OFFICE, chain=chain_a),
        },
    }


def fingerprint():
    return (
        list(Inspection.objects.order_by("pk").values_list()),
        list(RectificationItem.objects.order_by("pk").values_list()),
        ChangeLog.objects.count(),
    )


# --- scope -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("manager", {"mine", "region_wide", "theirs"}),
        ("county", {"mine", "region_wide"}),
        ("commissioner", {"mine"}),
        ("chain", {"mine"}),
    ],
)
def test_each_role_sees_its_inspections(world, who, expected):
    visible = set(Inspection.objects.visible_to(world["users"][who]).values_list("pk", flat=True))
    assert visible == {world[name].pk for name in expected}


def test_anonymous_and_roleless_users_see_nothing(world):
    from django.contrib.auth.models import AnonymousUser

    assert not Inspection.objects.visible_to(AnonymousUser()).exists()
    assert not Inspection.objects.visible_to(factories.user(role="")).exists()


@pytest.mark.parametrize("who", ["county", "commissioner", "chain"])
def test_list_shows_only_the_users_scope(client, world, who):
    client.force_login(world["users"][who])
    body = client.get(reverse("tracker:inspection_list")).content.decode()
    assert "乙县项目督查" not in body
    assert "甲县项目督查" in body
    assert ("甲县全县督查" in body) == (who == "county")


def out_of_scope_requests(world):
    theirs = world["theirs"]
    item = theirs.items.get()
    detail = reverse("tracker:inspection_detail", args=[theirs.pk])
    add = reverse("tracker:inspection_item_add", args=[theirs.pk])
    yield "get", detail, None
    yield "post", detail, {}
    yield "post", add, {"description": "x", "owner_unit": "y", "deadline": "2022-12-31"}
    for action in ("done", "verify", "escalate"):
        url = reverse("tracker:inspection_item_action", args=[theirs.pk, item.pk, action])
        yield "post", url, {"done_on": "2022-06-01", "note": "篡改"}


@pytest.mark.parametrize("who", ["county", "commissioner", "chain"])
def test_out_of_scope_inspection_answers_404_and_changes_nothing(client, world, who):
    client.force_login(world["users"][who])
    before = fingerprint()
    for method, url, data in out_of_scope_requests(world):
        response = getattr(client, method)(url, data) if data else getattr(client, method)(url)
        assert response.status_code == 404, (method, url)
    assert fingerprint() == before


def test_an_item_of_another_inspection_is_404_even_with_my_inspection_in_the_url(client, world):
    client.force_login(world["users"]["county"])
    their_item = world["theirs"].items.get()
    before = fingerprint()
    url = reverse("tracker:inspection_item_action", args=[world["mine"].pk, their_item.pk, "done"])
    assert client.post(url, {"done_on": "2022-06-01", "note": "x"}).status_code == 404
    assert fingerprint() == before


@pytest.mark.parametrize("who", ["county", "commissioner", "chain"])
def test_only_managers_create_inspections(client, world, who):
    client.force_login(world["users"][who])
    before = fingerprint()
    url = reverse("tracker:inspection_create")
    assert client.get(url).status_code == 403
    response = client.post(url, create_post(world["mine"].region))
    assert response.status_code == 403
    assert fingerprint() == before
    assert "new-inspection" not in client.get(reverse("tracker:inspection_list")).content.decode()


@pytest.mark.parametrize("who", ["county", "commissioner", "chain"])
def test_in_scope_but_not_a_manager_cannot_add_verify_or_escalate(client, world, who):
    client.force_login(world["users"][who])
    mine = world["mine"]
    item = mine.items.get()
    item.status, item.done_on, item.done_note = RectificationStatus.DONE, DAY, "已整改"
    item.save()
    before = fingerprint()
    add = reverse("tracker:inspection_item_add", args=[mine.pk])
    assert (
        client.post(
            add, {"description": "x", "owner_unit": "y", "deadline": "2022-12-31"}
        ).status_code
        == 403
    )
    for action in ("verify", "escalate"):
        url = reverse("tracker:inspection_item_action", args=[mine.pk, item.pk, action])
        assert client.post(url).status_code == 403
    assert fingerprint() == before


@pytest.mark.parametrize("who", ["commissioner", "chain"])
def test_readers_of_an_inspection_cannot_mark_items_done(client, world, who):
    client.force_login(world["users"][who])
    mine = world["mine"]
    item = mine.items.get()
    before = fingerprint()
    url = reverse("tracker:inspection_item_action", args=[mine.pk, item.pk, "done"])
    assert client.post(url, {"done_on": "2022-06-01", "note": "x"}).status_code == 403
    assert fingerprint() == before
    body = client.get(reverse("tracker:inspection_detail", args=[mine.pk])).content.decode()
    assert "Mark done" not in body and 'id="add-item"' not in body


def test_unknown_action_is_404(client, world):
    client.force_login(world["users"]["manager"])
    item = world["mine"].items.get()
    url = reverse("tracker:inspection_item_action", args=[world["mine"].pk, item.pk, "delete"])
    assert client.post(url).status_code == 404


def test_item_routes_refuse_get(client, world):
    client.force_login(world["users"]["manager"])
    mine = world["mine"]
    item = mine.items.get()
    assert client.get(reverse("tracker:inspection_item_add", args=[mine.pk])).status_code == 405
    url = reverse("tracker:inspection_item_action", args=[mine.pk, item.pk, "verify"])
    assert client.get(url).status_code == 405


# --- the whole cycle through the pages -------------------------------------------------------


def create_post(region, **kw):
    data = {
        "year": 2022,
        "quarter": 2,
        "region": region.pk,
        "project": "",
        "title": "二季度督查",
        "inspected_on": "2022-05-20",
        "leader": "市政府副市长",
        "findings": "用地手续滞后",
    }
    data.update(kw)
    return data


def test_manager_creates_an_inspection_adds_an_item_county_does_it_manager_verifies(client, world):
    manager, county = world["users"]["manager"], world["users"]["county"]
    region = world["mine"].region
    client.force_login(manager)
    response = client.post(reverse("tracker:inspection_create"), create_post(region))
    inspection = Inspection.objects.get(title="二季度督查")
    assert response.status_code == 302
    assert response["Location"] == reverse("tracker:inspection_detail", args=[inspection.pk])
    assert inspection.created_by == manager
    assert ChangeLog.objects.filter(object_id=inspection.pk, action="create").exists()

    add = reverse("tracker:inspection_item_add", args=[inspection.pk])
    response = client.post(
        add, {"description": "完善施工许可", "owner_unit": "县自然资源局", "deadline": "2022-06-30"}
    )
    assert response.status_code == 302
    item = inspection.items.get()
    assert item.status == RectificationStatus.OPEN

    client.force_login(county)
    body = client.get(reverse("tracker:inspection_detail", args=[inspection.pk])).content.decode()
    assert "完善施工许可" in body and "Mark done" in body and "Verify" not in body
    done = reverse("tracker:inspection_item_action", args=[inspection.pk, item.pk, "done"])
    assert client.post(done, {"done_on": "2022-06-20", "note": "已办理"}).status_code == 302
    item.refresh_from_db()
    assert (item.status, item.done_on, item.done_note) == (
        "done",
        datetime.date(2022, 6, 20),
        "已办理",
    )

    client.force_login(manager)
    verify = reverse("tracker:inspection_item_action", args=[inspection.pk, item.pk, "verify"])
    assert client.post(verify).status_code == 302
    item.refresh_from_db()
    assert item.status == RectificationStatus.VERIFIED
    assert item.verified_by == manager and item.verified_on == timezone.localdate()
    changes = set(
        ChangeLog.objects.filter(object_id=item.pk, content_type__model="rectificationitem")
        .exclude(action="create")
        .values_list("field", "new_value")
    )
    assert ("done_note", "已办理") in changes
    assert ("verified_by", str(manager)) in changes
    page = client.get(reverse("tracker:inspection_detail", args=[inspection.pk]))
    history = page.content.decode().split('id="history"')[1]
    assert str(county) in history and "已办理" in history


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"inspected_on": "2022-08-01"}, "inspected_on"),  # Q3, not Q2
        ({"year": 2099, "quarter": 1, "inspected_on": "2099-01-05"}, "inspected_on"),  # future
        ({"title": ""}, "title"),
    ],
)
def test_create_refuses_bad_input_and_saves_nothing(client, world, changes, field):
    client.force_login(world["users"]["manager"])
    before = fingerprint()
    response = client.post(
        reverse("tracker:inspection_create"), create_post(world["mine"].region, **changes)
    )
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert fingerprint() == before


def test_create_refuses_a_project_of_another_region(client, world):
    client.force_login(world["users"]["manager"])
    before = fingerprint()
    response = client.post(
        reverse("tracker:inspection_create"),
        create_post(world["mine"].region, project=world["theirs"].project.pk),
    )
    assert response.status_code == 200
    assert "project" in response.context["form"].errors
    assert fingerprint() == before


def test_item_deadline_cannot_precede_the_inspection(client, world):
    client.force_login(world["users"]["manager"])
    mine = world["mine"]
    before = fingerprint()
    response = client.post(
        reverse("tracker:inspection_item_add", args=[mine.pk]),
        {"description": "x", "owner_unit": "y", "deadline": "2022-01-01"},
    )
    assert response.status_code == 200
    assert "The deadline cannot be before the inspection date." in response.content.decode()
    assert fingerprint() == before


# --- transitions (services) ----------------------------------------------------------------


@pytest.fixture
def item(world):
    return world["mine"].items.get()


def test_allowed_path_open_done_verified(world, item):
    county, manager = world["users"]["county"], world["users"]["manager"]
    done = inspections.mark_item_done(item=item, on=DAY, note="已整改", by=county)
    assert done.status == RectificationStatus.DONE
    verified = inspections.verify_item(item=item, on=DAY, by=manager)
    assert verified.status == RectificationStatus.VERIFIED


@pytest.mark.parametrize(
    ("status", "action"),
    [
        ("open", "verify"),
        ("done", "done"),
        ("verified", "done"),
        ("verified", "verify"),
        ("verified", "escalate"),
    ],
)
def test_refused_transitions_change_nothing(world, status, action):
    manager = world["users"]["manager"]
    item = make_item(world["mine"], status=status)
    before = fingerprint()
    with pytest.raises(inspections.ValidationError):
        if action == "done":
            inspections.mark_item_done(item=item, on=DAY, note="x", by=manager)
        elif action == "verify":
            inspections.verify_item(item=item, on=DAY + datetime.timedelta(days=40), by=manager)
        else:
            inspections.escalate_item(item=item, by=manager)
    assert fingerprint() == before


def test_escalation_once_keeps_the_status(world, item):
    manager = world["users"]["manager"]
    escalated = inspections.escalate_item(item=item, by=manager)
    assert escalated.escalated and escalated.status == RectificationStatus.OPEN
    with pytest.raises(inspections.ValidationError):
        inspections.escalate_item(item=item, by=manager)
    assert ChangeLog.objects.filter(object_id=item.pk, field="escalated").count() == 1


def test_done_needs_a_note_and_a_date_between_inspection_and_today(world, item):
    county = world["users"]["county"]
    with pytest.raises(inspections.ValidationError):
        inspections.mark_item_done(item=item, on=DAY, note="  ", by=county)
    with pytest.raises(inspections.ValidationError):
        inspections.mark_item_done(
            item=item, on=DAY - datetime.timedelta(days=1), note="x", by=county
        )
    with pytest.raises(inspections.ValidationError):
        inspections.mark_item_done(
            item=item, on=timezone.localdate() + datetime.timedelta(days=1), note="x", by=county
        )
    item.refresh_from_db()
    assert item.status == RectificationStatus.OPEN


def test_verification_cannot_precede_the_done_date(world, item):
    inspections.mark_item_done(item=item, on=DAY, note="x", by=world["users"]["county"])
    with pytest.raises(inspections.ValidationError):
        inspections.verify_item(
            item=item, on=DAY - datetime.timedelta(days=1), by=world["users"]["manager"]
        )


def test_services_refuse_users_without_the_right(world, item):
    other_county = factories.user(Role.COUNTY)
    with pytest.raises(inspections.PermissionDenied):
        inspections.mark_item_done(item=item, on=DAY, note="x", by=other_county)
    with pytest.raises(inspections.PermissionDenied):
        inspections.verify_item(item=item, on=DAY, by=world["users"]["county"])
    with pytest.raises(inspections.PermissionDenied):
        inspections.create_inspection(data={}, by=world["users"]["county"])


def test_refused_transition_on_the_page_shows_the_reason(client, world, item):
    client.force_login(world["users"]["manager"])
    url = reverse("tracker:inspection_item_action", args=[world["mine"].pk, item.pk, "verify"])
    response = client.post(url, follow=True)
    assert "cannot be verified" in response.content.decode()
    item.refresh_from_db()
    assert item.status == RectificationStatus.OPEN


# --- overdue -------------------------------------------------------------------------------


def test_overdue_is_computed_live_for_open_items_past_their_deadline(world):
    today = timezone.localdate()
    inspection = world["theirs"]
    past = make_item(inspection, deadline=today - datetime.timedelta(days=1))
    due_today = make_item(inspection, deadline=today)
    done_late = make_item(
        inspection, deadline=today - datetime.timedelta(days=1), status=RectificationStatus.DONE
    )
    flags = dict(
        RectificationItem.objects.filter(pk__in=[past.pk, due_today.pk, done_late.pk])
        .with_overdue(today)
        .values_list("pk", "is_overdue")
    )
    assert flags == {past.pk: True, due_today.pk: False, done_late.pk: False}


def test_list_filters_by_overdue_year_quarter_region_and_text(client, world):
    today = timezone.localdate()
    for item in RectificationItem.objects.all():
        item.deadline = today + datetime.timedelta(days=10)
        item.save()
    make_item(world["theirs"], deadline=today - datetime.timedelta(days=3))
    make_inspection(world["mine"].region, day=datetime.date(2022, 11, 3), title="四季度督查")
    client.force_login(world["users"]["manager"])

    def titles(**params):
        response = client.get(reverse("tracker:inspection_list"), params)
        return {row.record.title for row in response.context["table"].page.object_list}

    assert titles(has_overdue="true") == {"乙县项目督查"}
    assert titles(has_overdue="false") == {"甲县项目督查", "甲县全县督查", "四季度督查"}
    assert titles(quarter=4) == {"四季度督查"}
    assert titles(year=2021) == set()
    assert titles(region=world["theirs"].region.pk) == {"乙县项目督查"}
    assert titles(q="全县") == {"甲县全县督查"}
    body = client.get(reverse("tracker:inspection_list")).content.decode()
    assert 'class="badge overdue"' in body


@pytest.mark.parametrize("params", [{"year": "2022.5"}, {"year": "abc"}, {"quarter": "5"}])
def test_invalid_filters_show_their_message_and_no_rows(client, world, params):
    client.force_login(world["users"]["manager"])
    response = client.get(reverse("tracker:inspection_list"), params)
    assert response.status_code == 200
    assert response.context["filters_invalid"]
    assert len(response.context["table"].page.object_list) == 0
    assert f"error-{next(iter(params))}" in response.content.decode()


def test_detail_shows_the_overdue_badge(client, world):
    item = world["theirs"].items.get()
    item.deadline = timezone.localdate() - datetime.timedelta(days=2)
    item.save()
    client.force_login(world["users"]["manager"])
    body = client.get(reverse("tracker:inspection_detail", args=[world["theirs"].pk])).content
    assert b"overdue-total" in body


# --- query counts --------------------------------------------------------------------------


def make_many(n, region):
    for k in range(n):
        inspection = make_inspection(region, title=f"督查{k}", project=None)
        make_item(inspection)
        make_item(inspection, status=RectificationStatus.DONE)


def count_queries(client, url):
    client.get(url)  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.fixture
def sortable_inspections():
    """Four inspections whose sortable columns put them in different orders (the quarter and
    the inspection day necessarily agree). Titles and leaders start with a capital letter so
    that any collation orders them alike; regions sort by their sort order, which runs
    against the order of their names."""
    rows = [
        # title, region order, project code, inspected on, leader, number of items
        ("C 督查", 3, "K2", datetime.date(2022, 8, 3), "B 副市长", 0),
        ("A 督查", 1, "K4", datetime.date(2022, 2, 9), "D 局长", 2),
        ("D 督查", 4, "K1", datetime.date(2023, 1, 5), "A 市长", 3),
        ("B 督查", 2, "K3", datetime.date(2022, 5, 10), "C 处长", 1),
    ]
    keys = {}
    for title, region_order, code, day, leader, items in rows:
        region = factories.region(name=f"区{9 - region_order}", sort_order=region_order)
        inspection = make_inspection(
            region,
            project=factories.project(code=code, region=region),
            day=day,
            title=title,
        )
        Inspection.objects.filter(pk=inspection.pk).update(leader=leader)
        for _ in range(items):
            make_item(inspection)
        keys[title] = {
            "period": (day.year, (day.month - 1) // 3 + 1),
            "region": region_order,
            "title": title,
            "project": code,
            "inspected_on": day,
            "leader": leader,
            "item_count": items,
        }
    return keys


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize(
    "column", ["period", "region", "title", "project", "inspected_on", "leader", "item_count"]
)
def test_the_rendered_rows_follow_the_chosen_column_both_ways(
    client, sortable_inspections, column, descending
):
    client.force_login(factories.user(Role.MANAGER))
    sort = f"-{column}" if descending else column
    response = client.get(reverse("tracker:inspection_list"), {"sort": sort})
    shown = html_column(response, "inspections", 2)  # the titles
    keys = sortable_inspections
    assert shown == sorted(keys, key=lambda title: keys[title][column], reverse=descending)


def test_the_default_order_is_the_latest_quarter_first(client, sortable_inspections):
    client.force_login(factories.user(Role.MANAGER))
    shown = html_column(client.get(reverse("tracker:inspection_list")), "inspections", 2)
    assert shown == ["D 督查", "C 督查", "B 督查", "A 督查"]  # 2023 Q1, 2022 Q3, Q2, Q1


def test_list_query_count_does_not_grow_with_rows(client):
    manager = factories.user(Role.MANAGER)
    region = factories.region()
    client.force_login(manager)
    url = reverse("tracker:inspection_list")
    make_many(5, region)
    small = count_queries(client, url)
    make_many(45, region)
    assert count_queries(client, url) == small
    assert count_queries(client, url + "?has_overdue=true&q=督查") == small


def test_detail_query_count_does_not_grow_with_items(client, world):
    manager = world["users"]["manager"]
    client.force_login(manager)
    inspection = world["mine"]
    url = reverse("tracker:inspection_detail", args=[inspection.pk])
    small = count_queries(client, url)
    for k in range(20):
        item = make_item(inspection, status=[RectificationStatus.OPEN, "done", "verified"][k % 3])
        item.verified_by = manager if item.status == "verified" else None
        item.save()
    assert count_queries(client, url) == small


# --- seed ----------------------------------------------------------------------------------


def test_seed_makes_illustrative_2022_inspections_once():
    def seed():
        with override_settings(DEBUG=True):
            call_command("seed", "--today", "2023-03-01", "--skip-history", stdout=StringIO())

    seed()
    rows = list(Inspection.objects.all())
    assert len(rows) == 12
    assert {(i.year, i.quarter) for i in rows} == {(2022, q) for q in range(1, 5)}
    assert all(i.title.startswith("示例") for i in rows)
    assert all(i.inspected_on.year == 2022 for i in rows)
    assert any(i.project_id for i in rows) and any(not i.project_id for i in rows)
    statuses = set(RectificationItem.objects.values_list("status", flat=True))
    assert statuses == set(RectificationStatus.values)
    assert RectificationItem.objects.filter(escalated=True).exists()
    assert RectificationItem.objects.overdue(datetime.date(2023, 3, 1)).exists()
    before = fingerprint()
    seed()
    assert fingerprint() == before


# --- browser -------------------------------------------------------------------------------


@pytest.mark.browser
def test_browser_county_marks_an_item_done_and_manager_verifies_it(browser_page):
    from tests.conftest import login

    page = browser_page
    region = factories.region(name="丙县")
    inspection = make_inspection(region, title="丙县督查")
    item = make_item(inspection, description="补办施工许可")
    factories.user(Role.COUNTY, region=region, username="bing")
    factories.user(Role.MANAGER, username="boss")

    login(page, "bing", factories.PASSWORD)
    page.goto(page.base_url + reverse("tracker:inspection_list"))
    page.click("text=丙县督查")
    row = page.locator(f"#item-{item.pk}")
    row.locator("textarea[name=note]").fill("已取得施工许可证")
    row.locator("input[name=done_on]").fill("2022-06-01")
    row.locator("button.act-done").click()
    page.wait_for_load_state()
    assert "已取得施工许可证" in page.locator(f"#item-{item.pk}").inner_text()
    assert page.locator(f"#item-{item.pk} button").count() == 0  # nothing more for county

    page.click("[type=submit].link")  # log out
    login(page, "boss", factories.PASSWORD)
    page.goto(page.base_url + reverse("tracker:inspection_detail", args=[inspection.pk]))
    page.locator(f"#item-{item.pk} button.act-verify").click()
    page.wait_for_load_state()
    item.refresh_from_db()
    assert item.status == RectificationStatus.VERIFIED
    assert page.console_errors == []


# --- a refused "mark done" keeps what was typed ------------------------------------------


@pytest.mark.parametrize(
    "post, message",
    [
        # refused by the service: a day before the inspection (2022-05-10)
        (
            {"done_on": "2022-05-01", "note": "已补办施工许可，附件见县局台账"},
            "cannot be done before the inspection",
        ),
        # refused by the form: no date at all
        ({"done_on": "", "note": "已补办施工许可，附件见县局台账"}, "This field is required"),
        # refused by the form: no note, the typed date stays
        ({"done_on": "2022-06-03", "note": ""}, "This field is required"),
    ],
)
def test_a_refused_mark_done_shows_the_typed_input_and_why(client, world, post, message):
    inspection = world["mine"]
    item = inspection.items.get()
    client.force_login(world["users"]["county"])
    before = fingerprint()
    url = reverse("tracker:inspection_item_action", args=[inspection.pk, item.pk, "done"])
    response = client.post(url, post)
    assert response.status_code == 200
    assert fingerprint() == before
    row = response.content.decode().split(f'id="item-{item.pk}"')[1].split("</tr>")[0]
    assert message in row
    assert f'name="done_on" value="{post["done_on"]}"' in row
    assert f">{post['note']}</textarea>" in row
    assert 'aria-invalid="true"' in row
