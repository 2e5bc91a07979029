"""The dashboard in headless Chromium: the ECharts charts draw offline and the year switches."""

from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tests import factories
from tests.conftest import login
from tracker.choices import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHARTS = ("signing", "investment", "region", "chain", "funnel", "lights")


@pytest.fixture
def book():
    call_command("seed", "--today", "2023-01-09", "--no-demo-users", stdout=StringIO())


def assert_charts_drawn(page):
    for name in CHARTS:
        expect(page.locator(f"#chart-{name} canvas").first).to_be_attached()


def test_manager_sees_the_charts_and_switches_year(browser_page, book):
    page = browser_page
    factories.user(Role.MANAGER, username="boss")
    login(page, "boss", factories.PASSWORD)
    failed, outside = [], []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    page.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith(page.base_url) else None,
    )
    page.console_errors.clear()

    page.goto(page.base_url + "/dashboard/")
    expect(page.locator("#fig-count")).to_have_text("338")
    expect(page.locator("#fig-amount")).to_have_text("1,796.16")
    assert_charts_drawn(page)
    # ECharts sized each canvas to its container: a chart, not a 0×0 placeholder
    box = page.locator("#chart-signing canvas").first.bounding_box()
    assert box["width"] > 200 and box["height"] > 200

    page.select_option("#year-select", "2021")  # data-autosubmit (app.js) submits the form
    page.wait_for_url("**/dashboard/?year=2021")
    expect(page.locator("#fig-count")).to_have_text("3")
    expect(page.locator("#year-select")).to_have_value("2021")
    assert_charts_drawn(page)

    assert page.console_errors == []
    assert failed == []
    assert outside == []  # no CDN: everything comes from our own server
