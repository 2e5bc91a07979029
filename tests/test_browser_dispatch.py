"""Browser: county staff file the weekly dispatch for two projects in headless Chromium."""

import datetime
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests import factories as f
from tests.conftest import login
from tracker.choices import Role
from tracker.models import WeeklyDispatch

pytestmark = pytest.mark.browser

FIGURE = "input[name^='row-'][name$='-completed_investment']"


def test_county_staff_file_the_dispatch_for_two_projects(browser_page):
    page = browser_page
    region = f.region(name="袁州区")
    user = f.user(Role.COUNTY, region=region, username="yuanzhou-test")
    projects = [
        f.project(region=region, signed_on=datetime.date(2022, 1, 1), signed_amount=Decimal(20000))
        for _ in range(3)
    ]
    p1, p2, p3 = projects
    login(page, user.username, f.PASSWORD)
    page.goto(page.base_url + "/")
    page.click("#go-dispatch")
    page.wait_for_url("**/dispatch/")
    expect(page.locator("#missing li")).to_have_count(3)

    row1 = page.locator(f"#row-{p1.pk}")
    row1.locator(FIGURE).fill("1200.5")
    row1.locator("textarea[name^='row-'][name$='-progress']").fill("主体结构封顶")
    row2 = page.locator(f"#row-{p2.pk}")
    row2.locator(FIGURE).fill("800")
    row2.locator("textarea[name^='row-'][name$='-problems']").fill("<b>用电报装</b> 待办")
    page.click("#submit-dispatch")

    expect(page.locator(".messages .msg-success")).to_have_count(1)  # the page after saving
    missing = page.locator("#missing li")
    expect(missing).to_have_count(1)
    expect(missing.first).to_have_attribute("data-project", str(p3.pk))
    # the saved values are pre-filled again, the text shown as typed (escaped)
    expect(row1.locator(FIGURE)).to_have_value("1200.50")
    expect(row2.locator("textarea[name^='row-'][name$='-problems']")).to_have_value(
        "<b>用电报装</b> 待办"
    )
    expect(page.locator(f"#row-{p1.pk}.filed")).to_have_count(1)

    reports = {r.project_id: r for r in WeeklyDispatch.objects.all()}
    assert set(reports) == {p1.pk, p2.pk}
    assert reports[p1.pk].completed_investment == Decimal("1200.50")
    assert reports[p1.pk].filed_by == user

    # a bad figure keeps the typed value, shows the message beside it, saves nothing
    row3 = page.locator(f"#row-{p3.pk}")
    row3.locator(FIGURE).fill("-3")
    page.click("#submit-dispatch")
    expect(row3.locator(".errorlist")).to_have_count(1)
    expect(row3.locator(FIGURE)).to_have_value("-3")
    assert WeeklyDispatch.objects.count() == 2
    assert page.console_errors == []


def test_one_box_files_every_unchanged_row(browser_page):
    page = browser_page
    region = f.region(name="樟树市")
    user = f.user(Role.COUNTY, region=region, username="zhangshu-test")
    projects = [
        f.project(region=region, signed_on=datetime.date(2022, 1, 1), signed_amount=Decimal(20000))
        for _ in range(4)
    ]
    login(page, user.username, f.PASSWORD)
    page.goto(page.base_url + "/dispatch/")
    expect(page.locator("#missing li")).to_have_count(4)
    page.check("#confirm-all")
    page.click("#submit-dispatch")
    expect(page.locator(".messages .msg-success")).to_have_count(1)
    expect(page.locator("#missing li")).to_have_count(0)
    filed = set(WeeklyDispatch.objects.values_list("project_id", flat=True))
    assert filed == {p.pk for p in projects}
    assert page.console_errors == []


def test_a_manager_on_a_phone_is_asked_for_a_reason_only_when_lowering(browser_page):
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    region = f.region(name="高安市", code="gaoan")
    manager = f.user(Role.MANAGER, username="manager-test")
    project = f.project(
        region=region,
        signed_on=datetime.date(2022, 1, 1),
        signed_amount=Decimal(20000),
        completed_investment=Decimal("9034.50"),
    )
    login(page, manager.username, f.PASSWORD)
    page.goto(page.base_url + "/dispatch/?region=gaoan")
    row = page.locator(f"#row-{project.pk}")
    figure = row.locator(FIGURE)
    reason = row.locator("[data-reason]")
    expect(figure).to_have_value("9034.50")  # the project's current figure
    expect(reason).to_be_hidden()
    figure.fill("9100")
    expect(reason).to_be_hidden()
    figure.fill("8713")
    expect(reason).to_be_visible()  # lowering: the reason field appears under the figure
    # The page stays a phone's width: the row is a card, no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.click("#submit-dispatch")
    expect(row.locator("[data-reason] .errorlist")).to_have_count(1)  # refused without one
    expect(row.locator("[data-reason]")).to_be_visible()
    assert WeeklyDispatch.objects.count() == 0
    row.locator("input[name^='row-'][name$='-reason']").fill("重复统计，核实为 8713")
    page.click("#submit-dispatch")
    expect(page.locator(".messages .msg-success")).to_have_count(1)
    assert WeeklyDispatch.objects.get().completed_investment == Decimal(8713)
    assert page.console_errors == []
