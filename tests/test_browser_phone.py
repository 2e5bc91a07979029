"""The field pages on a phone (390 × 844, issue 9): no page scrolls sideways for any role
that may open it, the header's menu sits behind one button, the controls are big enough to
touch, and a county clerk files the week from the phone's cards.

Run with ``-s`` to see the table of widths (page × role → document scrollWidth)."""

import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone
from playwright.sync_api import expect

from tests import factories
from tests.conftest import BROWSER_TIMEOUT_MS, login
from tracker import problems
from tracker.choices import Role
from tracker.models import Project, WeeklyDispatch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
TOUCH_PX = 44  # the smallest target a finger hits reliably (WCAG 2.5.5, Apple's HIG)

PAGES = {
    "home": "/",
    "project list": "/projects/",
    "project": "/projects/{project}/",
    "project edit": "/projects/{project}/edit/",
    "weekly dispatch": "/dispatch/",
    "problem list": "/problems/",
    "problem": "/problems/{problem}/",
    "new problem": "/problems/new/",
    # the readers' pages, opened from the same menu on the same phone
    "dashboard": "/dashboard/",
    "chains": "/chains/",
    "monthly report": "/reports/monthly/",
    "inspections": "/inspections/",
    "import": "/imports/projects/",
}
ROLES = ("manager", "county clerk", "commissioner", "chain office")

# The elements whose right edge lies beyond the viewport, deepest first: what to fix.
OVERFLOW = """(width) => {
  return Array.from(document.querySelectorAll("body *"))
    .filter((el) => el.getBoundingClientRect().right > width + 0.5)
    .filter((el) => !el.closest("[data-scroll-box]") || el.matches("[data-scroll-box]"))
    .slice(-5)
    .map((el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
      (typeof el.className === "string" && el.className ? "." + el.className : "") +
      " " + Math.round(el.getBoundingClientRect().right));
}"""


@pytest.fixture
def phone(browser_page):
    """A page in a phone-sized, touch, mobile context of the same Chromium and live server."""
    context = browser_page.context.browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    page = context.new_page()
    page.base_url = browser_page.base_url
    page.console_errors = []
    page.on(
        "console",
        lambda msg: page.console_errors.append(msg.text) if msg.type == "error" else None,
    )
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def world():
    """The seeded book; the project with the longest dispatch history, given a commissioner;
    a chain problem on it with a few steps; one user of each role who may see them."""
    call_command("seed", "--today", "2023-01-09", "--no-demo-users", stdout=StringIO())
    project = (
        Project.objects.annotate(n=Count("dispatches"))
        .select_related("region", "chain")
        .order_by("-n", "pk")
        .first()
    )
    commissioner = factories.user(Role.COMMISSIONER, username="phone-commissioner")
    Project.objects.filter(pk=project.pk).update(commissioner=commissioner)  # test setup
    office = factories.user(Role.CHAIN_OFFICE, chain=project.chain, username="phone-chain")
    # Through the service, so the problem page has a timeline and a change history.
    problem = problems.raise_problem(
        by=office,
        title="用地指标未落实，影响二期厂房报建，需自然资源部门协调解决",
        description="企业反映二期用地指标尚未下达。" * 8,
        project=project,
    )
    problem = problems.assign_problem(
        problem_id=problem.pk,
        expected_version=problem.version,
        by=office,
        unit="市自然资源局宜春经济技术开发区分局",
        deadline=timezone.localdate() + datetime.timedelta(days=30),
        note="请于月底前协调用地指标下达并反馈办理结果，" * 3,
    )
    users = {
        "manager": factories.user(Role.MANAGER, username="phone-manager"),
        "county clerk": factories.user(Role.COUNTY, region=project.region, username="phone-county"),
        "commissioner": commissioner,
        "chain office": office,
    }
    return {"users": users, "ids": {"project": project.pk, "problem": problem.pk}}


def measure(page, path):
    response = page.goto(page.base_url + path)
    width = page.evaluate("document.documentElement.scrollWidth")
    inner = page.evaluate("window.innerWidth")
    culprits = page.evaluate(OVERFLOW, PHONE["width"]) if width > PHONE["width"] else []
    return response.status, width, inner, culprits


def test_no_field_page_scrolls_sideways_on_a_phone_for_any_role(phone, world):
    page = phone
    widths, too_wide, skipped = {}, [], []
    status, width, inner, culprits = measure(page, "/accounts/login/")
    widths["login", "anonymous"] = width
    if width > PHONE["width"] or inner != PHONE["width"]:
        too_wide.append(("login", "anonymous", width, inner, culprits))
    for role in ROLES:
        page.context.clear_cookies()
        login(page, world["users"][role].username, factories.PASSWORD)
        for name, path in PAGES.items():
            status, width, inner, culprits = measure(page, path.format(**world["ids"]))
            if status != 200:
                skipped.append((name, role, status))
                widths[name, role] = f"({status})"
                continue
            widths[name, role] = width
            if width > PHONE["width"] or inner != PHONE["width"]:
                too_wide.append((name, role, width, inner, culprits))

    print(f"\nscrollWidth at {PHONE['width']} × {PHONE['height']} (a status: page refused)")
    print(f"  {'page':<16}" + "".join(f"{r:>14}" for r in ("anonymous", *ROLES)))
    for name in ("login", *PAGES):
        cells = [widths.get((name, r), "") for r in ("anonymous", *ROLES)]
        print(f"  {name:<16}" + "".join(f"{c!s:>14}" for c in cells))
    for name, role, status in skipped:
        print(f"  skipped: {name} as {role} answers {status}")
    assert too_wide == []
    # The walk measured real pages: every role opened most of them.
    for role in ROLES:
        opened = [n for n in PAGES if isinstance(widths[n, role], int)]
        assert len(opened) >= 5, (role, skipped)
    assert isinstance(widths["weekly dispatch", "county clerk"], int)
    refused = "Failed to load resource: the server responded with a status of 40"
    assert [e for e in page.console_errors if not e.startswith(refused)] == []


