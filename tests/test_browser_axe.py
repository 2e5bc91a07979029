"""The accessibility walk: axe-core checks every main page as every role that may open it,
in real Chromium with the real Content-Security-Policy, on a desktop and on a phone, and finds
nothing serious or critical: an input without a label a screen reader reads, text too faint
to read, an id used twice, a box that scrolls but cannot be reached by keyboard ...

Besides axe's serious and critical violations, an ARIA reference to an id the page does not
have counts too (axe files it under "needs review", since a script could still add the
element; our pages are rendered by the server, so the reference is simply broken: a help
text or an error a screen reader never reads).

axe-core is vendored under static/vendor/axe-core/ and added to each page from its static
URL: same origin, so the page's ``script-src 'self'`` allows it. No page of the app loads it.
"""

from collections import Counter

import pytest
from django.templatetags.static import static

from tests import factories
from tests.conftest import login
from tests.test_browser_csp import world  # noqa: F401  (the seeded book and one user per role)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = static("vendor/axe-core/axe.min.js")
PHONE = {"width": 390, "height": 844}

# Runs axe on the whole document and returns the nodes that block: a serious or critical
# violation, or an ARIA attribute that names an id no element has.
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations", "incomplete"]});
  const found = [];
  const keep = (rule, node) => found.push({id: rule.id, impact: node.impact,
                                           target: node.target.join(" ")});
  for (const rule of result.violations) {
    for (const node of rule.nodes) {
      if (node.impact === "serious" || node.impact === "critical") keep(rule, node);
    }
  }
  for (const rule of result.incomplete) {
    for (const node of rule.nodes) {
      if (node.any.concat(node.all).some((check) => check.id === "aria-valid-attr-value"
          && /ID does not exist/.test(check.message))) keep(rule, node);
    }
  }
  return found;
}"""

PAGES = {
    "home": "/",
    "project list": "/projects/",
    "project": "/projects/{project}/",
    "project edit": "/projects/{project}/edit/",
    "dashboard": "/dashboard/",
    "monthly reports": "/reports/monthly/",
    "monthly report": "/reports/monthly/2022-12/",
    "inspection list": "/inspections/",
    "inspection": "/inspections/{inspection}/",
    "assessment": "/assessments/2022/",
    "chain list": "/chains/",
    "chain": "/chains/{chain}/",
    "problem list": "/problems/",
    "problem": "/problems/{problem}/",
    "new problem": "/problems/new/",
    "import": "/imports/projects/",
    "sheet import": "/imports/dispatch/",
    "password change": "/accounts/password_change/",
    "not found": "/projects/0/",
}
DISPATCH = {"weekly dispatch": "/dispatch/"}


class Audit:
    """Opens pages, runs axe on each and keeps every node that blocks, by role and page."""

    def __init__(self, page):
        self.page = page
        self.findings = []  # (role, page, rule id, impact, target)
        self.checked = Counter()  # pages axe ran on, by role

    def run(self, role, name):
        self.page.add_script_tag(url=self.page.base_url + AXE)
        for node in self.page.evaluate(RUN_AXE):
            self.findings.append((role, name, node["id"], node["impact"], node["target"]))
        self.checked[role] += 1

    def check(self, role, name, path):
        response = self.page.goto(self.page.base_url + path)
        if response.status in (403, 404) and name != "not found":
            return  # not this role's page
        self.run(role, name)

    def walk(self, users, pages, ids):
        for role, user in users.items():
            self.page.context.clear_cookies()
            login(self.page, user.username, factories.PASSWORD)
            for name, path in pages.items():
                self.check(role, name, path.format(**ids))

    def report(self):
        """Prints the findings by rule and page (the figures for the closing note)."""
        by_rule = Counter((rule, impact) for _, _, rule, impact, _ in self.findings)
        print(f"\naxe: {sum(self.checked.values())} pages checked, {len(self.findings)} findings")
        for (rule, impact), count in sorted(by_rule.items()):
            pages = Counter(name for _, name, r, i, _ in self.findings if (r, i) == (rule, impact))
            where = ", ".join(f"{name} ×{n}" for name, n in sorted(pages.items()))
            print(f"  {rule} ({impact}): {count} nodes: {where}")
        for role, name, rule, _, target in self.findings:
            print(f"    {role} · {name} · {rule}: {target}")


def test_the_main_pages_have_no_serious_accessibility_finding(browser_page, world):  # noqa: F811
    page = browser_page
    audit = Audit(page)
    page.context.clear_cookies()
    audit.check("anonymous", "login", "/accounts/login/")
    audit.walk(world["users"], PAGES, world["ids"])
    # A form sent back with its errors: each error and help text is read with its input.
    page.context.clear_cookies()
    login(page, world["users"]["manager"].username, factories.PASSWORD)
    page.goto(page.base_url + "/projects/{project}/edit/".format(**world["ids"]))
    page.fill("#id_name", "")
    page.click("#save")
    page.wait_for_selector("#error-name")
    audit.run("manager", "project edit with errors")
    # On a phone, where wide tables scroll inside their own box.
    page.set_viewport_size(PHONE)
    clerk = {"county clerk (phone)": world["users"]["county clerk"]}
    audit.walk(clerk, PAGES, world["ids"])
    page.context.clear_cookies()
    audit.check("anonymous (phone)", "login", "/accounts/login/")
    audit.report()
    assert audit.findings == []
    # axe saw real pages: every role opened most of them, the manager all of them.
    assert audit.checked["manager"] == len(PAGES) + 1
    for role in (*world["users"], *clerk):
        assert audit.checked[role] >= 10, (role, audit.checked)


def test_the_weekly_dispatch_sheet_has_no_serious_accessibility_finding(browser_page, world):  # noqa: F811
    page = browser_page
    audit = Audit(page)
    users = {role: user for role, user in world["users"].items() if role != "chain office"}
    audit.walk(users, DISPATCH, world["ids"])
    page.set_viewport_size(PHONE)
    audit.walk({"county clerk (phone)": world["users"]["county clerk"]}, DISPATCH, world["ids"])
    audit.report()
    assert audit.checked == {role: 1 for role in [*users, "county clerk (phone)"]}
    assert audit.findings == []
