"""The browser walk: every main page, as every main role, with the Content-Security-Policy
enforced by the real middleware. Chromium must report no violation, and the handlers that
moved from inline attributes into static/js/app.js must still work."""

import datetime
from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tests import factories
from tests.conftest import login
from tracker.choices import ProblemStatus, RectificationStatus, Role
from tracker.models import IndustryChain, Inspection, Problem, RectificationItem, Region

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Runs before any script of every page: records each violation the page reports, and stands
# in for the print dialog (which would block a headless page) with a counter.
RECORDER = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__csp.push([event.effectiveDirective, event.blockedURI, event.sample]);
});
window.__printed = 0;
window.print = function () { window.__printed += 1; };
"""

# Delivered after every violation event the page has queued so far.
COLLECT = "() => new Promise((resolve) => setTimeout(() => resolve(window.__csp.splice(0))))"

# Counts the tooltips the signing chart shows.
WATCH_TOOLTIP = """() => {
  window.__tooltip = 0;
  echarts.getInstanceByDom(document.getElementById("chart-signing"))
    .on("showTip", () => { window.__tooltip += 1; });
}"""

PAGES = {
    "home": "/",
    "project list": "/projects/",
    "project": "/projects/{project}/",
    "project edit": "/projects/{project}/edit/",
    "weekly dispatch": "/dispatch/",
    "dashboard": "/dashboard/",
    "chain list": "/chains/",
    "chain": "/chains/{chain}/",
    "problem list": "/problems/",
    "problem": "/problems/{problem}/",
    "new problem": "/problems/new/",
    "inspection list": "/inspections/",
    "inspection": "/inspections/{inspection}/",
    "assessment": "/assessments/2022/",
    "monthly reports": "/reports/monthly/",
    "monthly report": "/reports/monthly/2022-12/",
    "password change": "/accounts/password_change/",
    "not found": "/projects/0/",
    "admin": "/admin/",
    "admin change list": "/admin/tracker/project/",
    "admin change page": "/admin/tracker/project/{project}/change/",
}
ANONYMOUS_PAGES = {"admin login": "/admin/login/", "login": "/accounts/login/"}  # login last


@pytest.fixture
def world():
    """The seeded book, one project every role may see, a problem and an inspection on it."""
    call_command("seed", "--today", "2023-01-09", "--no-demo-users", stdout=StringIO())
    region = Region.objects.order_by("sort_order", "pk").first()
    chain = IndustryChain.objects.order_by("pk").first()
    commissioner = factories.user(Role.COMMISSIONER, username="csp-commissioner")
    project = factories.project(
        region=region, chain=chain, commissioner=commissioner, name="安全策略测试项目"
    )
    office = factories.user(Role.CHAIN_OFFICE, chain=chain, username="csp-chain")
    problem = Problem.objects.create(
        project=project,
        chain=chain,
        region=region,
        title="用地指标未落实",
        status=ProblemStatus.ASSIGNED,
        assigned_unit="自然资源分局",
        raised_on=datetime.date(2022, 12, 1),
        deadline=datetime.date(2022, 12, 20),
        raised_by=office,
    )
    inspection = Inspection.objects.create(
        year=2022,
        quarter=4,
        region=region,
        project=project,
        title="四季度项目督查",
        inspected_on=datetime.date(2022, 11, 10),
        leader="市工信局局长",
    )
    RectificationItem.objects.create(
        inspection=inspection,
        description="完善安全生产台账",
        owner_unit="县工信局",
        deadline=datetime.date(2022, 12, 10),
        status=RectificationStatus.OPEN,
    )
    users = {
        "manager": factories.user(
            Role.MANAGER, username="csp-manager", is_staff=True, is_superuser=True
        ),
        "county clerk": factories.user(Role.COUNTY, region=region, username="csp-county"),
        "commissioner": commissioner,
        "chain office": office,
    }
    ids = {"project": project.pk, "chain": chain.pk, "problem": problem.pk}
    ids["inspection"] = inspection.pk
    return {"users": users, "ids": ids, "region": region}


class Walk:
    """Opens pages and keeps every violation Chromium reported, by role and page."""

    def __init__(self, page):
        self.page = page
        self.violations = []
        self.loads = 0
        self.where = None
        page.context.add_init_script(RECORDER)
        page.on("console", self._console)

    def _console(self, message):
        if "Content Security Policy" in message.text:
            self.violations.append((*self.where, "console", message.text))

    def collect(self):
        for found in self.page.evaluate(COLLECT):
            self.violations.append((*self.where, "event", *found))

    def open(self, role, name, path):
        self.where = (role, name)
        response = self.page.goto(self.page.base_url + path)
        assert "script-src 'self';" in response.headers["content-security-policy"]  # enforced
        self.loads += 1
        self.collect()
        return response.status


def test_every_main_page_as_every_role_reports_no_csp_violation(browser_page, world):
    page = browser_page
    walk = Walk(page)
    statuses = {}
    for name, path in ANONYMOUS_PAGES.items():
        statuses["anonymous", name] = walk.open("anonymous", name, path)
    # The CSRF failure page: the login form sent after its cookie is gone.
    page.context.clear_cookies()
    walk.where = ("anonymous", "CSRF failure")
    page.fill("input[name=username]", "nobody")
    page.fill("input[name=password]", "nothing")
    page.click("main button[type=submit]")
    expect(page.locator("#error-csrf")).to_be_visible()
    walk.loads += 1
    walk.collect()
    for role, user in world["users"].items():
        page.context.clear_cookies()
        walk.where = (role, "login")
        login(page, user.username, factories.PASSWORD)
        walk.collect()
        for name, path in PAGES.items():
            statuses[role, name] = walk.open(role, name, path.format(**world["ids"]))
            if name == "dashboard":
                # ECharts' HTML tooltips are markup with style= (dashboard.js draws them on
                # the canvas instead): hover to draw one.
                page.evaluate(WATCH_TOOLTIP)
                page.hover("#chart-signing", position={"x": 200, "y": 150})
                page.wait_for_function("window.__tooltip > 0")
                walk.collect()

    events = Counter((name, v[0]) for _, name, how, *v in walk.violations if how == "event")
    print(f"CSP walk: {walk.loads} page loads, {sum(events.values())} violations")
    for (name, directive), count in sorted(events.items()):
        print(f"  {name}: {count} × {directive}")
    assert walk.violations == []
    # The walk saw real pages, not a row of refusals: each role opened most of them.
    for role in world["users"]:
        opened = {name: status for (who, name), status in statuses.items() if who == role}
        ok = [name for name, status in opened.items() if status == 200]
        print(f"  {role}: {len(ok)} of {len(opened)} pages answered 200")
        assert len(ok) >= 14, (role, opened)
    assert statuses["manager", "admin change page"] == 200
    assert statuses["manager", "not found"] == 404


def test_the_moved_handlers_still_work(browser_page, world):
    page = browser_page
    walk = Walk(page)
    login(page, world["users"]["manager"].username, factories.PASSWORD)

    # The weekly dispatch sheet: choosing a region shows that region's sheet.
    other = Region.objects.exclude(pk=world["region"].pk).order_by("sort_order", "pk").first()
    walk.open("manager", "weekly dispatch", "/dispatch/")
    page.select_option("select[name=region]", other.code)
    page.wait_for_url(f"**/dispatch/?region={other.code}")
    expect(page.locator("select[name=region]")).to_have_value(other.code)

    # The monthly report: the print button opens the print dialog.
    walk.open("manager", "monthly report", "/reports/monthly/2022-12/")
    page.click("[data-print]")
    page.wait_for_function("window.__printed === 1")

    # The language select switches the language at once.
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    page.select_option("select[name=language]", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")  # the page came back
    expect(page.locator("[data-print]")).to_have_text("Print")
    assert page.url.endswith("/reports/monthly/2022-12/")
    walk.collect()
    assert walk.violations == []
