"""People are shown by name (and unit where it helps), never by their login.

The accounts here have logins that cannot turn up on a page by accident (``kestrel41x`` …),
so "the login is not in the page" means the page never printed it. The last part loads the
demo seed and sweeps the rendered pages and the exports for the demo logins.
"""

import csv
import datetime
import io
import re
from decimal import Decimal
from html.parser import HTMLParser
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from tests import factories
from tracker import problems as ledger
from tracker.choices import Role, Stage
from tracker.models import (
    Inspection,
    MonthlyReport,
    Problem,
    Project,
    User,
)
from tracker.reports.publishing import publish_monthly_report
from tracker.seed.demo import ensure_demo_users
from tracker.seed.loader import Summary, load_reference, read_json
from tracker.seed.roles import ensure_role_groups
from tracker.services import update_project

MANAGER = ("kestrel41x", "欧阳明月", "宜春市工业和信息化局")
COUNTY = ("heron57q", "司马青云", "袁州区工业和信息化局")
COMMISSIONER = ("osprey83z", "诸葛春华", "宜春市发展和改革委员会")
LOGINS = [MANAGER[0], COUNTY[0], COMMISSIONER[0]]


def body(response):
    assert response.status_code == 200, response.status_code
    if hasattr(response, "streaming_content"):
        return b"".join(response.streaming_content)
    return response.content


def page(client, url):
    return body(client.get(url)).decode()


def assert_no_login(text):
    for login in LOGINS:
        assert login not in text, login


@pytest.fixture
def people(db):
    region = factories.region(name="袁州区")
    manager = factories.user(
        Role.MANAGER, username=MANAGER[0], display_name=MANAGER[1], unit=MANAGER[2]
    )
    county = factories.user(
        Role.COUNTY,
        username=COUNTY[0],
        display_name=COUNTY[1],
        unit=COUNTY[2],
        region=region,
    )
    commissioner = factories.user(
        Role.COMMISSIONER,
        username=COMMISSIONER[0],
        display_name=COMMISSIONER[1],
        unit=COMMISSIONER[2],
    )
    project = factories.project(region=region, signed_amount=Decimal("20000"))
    return manager, county, commissioner, project


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


# --- the one rule ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_person_reads_as_the_name_and_with_the_unit_where_asked():
    user = factories.user(
        Role.MANAGER, username="kite", display_name=" 陈丽华 ", unit="袁州区工信局"
    )
    assert str(user) == user.display() == user.get_full_name() == "陈丽华"
    assert user.display_with_unit == "陈丽华 · 袁州区工信局"
    user.unit = ""
    assert user.display(with_unit=True) == "陈丽华"


@pytest.mark.django_db
def test_an_account_without_a_name_reads_as_its_role_and_scope_never_its_login():
    county = factories.user(Role.COUNTY, username="wren", display_name="", unit="某单位")
    office = factories.user(Role.CHAIN_OFFICE, username="finch", display_name="")
    admin = User.objects.create_superuser("rook", password=factories.PASSWORD)
    nobody = User.objects.create_user("lark", password=factories.PASSWORD)
    with translation.override("zh-hans"):
        assert str(county) == f"未填写姓名的用户（县(市、区)工作人员 · {county.region.name}）"
        assert county.display_with_unit == f"{county} · 某单位"
        assert str(office) == f"未填写姓名的用户（链长办 · {office.chain.name}）"
        assert str(admin) == "未填写姓名的用户（系统管理员）"
        assert str(nobody) == "未填写姓名的用户（未设角色）"
    for user in (county, office, admin, nobody):
        assert user.username not in str(user)


# --- every page that shows a person -------------------------------------------------------


def test_the_header_shows_the_name_of_who_is_logged_in(people):
    _manager, county, *_ = people
    html = page(client_for(county), reverse("tracker:home"))
    who = html.split('class="who"')[1].split("</span>")[0]
    assert COUNTY[1] in who
    assert_no_login(html)


def test_project_page_names_the_commissioner_and_who_changed_recorded_and_filed(people):
    manager, county, commissioner, project = people
    update_project(
        project_id=project.pk,
        data={"commissioner": commissioner, "responsible_unit": "袁州区发改委"},
        expected_version=project.version,
        by=manager,
    )
    project.refresh_from_db()
    project.advance_to(Stage.REGISTERED, on=datetime.date(2022, 4, 1), by=county)
    factories.dispatch(project, iso_week=15, filed_by=commissioner, progress="已注册")
    html = page(client_for(manager), reverse("tracker:project_detail", args=[project.pk]))
    # The commissioner with the unit; the history, the stage change and the report by name.
    assert f"{COMMISSIONER[1]} · {COMMISSIONER[2]}" in html
    history = html.split('id="history"')[1]
    assert MANAGER[1] in history  # who changed the fields
    assert COMMISSIONER[1] in history  # the commissioner field's new value
    assert COUNTY[1] in html  # who recorded the stage change
    assert html.count(COMMISSIONER[1]) >= 3  # fact table, history value, the weekly report
    assert_no_login(html)


