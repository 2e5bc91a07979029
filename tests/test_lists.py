"""Lists that help (issue 9, item 4): drop-downs that say 全部, a warning-light filter that
the export follows, home rows that link to their projects, a county clerk's project list
that opens on their region (and lets go of it), and one pager on every list table."""

import csv
import datetime
import io
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests import factories
from tracker.choices import Light, ProblemStatus, Role, Stage
from tracker.lights import annotate_lights
from tracker.models import Inspection, Problem, Project

pytestmark = pytest.mark.django_db

LIST = reverse("tracker:project_list")
PROBLEMS = reverse("tracker:problem_list")
INSPECTIONS = reverse("tracker:inspection_list")
DAY = datetime.timedelta(days=1)


VOID = {"input", "br", "img", "meta", "link", "hr", "source", "wbr"}


class _Page(HTMLParser):
    """What a test reads back from a page: the drop-downs and inputs of one form (by id, or
    the whole page), the text of each element with an id, and every link."""

    def __init__(self, form_id=None):
        super().__init__()
        self.form_id = form_id
        self.in_form = form_id is None
        self.selects = {}  # name -> [(value, text, selected)]
        self.inputs = []  # (type, name, value, attrs)
        self.links = []  # (href, attrs)
        self.texts = {}  # id -> text
        self._select = None
        self._option = None
        self._open = []  # (tag, id or None) of the open elements

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("id") == self.form_id:
            self.in_form = True
        if tag not in VOID:
            self._open.append((tag, attrs.get("id")))
            if attrs.get("id"):
                self.texts[attrs["id"]] = ""
        if tag == "a":
            self.links.append((attrs.get("href"), attrs))
        if not self.in_form:
            return
        if tag == "select":
            self._select = attrs.get("name")
            self.selects[self._select] = []
        elif tag == "option" and self._select:
            self._option = [attrs.get("value"), "", "selected" in attrs]
        elif tag == "input":
            self.inputs.append((attrs.get("type"), attrs.get("name"), attrs.get("value"), attrs))

    def handle_endtag(self, tag):
        if tag == "form" and self.form_id is not None:
            self.in_form = False
        if tag == "option" and self._option is not None:
            self.selects[self._select].append(tuple(self._option))
            self._option = None
        elif tag == "select":
            self._select = None
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data):
        if self._option is not None:
            self._option[1] += data.strip()
        for _tag, element_id in self._open:
            if element_id:
                self.texts[element_id] += data


def read(response, form_id=None):
    assert response.status_code == 200
    page = _Page(form_id)
    page.feed(response.content.decode())
    return page


def text(page, element_id):
    return " ".join(page.texts[element_id].split())


def codes(response):
    return sorted(row.record.code for row in response.context["table"].page.object_list)


@pytest.fixture
def manager(client):
    client.force_login(factories.user(Role.MANAGER))
    return client


# --- drop-downs say 全部 ----------------------------------------------------------------------

FILTER_SELECTS = [
    (
        LIST,
        "project-filters",
        {
            "region",
            "park",
            "chain",
            "stage",
            "light",
            "tier_5020",
            "billion",
            "capital_source",
            "commissioner",
        },
    ),
    (PROBLEMS, "problem-filters", {"chain", "region", "status", "overdue", "escalated"}),
    (INSPECTIONS, "inspection-filters", {"quarter", "region", "has_overdue"}),
]


@pytest.mark.parametrize(("url", "form_id", "names"), FILTER_SELECTS)
def test_every_choice_filter_opens_on_all_and_never_on_dashes(manager, url, form_id, names):
    factories.region()
    factories.chain()
    # ``region=`` so that the list does not open on a region (it would not for a manager).
    response = manager.get(url, {"region": ""})
    page = read(response, form_id)
    filters = {name: options for name, options in page.selects.items() if name != "per_page"}
    assert set(filters) == names
    for name, options in filters.items():
        value, label, _selected = options[0]
        assert (value, label) == ("", "全部"), name
        # Nothing chosen: 全部 is what the drop-down shows.
        assert [o[0] for o in options if o[2]] in ([], [""]), name
    assert "---------" not in response.content.decode()