def target_sizes(page, selector):
    return page.eval_on_selector_all(
        selector,
        """(els) => els.filter((el) => el.offsetParent !== null).map((el) => {
          const r = el.getBoundingClientRect();
          return [el.textContent.trim() || el.name || el.type, Math.round(r.width),
                  Math.round(r.height)];
        })""",
    )


@pytest.fixture
def clerk():
    return factories.user(Role.COUNTY, region=factories.region(name="袁州区"), username="clerk")


def test_the_header_menu_is_one_button_on_a_phone(phone, clerk):
    page = phone
    login(page, clerk.username, factories.PASSWORD)
    page.goto(page.base_url + "/")
    toggle = page.locator(".topbar [data-menu-toggle]")
    menu = page.locator("#site-menu")
    expect(toggle).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(menu).to_be_hidden()
    header = page.locator(".topbar").bounding_box()
    assert header["height"] <= 64, header  # brand and button on one line
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(menu).to_be_visible()
    # Each menu entry is big enough for a finger and no word breaks inside it.
    for text, width, height in target_sizes(page, "#site-menu a, #site-menu button"):
        assert height >= TOUCH_PX, (text, width, height)
    for link in page.locator("#site-menu .mainnav a").all():
        box = link.bounding_box()
        assert box["height"] < 2 * 1.5 * 16 + 2 * 8, link.text_content()  # one line of text
    page.locator("#site-menu .mainnav a", has_text="周调度").click()
    page.wait_for_url("**/dispatch/")
    expect(page.locator("#site-menu")).to_be_hidden()  # a new page starts closed
    assert page.console_errors == []


def test_without_javascript_the_menu_is_open(browser_page, clerk):
    context = browser_page.context.browser.new_context(
        viewport=PHONE, is_mobile=True, java_script_enabled=False, locale="zh-CN"
    )
    try:
        page = context.new_page()
        page.base_url = browser_page.base_url
        login(page, clerk.username, factories.PASSWORD)
        expect(page.locator("#site-menu")).to_be_visible()
        expect(page.locator(".topbar [data-menu-toggle]")).to_be_hidden()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finally:
        context.close()


def test_a_county_clerk_files_the_week_on_a_phone(phone, world):
    page = phone
    clerk = world["users"]["county clerk"]
    login(page, clerk.username, factories.PASSWORD)
    page.goto(page.base_url + "/dispatch/")
    card = page.locator("table.dispatch > tbody > tr[data-project]").first
    expect(card).to_be_visible()
    assert card.bounding_box()["width"] <= PHONE["width"]
    project = Project.objects.get(pk=card.get_attribute("data-project"))
    typed = (project.completed_investment or Decimal(0)) + Decimal("123.4")

    # The fields are found by the label a screen reader reads: field and project.
    figure = page.get_by_label(f"累计完成投资(万元) · {project.code} {project.name}", exact=True)
    expect(figure).to_have_attribute("inputmode", "decimal")
    figure.fill(str(typed))
    page.get_by_label(f"形象进度 · {project.code} {project.name}", exact=True).fill("厂房主体封顶")
    page.get_by_label(f"存在问题 · {project.code} {project.name}", exact=True).fill("用电报装待办")
    fields = "input:not([type=checkbox]), select, textarea, label.check-label"
    for text, width, height in target_sizes(page, f"#row-{project.pk} :is({fields})"):
        assert height >= TOUCH_PX, (text, width, height)

    submits = page.locator("#dispatch-form button[type=submit]")
    expect(submits).to_have_count(1)  # one submit, after the last card
    last_card = page.locator("table.dispatch > tbody > tr[data-project]").last.bounding_box()
    button = submits.bounding_box()
    assert button["y"] >= last_card["y"] + last_card["height"]
    assert button["height"] >= TOUCH_PX
    submits.click()
    expect(page.locator(".messages .msg-success")).to_have_count(1)

    report = WeeklyDispatch.objects.get(project=project, filed_by=clerk)
    assert report.completed_investment == typed
    assert report.progress == "厂房主体封顶"
    assert report.problems == "用电报装待办"
    assert (report.iso_year, report.iso_week) == timezone.localdate().isocalendar()[:2]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.console_errors == []