def test_problem_page_names_the_raiser_and_every_step_of_its_history(people):
    manager, county, _commissioner, project = people
    problem = ledger.raise_problem(
        by=county, title="用地指标未落实", project=project, today=datetime.date(2022, 5, 2)
    )
    ledger.assign_problem(
        problem_id=problem.pk,
        expected_version=problem.version,
        by=manager,
        unit="市自然资源局",
        deadline=datetime.date(2022, 6, 30),
        today=datetime.date(2022, 5, 3),
    )
    html = page(client_for(manager), reverse("tracker:problem_detail", args=[problem.pk]))
    assert f"{COUNTY[1]} · {COUNTY[2]}" in html  # raised by
    events = html.split("<tbody>")[1]
    assert COUNTY[1] in events and MANAGER[1] in events
    assert_no_login(html)


def test_a_published_report_says_who_published_it_by_name(people):
    manager, county, *_ = people
    publish_monthly_report(year=2022, month=12, by=manager)
    reader = client_for(county)
    html = page(reader, reverse("tracker:monthly_report_version", args=["2022-12", 1]))
    banner = html.split('id="version-label"')[1].split("</p>")[0]
    assert f"{MANAGER[1]} · {MANAGER[2]}" in banner
    versions = html.split('id="versions"')[1].split("</ul>")[0]
    assert MANAGER[1] in versions
    assert MANAGER[1] in page(reader, reverse("tracker:report_index"))  # the version's title
    for url in (
        reverse("tracker:monthly_report", args=["2022-12"]),
        reverse("tracker:report_index"),
    ):
        assert_no_login(page(reader, url))
    assert_no_login(html)


def test_commissioner_selects_list_name_and_unit(people):
    manager, _county, commissioner, project = people
    client = client_for(manager)
    label = f">{COMMISSIONER[1]} · {COMMISSIONER[2]}</option>"
    edit = page(client, reverse("tracker:project_edit", args=[project.pk]))
    assert f'<option value="{commissioner.pk}">{label[1:]}' in edit
    listing = page(client, reverse("tracker:project_list"))
    assert label in listing.split('name="commissioner"')[1].split("</select>")[0]
    assert_no_login(edit)
    assert_no_login(listing)


def test_exports_name_the_commissioner_and_the_raiser(people):
    manager, county, commissioner, project = people
    Project.objects.filter(pk=project.pk).update(commissioner=commissioner)
    ledger.raise_problem(by=county, title="用地指标未落实", project=project)
    client = client_for(manager)
    expected = {
        "project_list": ("企业特派员", f"{COMMISSIONER[1]} · {COMMISSIONER[2]}"),
        "problem_list": ("提出人", f"{COUNTY[1]} · {COUNTY[2]}"),
    }
    for name, (header, person) in expected.items():
        url = reverse(f"tracker:{name}")
        text = body(client.get(url, {"export": "csv"})).decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
        column = rows[0].index(header)
        assert [row[column] for row in rows[1:]] == [person], name
        assert_no_login(text)
        workbook = load_workbook(io.BytesIO(body(client.get(url, {"export": "xlsx"}))))
        cells = [str(cell) for row in workbook.active.iter_rows(values_only=True) for cell in row]
        assert person in cells, name
        assert_no_login(" ".join(cells))