def test_the_billion_filter_is_all_yes_or_no_never_unknown(manager):
    small = factories.project(signed_amount=5000)
    big = factories.project(signed_amount=20000)
    page = read(manager.get(LIST, {"region": ""}), "project-filters")
    assert [(v, t) for v, t, _s in page.selects["billion"]] == [
        ("", "全部"),
        ("true", "是"),
        ("false", "否"),
    ]
    content = manager.get(LIST, {"region": ""}).content.decode()
    assert "unknown" not in content and "未知" not in content
    assert codes(manager.get(LIST, {"billion": "true"})) == [big.code]
    assert codes(manager.get(LIST, {"billion": "false"})) == [small.code]
    assert codes(manager.get(LIST, {"billion": ""})) == sorted([small.code, big.code])


def test_the_commissioner_filter_also_finds_the_projects_without_one(manager):
    commissioner = factories.user(Role.COMMISSIONER)
    served = factories.project(commissioner=commissioner)
    unserved = factories.project()
    page = read(manager.get(LIST, {"region": ""}), "project-filters")
    options = {v: t for v, t, _s in page.selects["commissioner"]}
    assert options["null"] == "（未指派）"
    assert codes(manager.get(LIST, {"commissioner": "null"})) == [unserved.code]
    assert codes(manager.get(LIST, {"commissioner": commissioner.pk})) == [served.code]


# --- the warning-light filter ------------------------------------------------------------


@pytest.fixture
def lit():
    """One project per reason for a light, as of today (thresholds 30 / 90 days late)."""
    today = timezone.localdate()
    return {
        "red-late": factories.project(code="R-LATE", planned_start_on=today - 91 * DAY),
        "red-stalled": factories.project(
            code="R-STALL",
            history=[(Stage.STALLED, datetime.date(2022, 5, 1))],
        ),
        "yellow": factories.project(code="Y-LATE", planned_start_on=today - 31 * DAY),
        "green-on-time": factories.project(code="G-TIME", planned_start_on=today - 30 * DAY),
        "green-started": factories.project(
            code="G-START", history=[(Stage.STARTED, datetime.date(2022, 4, 1))]
        ),
    }


HAND_LIGHTS = {
    Light.RED: ["R-LATE", "R-STALL"],
    Light.YELLOW: ["Y-LATE"],
    Light.GREEN: ["G-START", "G-TIME"],
}


def _export_codes(response):
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    header = next(i for i, row in enumerate(rows) if "项目编号" in row)
    column = rows[header].index("项目编号")
    return sorted(row[column] for row in rows[header + 1 :] if row and row[column])


@pytest.mark.parametrize("light", [Light.RED, Light.YELLOW, Light.GREEN])
def test_the_light_filter_lists_exactly_the_projects_of_that_light(manager, lit, light):
    computed = annotate_lights(Project.objects.all(), today=timezone.localdate())
    by_function = sorted(p.code for p in computed if p.light == light)
    assert by_function == HAND_LIGHTS[light]
    response = manager.get(LIST, {"light": light.value, "per_page": 200})
    assert codes(response) == HAND_LIGHTS[light]
    assert response.context["totals"]["count"] == len(HAND_LIGHTS[light])
    page = read(response, "project-filters")
    assert [v for v, _t, selected in page.selects["light"] if selected] == [light.value]
    labels = [t for _v, t, _s in page.selects["light"]]
    assert labels == ["全部", "红灯", "黄灯", "绿灯"]
    # The export is of the same filtered set.
    export = manager.get(LIST, {"light": light.value, "export": "csv"})
    assert _export_codes(export) == HAND_LIGHTS[light]


def test_an_unknown_light_is_a_message_beside_the_filter_not_an_error(manager, lit):
    response = manager.get(LIST, {"light": "purple"})
    assert response.status_code == 200
    assert response.context["filters_invalid"]
    assert 'id="error-light"' in response.content.decode()


# --- a county clerk's list opens on their region ------------------------------------------


