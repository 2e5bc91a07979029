"""Importing in headless Chromium: download the template, upload a file, read the preview
(changes and errors), confirm, and see the project changed (issue 11)."""

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.conftest import login
from tests.test_browser_axe import Audit
from tests.test_imports import book_row, csv_bytes
from tracker.choices import Role
from tracker.models import ChangeLog, Project

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_upload_read_the_preview_and_confirm(browser_page, tmp_path):
    page = browser_page
    region = factories.region(name="袁州区")
    mine = factories.project(code="YZ-1", name="锂电池隔膜项目", region=region)
    other = factories.project(code="YZ-2", name="电池回收项目", region=region)
    factories.user(Role.COUNTY, region=region, username="yuanzhou")
    login(page, "yuanzhou", factories.PASSWORD)
    page.goto(page.base_url + "/projects/")
    page.click("#import-link-projects")
    with page.expect_download() as info:
        page.click("#import-template")
    assert info.value.suggested_filename == "项目导入模板.xlsx"

    # First a file with a mistake: the preview lists it and offers no confirmation.
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes([book_row(mine, **{"累计完成投资(万元)": "很多"})]))
    page.set_input_files("input[name=file]", str(bad))
    page.click("#import-upload")
    expect(page.locator("#import-errors")).to_contain_text("累计完成投资(万元)")
    expect(page.locator("#import-errors")).to_contain_text("不是数字")
    expect(page.locator("#import-confirm")).to_have_count(0)
    audit = Audit(page)  # the preview with its errors, read by a screen reader too
    audit.run("county clerk", "import preview with errors")
    assert audit.findings == []
    page.set_viewport_size({"width": 390, "height": 844})  # the preview on a phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1280, "height": 800})

    page.click("text=导入其他文件")
    good = tmp_path / "good.csv"
    good.write_bytes(
        csv_bytes(
            [
                book_row(mine, **{"项目名称": "锂电池隔膜二期项目", "累计完成投资(万元)": "1,200"}),
                book_row(other),
            ]
        )
    )
    page.set_input_files("input[name=file]", str(good))
    page.click("#import-upload")
    counts = page.locator("#import-counts")
    expect(counts).to_contain_text("修改：1")
    expect(counts).to_contain_text("无变化：1")
    rows = page.locator("#import-rows")
    expect(rows).to_contain_text("锂电池隔膜项目")
    expect(rows).to_contain_text("锂电池隔膜二期项目")
    audit.run("county clerk", "import preview with changes")
    assert audit.findings == []
    page.reload()  # the preview is stored, not kept in the page
    expect(page.locator("#import-rows")).to_contain_text("锂电池隔膜二期项目")
    page.click("#import-confirm")
    expect(page.locator("#import-state")).to_contain_text("已导入")
    mine.refresh_from_db()
    assert mine.name == "锂电池隔膜二期项目" and mine.completed_investment == 1200
    assert (
        ChangeLog.objects.filter(object_id=mine.pk, field="name")
        .get()
        .note.startswith("Excel导入 #")
    )
    assert Project.objects.get(pk=other.pk).version == other.version
    assert page.console_errors == []
