"""Saved views and the column chooser in headless Chromium, on a 390 px phone: filter the
list, save it as a view, open the view on top of another filter, choose and order columns."""

import datetime
import re

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.conftest import login
from tracker.choices import Role, Stage
from tracker.models import ListColumns, SavedView

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def book():
    yuanzhou = factories.region(name="袁州区", sort_order=1)
    zhangshu = factories.region(name="樟树市", sort_order=2)
    signed = datetime.date(2022, 4, 1)
    for code, region, stage in (
        ("YZ-001", yuanzhou, Stage.SIGNED),
        ("YZ-002", yuanzhou, Stage.STARTED),
        ("ZS-001", zhangshu, Stage.STARTED),
    ):
        factories.project(code=code, region=region, stage=stage, signed_on=signed)
    return {"yuanzhou": yuanzhou, "zhangshu": zhangshu}


def test_save_a_view_open_it_and_choose_columns_on_a_phone(browser_page, book):
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    factories.user(Role.MANAGER, username="boss")
    login(page, "boss", factories.PASSWORD)
    page.console_errors.clear()
    rows = page.locator("table.projects tbody tr")

    # filter on the stage and save that as a view
    page.goto(page.base_url + "/projects/?stage=started")
    expect(rows).to_have_count(2)
    page.click("#saved-views > summary")
    page.click("#save-view")
    page.fill("input[name=name]", "已开工项目")
    page.click("#saved-view-form button[type=submit]")
    page.wait_for_url(re.compile(r"view=\d+"))
    expect(page.locator("#active-view")).to_have_text("已开工项目")
    assert SavedView.objects.get().query == "stage=started"

    # open the view on top of a region filter: both apply
    page.goto(page.base_url + f"/projects/?region={book['yuanzhou'].pk}")
    expect(rows).to_have_count(2)
    page.click("#saved-views > summary")
    page.click("#saved-views .view-link")
    page.wait_for_url(re.compile(r"stage=started"))
    assert f"region={book['yuanzhou'].pk}" in page.url
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("YZ-002")

    # choose two columns, the name before the code
    page.click("#column-chooser > summary")
    for box in page.locator("#columns-form input[type=checkbox]").all():
        box.uncheck()
    page.check("#col-name")
    page.check("#col-code")
    page.fill("input[name=order-name]", "1")
    page.fill("input[name=order-code]", "2")
    page.click("#columns-form button[type=submit]:not([name])")
    page.wait_for_load_state()
    headers = page.locator("table.projects thead th:not(.select)")  # the bulk boxes stay
    expect(headers).to_have_count(2)
    expect(headers.nth(0)).to_contain_text("项目名称")
    assert ListColumns.objects.get().columns == ["name", "code"]
    # the page still fits the phone
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    assert page.console_errors == []
