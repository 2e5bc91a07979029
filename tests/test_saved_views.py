"""Saved views of the list pages (tracker/saved_views.py, FilteredListView.apply_saved_view):
who sees a view, who may change it, a group's default, and a view applied on top of the
URL's own filters keeping both."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests import factories
from tracker import columns, saved_views
from tracker.choices import ListName, ProblemStatus, Role, Stage, Visibility
from tracker.models import Problem, SavedView
from tracker.views.projects import ProjectListView

pytestmark = pytest.mark.django_db

PROJECTS = reverse("tracker:project_list")
PROBLEMS = reverse("tracker:problem_list")
CREATE = reverse("tracker:saved_view_create", args=[ListName.PROJECTS])


def action_url(view, action):
    return reverse("tracker:saved_view_action", args=[view.pk, action])


def view_of(owner, name="我的视图", query="", **kw):
    kw.setdefault("list_name", ListName.PROJECTS)
    return SavedView.objects.create(owner=owner, name=name, query=query, **kw)


def shown_views(client, url=PROJECTS, params=None):
    response = client.get(url, params or {"region": ""})
    assert response.status_code == 200
    return {view.name for view in response.context["saved_views"]}


def codes(response):
    return sorted(row.record.code for row in response.context["table"].page.object_list)


def query_of(location):
    return parse_qs(urlsplit(location).query, keep_blank_values=True)


@pytest.fixture
def people():
    region = factories.region(name="袁州区")
    group = Group.objects.create(name="袁州区工作组")
    member = factories.user(Role.COUNTY, region=region)
    member.groups.add(group)
    return {
        "region": region,
        "group": group,
        "member": member,
        "outsider": factories.user(Role.COUNTY),
        "owner": factories.user(Role.COUNTY, region=region),
        "manager": factories.user(Role.MANAGER),
    }


# --- who sees a view --------------------------------------------------------------------------
def test_a_private_view_is_seen_by_its_owner_only(client, people):
    view = view_of(people["owner"], "只给我看", "stage=signed")
    client.force_login(people["owner"])
    assert shown_views(client) == {"只给我看"}
    for other in ("member", "outsider", "manager"):
        client.force_login(people[other])
        assert shown_views(client) == set()
        # opening it by its id is refused with a message; the page shows without it
        response = client.get(PROJECTS, {"view": view.pk}, follow=True)
        assert response.status_code == 200
        assert response.context["active_view"] is None
        assert "不存在" in response.content.decode()


def test_a_group_view_is_seen_by_the_groups_members_only(client, people):
    people["owner"].groups.add(people["group"])
    view_of(people["owner"], "组内视图", visibility=Visibility.GROUP, group=people["group"])
    for who, sees in (("owner", True), ("member", True), ("outsider", False), ("manager", False)):
        client.force_login(people[who])
        assert shown_views(client) == ({"组内视图"} if sees else set()), who


def test_a_public_view_is_seen_by_everyone_and_only_managers_publish(client, people):
    client.force_login(people["manager"])
    response = client.post(CREATE, {"name": "全市视图", "visibility": "public", "query": ""})
    assert response.status_code == 302
    for who in ("owner", "member", "outsider", "manager"):
        client.force_login(people[who])
        assert shown_views(client) == {"全市视图"}, who
    # county staff may not share with everyone: refused, nothing saved
    client.force_login(people["owner"])
    response = client.post(CREATE, {"name": "越权公开", "visibility": "public", "query": ""})
    assert response.status_code == 403
    assert not SavedView.objects.filter(name="越权公开").exists()
    # nor with a group they are not in
    response = client.post(
        CREATE,
        {"name": "别人的组", "visibility": "group", "group": people["group"].pk, "query": ""},
    )
    assert response.status_code == 200 and "error-group" in response.content.decode()
    assert not SavedView.objects.filter(name="别人的组").exists()


# --- only the owner changes a view -----------------------------------------------------------
def test_only_the_owner_renames_updates_or_deletes_a_view(client, people):
    people["owner"].groups.add(people["group"])
    group = people["group"]
    view = view_of(people["owner"], "组内视图", "stage=signed", visibility="group", group=group)
    before = SavedView.objects.values_list("name", "query").get(pk=view.pk)
    posts = {"rename": {"name": "被改名"}, "update": {"query": "stage=started"}, "delete": {}}
    # the member sees the view, the manager may do anything else: neither may change it
    for who in ("member", "outsider", "manager"):
        client.force_login(people[who])
        for action, body in posts.items():
            assert client.post(action_url(view, action), body).status_code == 404, (who, action)
            assert client.get(action_url(view, action)).status_code == 404
    assert SavedView.objects.values_list("name", "query").get(pk=view.pk) == before

    client.force_login(people["owner"])
    here = f"{PROJECTS}?stage=signed&view={view.pk}"
    response = client.post(action_url(view, "rename"), {"name": "新名字", "next": here})
    assert response.status_code == 302 and response["Location"] == here
    response = client.post(
        action_url(view, "update"), {"query": "stage=started&page=3&export=csv", "next": here}
    )
    view.refresh_from_db()
    assert (view.name, view.query) == ("新名字", "stage=started")  # never the page or export
    response = client.post(action_url(view, "delete"), {"next": here})
    assert response["Location"] == f"{PROJECTS}?stage=signed"  # the list, without the view
    assert not SavedView.objects.filter(pk=view.pk).exists()


# --- a group's default -----------------------------------------------------------------------
def test_a_counties_staff_open_the_list_on_their_groups_default_view(client, people):
    mine = factories.project(region=people["region"], name="本县项目")
    factories.project(name="外县项目")
    default = saved_views.save_view(
        by=people["manager"],
        list_name=ListName.PROJECTS,
        name="袁州区默认",
        query=f"region={people['region'].pk}",
        visibility=Visibility.GROUP,
        group=people["group"],
        is_group_default=True,
    )
    client.force_login(people["member"])
    response = client.get(PROJECTS)
    assert response.status_code == 302
    assert query_of(response["Location"]) == {
        "region": [str(people["region"].pk)],
        "view": [str(default.pk)],
    }
    page = client.get(response["Location"])
    assert codes(page) == [mine.code] and page.context["active_view"].pk == default.pk
    # the default opens only on an empty query: an explicit "all regions" stays
    assert client.get(PROJECTS, {"region": ""}).status_code == 200
    # not a member: the county clerk's own region, as before; the manager: no redirect
    client.force_login(people["outsider"])
    assert query_of(client.get(PROJECTS)["Location"]) == {
        "region": [str(people["outsider"].region_id)]
    }
    client.force_login(people["manager"])
    assert client.get(PROJECTS).status_code == 200


def test_a_group_has_one_default_per_list_and_only_managers_set_it(people):
    kw = {
        "list_name": ListName.PROJECTS,
        "query": "",
        "visibility": Visibility.GROUP,
        "group": people["group"],
        "is_group_default": True,
    }
    saved_views.save_view(by=people["manager"], name="默认一", **kw)
    with pytest.raises(saved_views.ValidationError) as error:
        saved_views.save_view(by=people["manager"], name="默认二", **kw)
    assert "该用户组在本清单已有默认视图。" in error.value.messages
    with pytest.raises(saved_views.PermissionDenied):
        saved_views.save_view(by=people["member"], name="默认三", **kw)
    assert SavedView.objects.filter(is_group_default=True).count() == 1


# --- a view on top of the URL's filters ------------------------------------------------------
@pytest.fixture
def grid(people):
    """Two regions × two stages, one project each."""
    other = factories.region(name="万载县")
    rows = {}
    for region in (people["region"], other):
        for stage in (Stage.SIGNED, Stage.STARTED):
            rows[(region.pk, stage)] = factories.project(region=region, stage=stage)
    return {**people, "other": other, "rows": rows}


def test_a_saved_view_on_top_of_a_url_filter_keeps_both(client, grid):
    view = view_of(grid["manager"], "已开工", "stage=started&sort=code")
    client.force_login(grid["manager"])
    region = grid["region"].pk
    response = client.get(PROJECTS, {"region": region, "view": view.pk})
    assert response.status_code == 302
    assert query_of(response["Location"]) == {
        "region": [str(region)],
        "stage": ["started"],
        "sort": ["code"],
        "view": [str(view.pk)],
    }
    page = client.get(response["Location"])
    # both filters narrow the rows: the URL's region and the view's stage
    assert codes(page) == [grid["rows"][(region, Stage.STARTED)].code]
    assert page.context["active_view"].pk == view.pk


def test_the_url_wins_where_it_and_the_view_set_the_same_filter(client, grid):
    view = view_of(grid["manager"], "万载已开工", f"region={grid['other'].pk}&stage=started")
    client.force_login(grid["manager"])
    region = grid["region"].pk
    response = client.get(PROJECTS, {"region": region, "view": view.pk})
    assert query_of(response["Location"])["region"] == [str(region)]
    page = client.get(response["Location"])
    assert codes(page) == [grid["rows"][(region, Stage.STARTED)].code]


def test_a_views_url_is_a_bookmark(client, grid):
    view = view_of(grid["manager"], "已开工", "stage=started")
    client.force_login(grid["manager"])
    bookmark = client.get(PROJECTS, {"view": view.pk})["Location"]
    # opened again later (another session): the page itself, no further redirect
    client.logout()
    client.force_login(grid["manager"])
    page = client.get(bookmark)
    assert page.status_code == 200
    assert codes(page) == sorted(p.code for (_r, s), p in grid["rows"].items() if s == "started")
    assert page.context["active_view"].name == "已开工"
    assert 'id="active-view"' in page.content.decode()


def test_changing_the_filters_of_an_open_view_keeps_its_sort_and_columns(client, grid):
    view = view_of(grid["manager"], "按编号", "stage=started&sort=-code&columns=code,name")
    client.force_login(grid["manager"])
    page = client.get(client.get(PROJECTS, {"view": view.pk})["Location"])
    assert f'name="view" value="{view.pk}"' in page.content.decode()  # in the filter form
    # the filter form sends every filter (an emptied one as ``stage=``) and the view
    form = {name: "" for name in page.context["filter"].form.fields}
    response = client.get(PROJECTS, {**form, "region": grid["region"].pk, "view": view.pk})
    page = client.get(response["Location"])
    shown = [c.name for c in page.context["table"].columns if c.name not in columns.CONTROLS]
    assert shown == ["code", "name"]
    rows = [grid["rows"][(grid["region"].pk, s)].code for s in (Stage.STARTED, Stage.SIGNED)]
    assert codes(page) == sorted(rows) and page.context["table"].order_by == ("-code",)


def test_saving_the_page_keeps_its_filters_sort_and_columns_not_its_page(client, grid):
    client.force_login(grid["member"])
    response = client.post(
        CREATE,
        {
            "name": "我的已开工",
            "visibility": "group",
            "group": grid["group"].pk,
            "query": "stage=started&sort=-code&columns=code,name&page=2&export=csv&view=7",
        },
    )
    view = SavedView.objects.get(name="我的已开工")
    assert view.query == "stage=started&sort=-code&columns=code%2Cname"
    assert (view.owner, view.visibility, view.group) == (grid["member"], "group", grid["group"])
    assert query_of(response["Location"])["view"] == [str(view.pk)]


def test_the_problem_ledger_has_saved_views_too(client, grid):
    project = grid["rows"][(grid["region"].pk, Stage.SIGNED)]
    for status in (ProblemStatus.RAISED, ProblemStatus.ASSIGNED):
        Problem.objects.create(
            title=f"问题{status}",
            project=project,
            chain=project.chain,
            region=project.region,
            status=status,
            raised_on=project.signed_on,
            raised_by=grid["manager"],
            assigned_unit="某局" if status == ProblemStatus.ASSIGNED else "",
            deadline=project.signed_on if status == ProblemStatus.ASSIGNED else None,
        )
    view = view_of(grid["manager"], "待交办", "status=raised", list_name=ListName.PROBLEMS)
    client.force_login(grid["manager"])
    assert shown_views(client, PROJECTS) == set()  # a view belongs to one list
    response = client.get(PROBLEMS, {"region": grid["region"].pk, "view": view.pk}, follow=True)
    titles = [row.record.title for row in response.context["table"].page.object_list]
    assert titles == ["问题raised"]


# --- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("raw", ["abc", "999999", "-1", "9" * 40])
def test_a_bad_view_id_is_a_message_not_an_error(client, people, raw):
    client.force_login(people["manager"])
    response = client.get(PROJECTS, {"view": raw})
    assert response.status_code == 200
    assert "不存在" in response.content.decode()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("长" * 81, "80"),
        ("", "必须填写"),
        ("   ", "必须填写"),
        ("坏\x07名字", ""),
    ],
)
def test_a_bad_name_is_shown_beside_the_field_and_nothing_is_saved(client, people, name, message):
    client.force_login(people["owner"])
    response = client.post(CREATE, {"name": name, "visibility": "private", "query": ""})
    assert response.status_code == 200
    body = response.content.decode()
    assert "error-name" in body and message in body
    assert not SavedView.objects.exists()


def test_a_duplicate_name_is_refused_with_a_message(client, people):
    view_of(people["owner"], "重名")
    client.force_login(people["owner"])
    response = client.post(CREATE, {"name": " 重名 ", "visibility": "private", "query": ""})
    assert response.status_code == 200
    assert "同名" in response.content.decode()
    assert SavedView.objects.count() == 1
    # renaming another view to that name: a message on the list, nothing changed
    other = view_of(people["owner"], "另一个")
    response = client.post(action_url(other, "rename"), {"name": "重名"}, follow=True)
    assert "同名" in response.content.decode()
    other.refresh_from_db()
    assert other.name == "另一个"
    # the same name is fine for another user or another list
    view_of(people["member"], "重名")
    view_of(people["owner"], "重名", list_name=ListName.PROBLEMS)


def test_a_view_with_an_unknown_column_is_refused(client, people):
    client.force_login(people["owner"])
    response = client.post(
        CREATE, {"name": "坏列", "visibility": "private", "query": "columns=code,nope"}
    )
    assert response.status_code == 200 and "nope" in response.content.decode()
    assert not SavedView.objects.exists()


def test_an_unknown_list_is_a_404(client, people):
    client.force_login(people["owner"])
    url = reverse("tracker:saved_view_create", args=["nolist"])
    assert client.get(url).status_code == 404
    assert client.post(url, {"name": "x", "visibility": "private"}).status_code == 404


# --- cost -----------------------------------------------------------------------------------------
def _count(client, params):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(PROJECTS, params)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_views_and_columns_cost_one_query_at_any_size(client, people, monkeypatch):
    manager = people["manager"]
    for n in range(3):
        view_of(manager, f"视图{n}", "stage=signed")
    saved_views.set_columns(user=manager, list_name=ListName.PROJECTS, columns=["name", "code"])
    client.force_login(manager)
    params = {"region": "", "per_page": 25}
    for _ in range(5):
        factories.project()
    client.get(PROJECTS, params)  # warm caches
    small = _count(client, params)
    for _ in range(30):
        factories.project()
    for n in range(20):
        view_of(manager, f"更多视图{n}")
    assert _count(client, params) == small
    monkeypatch.setattr(ProjectListView, "list_name", None)  # the page without views/columns
    assert small - _count(client, params) == 1
