"""The monthly report in headless Chromium: a manager opens December 2022 on the seeded
book, publishes it (through the confirmation page), lands on version 1 and exports its XLSX.
No console errors."""

from io import StringIO

import pytest
from django.core.management import call_command
from openpyxl import load_workbook
from playwright.sync_api import expect

from tests import factories
from tests.conftest import login
from tests.test_tasks import run_queued_jobs
from tracker.choices import Role
from tracker.models import MonthlyReport
from tracker.spreadsheets import HEADER_ROW

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def seeded_manager():
    call_command("seed", "--today", "2023-01-02", "--no-demo-users", stdout=StringIO())
    return factories.user(Role.MANAGER, username="boss")


def test_manager_opens_publishes_and_exports_december_2022(browser_page, seeded_manager):
    page = browser_page
    login(page, "boss", factories.PASSWORD)
    page.goto(page.base_url + "/reports/monthly/")
    page.click("tr[data-month='2022-12'] a")
    page.wait_for_url("**/reports/monthly/2022-12/")
    expect(page.locator("#city-count")).to_have_text("338")
    expect(page.locator("#city-amount")).to_have_text("1,796.16")
    expect(page.locator("#city-5020")).to_have_text("41")
    expect(page.locator("#city-billion")).to_have_text("298")
    expect(page.locator("#report-definitions dt")).to_have_count(6)
    expect(page.locator("#versions-none")).to_be_visible()

    page.click("#publish")  # the confirmation page says what is frozen; nothing yet
    page.wait_for_url("**/reports/monthly/2022-12/publish/")
    expect(page.locator("#confirm-version")).to_have_text("第 1 版")
    assert not MonthlyReport.objects.exists()
    page.click("#confirm-publish")
    page.wait_for_url("**/jobs/*/")  # publishing runs as a background job: its page
    run_queued_jobs()  # what a worker does; the page refreshes by itself and opens v1
    page.wait_for_url("**/reports/monthly/2022-12/v1/")
    expect(page.locator("#version-label")).to_be_visible()
    expect(page.locator("#version-label")).to_contain_text("1")
    expect(page.locator("#city-count")).to_have_text("338")
    report = MonthlyReport.objects.get()
    assert (report.year, report.month, report.version) == (2022, 12, 1)

    with page.expect_download() as info:
        page.click("#export-xlsx")
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    with open(download.path(), "rb") as file:  # the download's path has no extension
        workbook = load_workbook(file)
    assert workbook.sheetnames == ["县市区", "产业链", "红黄灯项目", "指标说明"]
    sheet = workbook["县市区"]
    header = [c.value for c in sheet[HEADER_ROW]]
    total = dict(zip(header, [c.value for c in sheet[sheet.max_row]], strict=True))
    assert total["年累计签约项目数"] == 338
    assert total["年累计签约金额(亿元)"] == 1796.16

    # Printing uses the A4 stylesheet: navigation and controls are hidden.
    page.emulate_media(media="print")
    expect(page.locator(".topbar")).to_be_hidden()
    expect(page.locator("#report-status")).to_be_hidden()
    expect(page.locator(".report-title")).to_be_visible()
    # Each printed page is headed by the report's title and version (print.css puts the
    # <html data-print-title> into @page through a custom property: no inline CSS).
    title = page.evaluate(
        "getComputedStyle(document.documentElement).getPropertyValue('--print-title')"
    )
    assert title == '"宜春市工业项目月通报（2022年12月） · v1"'
    assert page.console_errors == []
