"""The project pages in headless Chromium: filter, export, edit and meet a conflict."""

import datetime
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.conftest import login
from tracker.choices import Role
from tracker.models import Project

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def book():
    yuanzhou = factories.region(name="袁州区", sort_order=1)
    zhangshu = factories.region(name="樟树市", sort_order=2)
    chain = factories.chain(name="锂电新能源")
    projects = [
        factories.project(
            code="YZ-001",
            name="锂电池隔膜项目",
            region=yuanzhou,
            chain=chain,
            signed_on=datetime.date(2022, 4, 1),
            signed_amount=Decimal("300000"),
        ),
        factories.project(
            code="YZ-002",
            name="电池回收项目",
            region=yuanzhou,
            chain=chain,
            signed_on=datetime.date(2021, 4, 1),
            signed_amount=Decimal("20000"),
        ),
        factories.project(
            code="ZS-001",
            name="中药提取项目",
            region=zhangshu,
            chain=chain,
            signed_on=datetime.date(2022, 8, 1),
            signed_amount=Decimal("8000"),
        ),
    ]
    return {"yuanzhou": yuanzhou, "zhangshu": zhangshu, "projects": projects}


def test_filter_the_list_and_export_the_filtered_set(browser_page, book):
    page = browser_page
    factories.user(Role.MANAGER, username="boss")
    login(page, "boss", factories.PASSWORD)
    missing = []
    page.on("response", lambda r: missing.append(r.url) if r.status >= 400 else None)
    page.console_errors.clear()  # only this page's errors count (not e.g. a favicon at login)
    page.goto(page.base_url + "/projects/")
    rows = page.locator("table.projects tbody tr")
    expect(rows).to_have_count(3)
    page.select_option("select[name=region]", str(book["yuanzhou"].pk))
    page.fill("input[name=signed_year]", "2022")
    page.click("#project-filters button[type=submit]")
    page.wait_for_url(re.compile(r"signed_year=2022"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("YZ-001")
    expect(page.locator("table.projects tfoot")).to_contain_text("300,000.00")

    with page.expect_download() as info:
        page.click("#export-csv")
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    content = open(download.path(), "rb").read()
    assert content.startswith(b"\xef\xbb\xbf")
    lines = content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("项目编号,项目名称,企业名称,县(市、区),产业链,签约日期")
    assert len(lines) == 2 and lines[1].startswith("YZ-001,")
    assert page.console_errors == [], missing


def test_bad_filter_value_shows_a_message_in_the_page(browser_page, book):
    page = browser_page
    factories.user(Role.MANAGER, username="boss")
    login(page, "boss", factories.PASSWORD)
    page.goto(page.base_url + "/projects/?signed_year=abc")
    expect(page.locator("#error-signed_year")).to_be_visible()
    expect(page.locator(".filter-invalid")).to_be_visible()


def test_edit_a_project(browser_page, book):
    page = browser_page
    project = book["projects"][0]
    factories.user(Role.COUNTY, region=book["yuanzhou"], username="yuanzhou")
    login(page, "yuanzhou", factories.PASSWORD)
    page.goto(page.base_url + f"/projects/{project.pk}/")
    page.click("#edit-link")
    page.wait_for_url(f"**/projects/{project.pk}/edit/")
    page.fill("input[name=responsible_unit]", "袁州区工信局")
    page.fill("input[name=completed_investment]", "1234.5")
    page.select_option("select[name=target_stage]", "registered")
    page.fill("input[name=stage_effective_on]", "2022-05-01")
    page.click("#save")
    page.wait_for_url(f"**/projects/{project.pk}/")
    expect(page.locator(".messages .msg-success")).to_be_visible()
    expect(page.locator("#facts")).to_contain_text("袁州区工信局")
    project.refresh_from_db()
    assert project.responsible_unit == "袁州区工信局"
    assert project.completed_investment == Decimal("1234.50")
    assert project.stage == "registered"


def test_a_stale_form_meets_the_conflict_message(browser_page, book):
    page = browser_page
    project = book["projects"][0]
    factories.user(Role.COUNTY, region=book["yuanzhou"], username="yuanzhou")
    login(page, "yuanzhou", factories.PASSWORD)
    second = page.context.new_page()
    url = page.base_url + f"/projects/{project.pk}/edit/"
    page.goto(url)
    second.goto(url)

    page.fill("input[name=responsible_unit]", "先保存的单位")
    page.click("#save")
    page.wait_for_url(f"**/projects/{project.pk}/")
    expect(page.locator(".messages .msg-success")).to_be_visible()

    second.fill("input[name=responsible_leader]", "后保存的领导")
    second.click("#save")
    conflict = second.locator("#conflict")  # only on the page that answers the stale save
    expect(conflict).to_be_visible()
    expect(conflict).to_contain_text("先保存的单位")
    expect(second.locator(".messages .msg-error")).to_be_visible()
    current = Project.objects.get(pk=project.pk)
    assert current.responsible_unit == "先保存的单位"
    assert current.responsible_leader == ""