@pytest.fixture
def two_regions():
    mine, other = factories.region(name="袁州区"), factories.region(name="樟树市")
    return {
        "mine": mine,
        "other": other,
        "own": [factories.project(region=mine) for _ in range(2)],
        "theirs": [factories.project(region=other) for _ in range(3)],
    }


def test_a_county_clerk_opens_the_project_list_on_their_region(client, two_regions):
    mine = two_regions["mine"]
    client.force_login(factories.user(Role.COUNTY, region=mine))
    response = client.get(LIST)
    assert response.status_code == 302
    assert response["Location"] == f"{LIST}?region={mine.pk}"
    landed = client.get(response["Location"])
    assert codes(landed) == sorted(p.code for p in two_regions["own"])
    page = read(landed, "project-filters")
    assert [v for v, _t, selected in page.selects["region"] if selected] == [str(mine.pk)]


def test_removing_the_clerks_region_shows_every_project_and_stays(client, two_regions):
    client.force_login(factories.user(Role.COUNTY, region=two_regions["mine"]))
    landed = read(client.get(LIST, {"region": two_regions["mine"].pk}))
    clear = [href for href, attrs in landed.links if "secondary" in (attrs.get("class") or "")]
    assert f"{LIST}?region=" in clear
    everything = client.get(f"{LIST}?region=")
    assert everything.status_code == 200  # no redirect back to the region
    every = two_regions["own"] + two_regions["theirs"]
    assert codes(everything) == sorted(p.code for p in every)
    # Another region is a bookmark like any other.
    assert codes(client.get(LIST, {"region": two_regions["other"].pk})) == sorted(
        p.code for p in two_regions["theirs"]
    )
    # Any other filter alone does not bring the region back either.
    assert len(codes(client.get(LIST, {"stage": Stage.SIGNED}))) == len(every)


@pytest.mark.parametrize("role", [Role.MANAGER, Role.COMMISSIONER, Role.CHAIN_OFFICE])
def test_other_roles_open_the_project_list_unfiltered(client, two_regions, role):
    client.force_login(factories.user(role))
    response = client.get(LIST)
    assert response.status_code == 200
    clear = [href for href, attrs in read(response).links if attrs.get("class") == "btn secondary"]
    assert LIST in clear


@pytest.mark.parametrize("url", [PROBLEMS, INSPECTIONS])
def test_a_clerks_problem_and_inspection_lists_need_no_redirect(client, two_regions, url):
    # They hold only the clerk's region already (permissions.RULES): nothing to preselect.
    client.force_login(factories.user(Role.COUNTY, region=two_regions["mine"]))
    assert client.get(url).status_code == 200


# --- home rows link to their projects ------------------------------------------------------


def test_every_project_on_the_home_page_links_to_its_page(client):
    region = factories.region()
    today = timezone.localdate()
    late = factories.project(region=region, planned_start_on=today - 120 * DAY)
    stalled = factories.project(region=region, history=[(Stage.STALLED, datetime.date(2022, 5, 1))])
    client.force_login(factories.user(Role.COUNTY, region=region))
    response = client.get(reverse("tracker:home"))
    listed = {item["project"].pk for item in response.context["items"]}
    assert {late.pk, stalled.pk} <= listed
    hrefs = {href for href, attrs in read(response).links if attrs.get("class") == "project-link"}
    assert hrefs == {reverse("tracker:project_detail", args=[pk]) for pk in listed}
    for href in hrefs:
        assert client.get(href).status_code == 200


# --- the pager ---------------------------------------------------------------------------


def _projects(n, **kw):
    region = kw.pop("region", None) or factories.region()
    chain = factories.chain()
    enterprise = factories.enterprise(region=region)
    return [
        factories.project(region=region, chain=chain, enterprise=enterprise, **kw) for _ in range(n)
    ]


