"""A bulk change in headless Chromium on a 390 px phone with JavaScript off: filter the list,
choose all matching, give the value, confirm, read the result."""

import datetime
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.conftest import BROWSER_TIMEOUT_MS, login
from tests.test_browser_axe import Audit
from tracker.choices import Role, Stage
from tracker.models import ChangeLog, Project

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone_without_js(browser_page):
    context = browser_page.context.browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN", java_script_enabled=False
    )
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    page = context.new_page()
    page.base_url = browser_page.base_url
    try:
        yield page
    finally:
        context.close()


def fits(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], page.url


def test_filter_choose_all_matching_confirm_and_see_the_result(phone_without_js):
    page = phone_without_js
    yuanzhou = factories.region(name="袁州区", sort_order=1)
    zhangshu = factories.region(name="樟树市", sort_order=2)
    chain = factories.chain(name="锂电新能源")
    for i, region in enumerate([yuanzhou, yuanzhou, yuanzhou, zhangshu]):
        factories.project(
            code=f"BK-{i}",
            name=f"批量测试项目{i}",
            region=region,
            chain=chain,
            signed_on=datetime.date(2022, 4, 1),
            signed_amount=Decimal("30000"),
            responsible_unit="旧单位",
        )
    factories.user(Role.MANAGER, username="boss")
    login(page, "boss", factories.PASSWORD)

    page.goto(page.base_url + "/projects/")
    page.select_option("#id_region", label="袁州区")
    page.click("#project-filters button[type=submit]")
    expect(page.locator("table.projects tbody tr")).to_have_count(3)
    fits(page)
    page.check("#bulk-scope-all")
    expect(page.locator("label:has(#bulk-scope-all)")).to_contain_text(
        "全部 3 个符合筛选条件的项目"
    )
    page.select_option("#bulk-field", "responsible_unit")
    page.click("#bulk-start")

    expect(page.locator("#bulk-count")).to_have_text("3")
    fits(page)
    page.fill("#id_responsible_unit", "袁州区工信局")
    page.click("#bulk-review")

    expect(page.locator("#bulk-count")).to_have_text("3")
    expect(page.locator("#bulk-filter")).to_contain_text("袁州区")
    expect(page.locator("#bulk-value")).to_have_text("袁州区工信局")
    fits(page)
    page.click("#bulk-apply")

    expect(page.locator("#bulk-applied")).to_contain_text("已修改 3 个项目的责任单位")
    fits(page)
    units = dict(Project.objects.values_list("region__name", "responsible_unit").distinct())
    assert units == {"袁州区": "袁州区工信局", "樟树市": "旧单位"}
    assert ChangeLog.objects.filter(note="批量修改（责任单位，3个项目）").count() == 3


def test_ticked_rows_a_stage_move_and_no_accessibility_finding(browser_page):
    """County staff on a desktop: tick rows (only their region's have a box), move them a
    stage on, see the refused one with its reason; axe finds nothing serious on each step."""
    page = browser_page
    audit = Audit(page)
    home = factories.region(name="袁州区", sort_order=1)
    chain = factories.chain(name="锂电新能源")
    signed = factories.project(code="BK-S", name="签约项目", region=home, chain=chain)
    completed = factories.project(
        code="BK-C",
        name="竣工项目",
        region=home,
        chain=chain,
        history=[
            (Stage.STARTED, datetime.date(2022, 4, 1)),
            (Stage.COMPLETED, datetime.date(2022, 6, 1)),
        ],
    )
    other = factories.project(code="BK-O", name="外县项目", chain=chain)
    factories.user(Role.COUNTY, region=home, username="clerk")
    login(page, "clerk", factories.PASSWORD)

    page.goto(page.base_url + "/projects/?region=")
    expect(page.locator(f'input[name=ids][value="{other.pk}"]')).to_have_count(0)
    page.check(f'input[name=ids][value="{signed.pk}"]')
    page.check(f'input[name=ids][value="{completed.pk}"]')
    audit.run("county", "project list")
    page.select_option("#bulk-field", "stage")
    page.click("#bulk-start")

    expect(page.locator("#bulk-count")).to_have_text("2")
    audit.run("county", "bulk value")
    page.select_option("#id_stage", Stage.REGISTERED)
    page.fill("#id_stage_on", "2022-07-01")
    page.click("#bulk-review")
    expect(page.locator("#bulk-value")).to_contain_text("2022-07-01")
    audit.run("county", "bulk confirm")
    page.click("#bulk-apply")

    expect(page.locator("#bulk-applied")).to_contain_text("1")
    expect(page.locator("#bulk-refused")).to_contain_text("BK-C")
    expect(page.locator("#bulk-refused")).to_contain_text("市工信局管理员")
    audit.run("county", "bulk result")
    audit.report()
    assert not audit.findings
    stages = dict(Project.objects.values_list("code", "stage"))
    assert stages == {"BK-S": Stage.REGISTERED, "BK-C": Stage.COMPLETED, "BK-O": Stage.SIGNED}