def test_the_admin_sets_and_searches_the_name_and_unit(people):
    _manager, county, *_ = people
    admin = User.objects.create_superuser("jay", password=factories.PASSWORD, display_name="李明")
    client = client_for(admin)
    change = reverse("admin:tracker_user_change", args=[county.pk])
    html = page(client, change)
    assert 'name="display_name"' in html and 'name="unit"' in html
    response = client.post(
        change,
        {
            "username": county.username,
            "display_name": "司马青峰",
            "unit": "袁州区人民政府",
            "email": "",
            "role": Role.COUNTY,
            "region": county.region_id,
            "chain": "",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    county.refresh_from_db()
    assert county.display_with_unit == "司马青峰 · 袁州区人民政府"
    found = page(client, reverse("admin:tracker_user_changelist") + "?q=青峰")
    assert "袁州区人民政府" in found  # the unit column of the one result
    assert MANAGER[1] not in found


# --- the migration's fill ---------------------------------------------------------------------


def test_migration_fills_the_name_from_the_old_first_and_last_name():
    from importlib import import_module

    joined = import_module("tracker.migrations.0009_fill_user_names").joined_name
    assert joined("丽华", "陈") == "陈丽华"
    assert joined("市工信局项目推进科", "") == "市工信局项目推进科"
    assert joined("Na", "Li") == "Na Li"
    assert joined("", "") == ""


# --- the demo: no login anywhere ---------------------------------------------------------------

DEMO_LOGINS = [spec["username"] for spec in read_json("demo_users.json")["users"]]
LOAD_DAY = "2023-01-09"


class VisibleText(HTMLParser):
    """What a reader sees of a page: its text, and the attributes browsers show (title,
    alt, placeholder, aria-label, a button's value)."""

    SHOWN = {"title", "alt", "placeholder", "aria-label"}

    def __init__(self):
        super().__init__()
        self.parts, self._hidden = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._hidden += 1
        for name, value in attrs:
            if value and (name in self.SHOWN or (name == "value" and tag == "button")):
                self.parts.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def visible_text(html):
    parser = VisibleText()
    parser.feed(html)
    return "\n".join(parser.parts)


def logins_in(text):
    return {login for login in DEMO_LOGINS if re.search(rf"(?<![\w-]){login}(?![\w-])", text, re.I)}


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        with override_settings(DEBUG=True):  # the demo accounts exist only with DEBUG
            call_command("seed", "--today", LOAD_DAY, stdout=StringIO())
        users = {u.username: u for u in User.objects.filter(username__in=DEMO_LOGINS)}
        publish_monthly_report(year=2022, month=12, by=users["manager"])
        yield users
        transaction.set_rollback(True)


def demo_urls(user):
    commissioned = Project.objects.filter(commissioner__username="tepaiyuan").order_by("code")
    urls = [
        reverse("tracker:home"),
        reverse("tracker:project_list"),
        reverse("tracker:dashboard"),
        reverse("tracker:chain_list"),
        reverse("tracker:problem_list"),
        reverse("tracker:inspection_list"),
        reverse("tracker:report_index"),
        reverse("tracker:monthly_report", args=["2022-12"]),
        reverse("tracker:monthly_report_version", args=["2022-12", 1]),
        reverse("tracker:assessment_year", args=[2022]),
        *(reverse("tracker:project_detail", args=[p.pk]) for p in commissioned[:2]),
        *(
            reverse("tracker:problem_detail", args=[pk])
            for pk in Problem.objects.visible_to(user)
            .filter(raised_by__username__in=DEMO_LOGINS)
            .order_by("pk")
            .values_list("pk", flat=True)[:8]
        ),
        *(
            reverse("tracker:inspection_detail", args=[pk])
            for pk in Inspection.objects.order_by("pk").values_list("pk", flat=True)[:2]
        ),
    ]
    if user.username == "manager":
        urls.append(reverse("tracker:project_edit", args=[commissioned[0].pk]))
    if user.role in (Role.COUNTY, Role.COMMISSIONER):
        urls.append(reverse("tracker:dispatch"))
    return urls


def sweep(users):
    """{(login of the reader, url): logins seen} over the demo's pages and exports."""
    found = {}
    for login in ("manager", "yuanzhou", "tepaiyuan", "lidian"):
        user = users[login]
        client = client_for(user)
        for url in demo_urls(user):
            response = client.get(url, follow=True)  # a county clerk's list opens on the region
            if response.status_code in (403, 404):  # not this reader's page
                continue
            seen = logins_in(visible_text(body(response).decode()))
            if seen:
                found[(login, url)] = seen
    manager = client_for(users["manager"])
    for name in ("project_list", "problem_list"):
        response = manager.get(reverse(f"tracker:{name}"), {"export": "csv"})
        seen = logins_in(body(response).decode("utf-8-sig"))
        if seen:
            found[("manager", f"{name} csv")] = seen
    return found


def test_the_demo_shows_no_login_anywhere(demo):
    assert MonthlyReport.objects.filter(year=2022, month=12).exists()
    assert Problem.objects.filter(raised_by__username__in=DEMO_LOGINS).count() >= 6
    assert sweep(demo) == {}


def test_the_sweep_finds_a_login_where_a_page_prints_one(demo):
    """The sweep can fail: accounts whose names are their logins show up in it, on the
    pages that name people (history, raiser, commissioner, publisher)."""
    with transaction.atomic():
        for user in demo.values():
            user.display_name = user.username
            user.save(update_fields=["display_name"])
        found = sweep(demo)
        transaction.set_rollback(True)
    for user in demo.values():
        user.refresh_from_db()
    pages = {url for _login, url in found}
    assert any("/projects/" in url for url in pages), found
    assert any("/problems/" in url for url in pages), found
    assert any("/reports/monthly/2022-12/v1/" in url for url in pages), found
    assert ("manager", "project_list csv") in found
    assert {"manager", "yuanzhou", "tepaiyuan"} <= set().union(*found.values())


def test_a_new_seed_names_demo_accounts_that_still_carry_the_old_office_label(demo):
    """Before 0008 the demo accounts' first name was an office ("市工信局项目推进科"), which
    0008 copied into the name: the seed replaces that, never a name someone gave."""
    specs = {spec["username"]: spec for spec in read_json("demo_users.json")["users"]}
    with transaction.atomic():
        User.objects.filter(username="manager").update(
            first_name="市工信局项目推进科", display_name="市工信局项目推进科", unit=""
        )
        User.objects.filter(username="yuanzhou").update(display_name="袁州甲", unit="")
        groups = {g.name: g for g in ensure_role_groups().values()}
        ensure_demo_users(load_reference(Summary()), groups, Summary())
        names = dict(User.objects.values_list("username", "display_name"))
        units = dict(User.objects.values_list("username", "unit"))
        transaction.set_rollback(True)
    assert (names["manager"], units["manager"]) == (
        specs["manager"]["display_name"],
        specs["manager"]["unit"],
    )
    assert (names["yuanzhou"], units["yuanzhou"]) == ("袁州甲", "")