def test_the_pager_says_which_page_of_how_many_and_how_many_projects(manager):
    _projects(60)
    page = read(manager.get(LIST, {"region": "", "per_page": 25, "page": 2}))
    assert text(page, "pager-status") == "第 2 / 3 页, 共 60 个项目"
    links = {attrs.get("id"): href for href, attrs in page.links}
    assert "page=1" in links["pager-prev"] and "per_page=25" in links["pager-prev"]
    assert "page=3" in links["pager-next"] and "per_page=25" in links["pager-next"]
    first = read(manager.get(LIST, {"per_page": 25, "page": 1}))
    assert text(first, "pager-status") == "第 1 / 3 页, 共 60 个项目"
    assert "pager-prev" not in {attrs.get("id") for _h, attrs in first.links}
    last = read(manager.get(LIST, {"per_page": 25, "page": 3}))
    assert "pager-next" not in {attrs.get("id") for _h, attrs in last.links}
    # One page: no pager at all.
    assert "pager" not in read(manager.get(LIST, {"per_page": 100})).texts


def test_the_pager_counts_the_filtered_set(manager):
    region = factories.region()
    _projects(30, region=region)
    _projects(20)
    page = read(manager.get(LIST, {"region": region.pk, "per_page": 25}))
    assert text(page, "pager-status") == "第 1 / 2 页, 共 30 个项目"


def test_the_problem_and_inspection_pagers_name_their_rows(manager):
    project = factories.project()
    by = factories.user(Role.MANAGER)
    today = timezone.localdate()
    for n in range(30):
        Problem.objects.create(
            project=project,
            chain=project.chain,
            region=project.region,
            title=f"问题{n}",
            status=ProblemStatus.RAISED,
            raised_on=today - DAY,
            raised_by=by,
        )
    page = read(manager.get(PROBLEMS, {"per_page": 25}))
    assert text(page, "pager-status") == "第 1 / 2 页, 共 30 个问题"
    for n in range(12):
        Inspection.objects.create(
            year=2022,
            quarter=4,
            region=project.region,
            title=f"督查{n}",
            inspected_on=datetime.date(2022, 12, 1),
        )
    # The inspection list offers no page size; django-tables2's own ?per_page= still works.
    page = read(manager.get(INSPECTIONS, {"per_page": 5, "page": 2}))
    assert text(page, "pager-status") == "第 2 / 3 页, 共 12 条督查"


def test_the_page_jump_keeps_every_other_parameter(manager):
    region = factories.region()
    _projects(60, region=region)
    params = {
        "region": region.pk,
        "stage": Stage.SIGNED,
        "light": "",
        "per_page": 25,
        "sort": "code",
        "page": 2,
    }
    page = read(manager.get(LIST, params), "page-jump")
    hidden = {name: value for kind, name, value, _a in page.inputs if kind == "hidden"}
    expected = {k: str(v) for k, v in params.items() if k != "page"}
    assert hidden == expected
    (number,) = [attrs for kind, _n, _v, attrs in page.inputs if kind == "number"]
    assert (number["name"], number["value"], number["min"], number["max"]) == (
        "page",
        "2",
        "1",
        "3",
    )
    # Submitting the form with page 3 is the same list, one page on.
    jumped = manager.get(LIST, {**hidden, "page": 3})
    assert jumped.context["table"].page.number == 3
    assert [row.record.code for row in jumped.context["table"].page.object_list] == sorted(
        Project.objects.filter(region=region).values_list("code", flat=True)
    )[50:]


@pytest.mark.parametrize(
    ("raw", "shown"), [("999", 3), ("0", 3), ("-1", 3), ("abc", 1), ("2.5", 1), ("", 1)]
)
def test_a_page_out_of_range_or_not_a_number_shows_a_page(manager, raw, shown):
    _projects(60)
    page = read(manager.get(LIST, {"per_page": 25, "page": raw}))
    assert text(page, "pager-status") == f"第 {shown} / 3 页, 共 60 个项目"


def _count(client, params):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(LIST, params)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_the_pager_costs_no_query_per_row_or_page(manager):
    region = factories.region()
    params = {"region": region.pk, "per_page": 25, "page": 2, "light": Light.GREEN.value}
    _projects(30, region=region)
    manager.get(LIST, params)  # warm caches (content types, session)
    small = _count(manager, params)
    _projects(80, region=region)
    large = _count(manager, params)
    assert small == large
