"""The project list and the problem ledger at province scale (issue 10): a page costs what
any other page costs.

A page's ids are read from the filtered, sorted set without the lights, from whichever end of
the order is nearer, and the lights are computed for that page's rows only; the set is
counted once (the footer's totals). Whether a query computes lights is read from the tables
it names (the stage history, the weekly dispatches), not from the shape of the lights SQL.
"""

import datetime
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests import factories
from tracker.choices import ProblemStatus, Role, Stage
from tracker.lights import annotate_lights
from tracker.models import Inspection, Problem, Project, StageChange, WeeklyDispatch
from tracker.tables import PageData

pytestmark = pytest.mark.django_db

LIST = reverse("tracker:project_list")
PROBLEMS = reverse("tracker:problem_list")
PER_PAGE = 25
DAY = datetime.timedelta(days=1)
LIGHT_TABLES = (StageChange._meta.db_table, WeeklyDispatch._meta.db_table)
OFFSET = re.compile(r"\bOFFSET\s+(\d+)", re.IGNORECASE)
# A query that reads a slice of the set: LIMIT (and OFFSET) at the end of the outermost
# query; a subquery's "LIMIT 1" inside the lights is not a slice of the set.
LIMIT = re.compile(r"\bLIMIT\s+\d+(\s+OFFSET\s+\d+)?\s*$", re.IGNORECASE)

# Each sortable column's full order, ascending, written out here (not read from the table):
# the column's keys, then the id, which breaks ties in the direction of the last key. The
# code is unique, so it needs no tiebreak. Descending is every term reversed.
SORTS = {
    "code": ["code"],
    "name": ["name", "pk"],
    "enterprise": ["enterprise__name", "pk"],
    "region": ["region__sort_order", "region__name", "pk"],
    "chain": ["chain__sort_order", "chain__name", "pk"],
    "signed_on": ["signed_on", "pk"],
    "signed_amount": ["signed_amount", "pk"],
    "tier_5020": ["tier_5020_value", "pk"],
    "billion": ["is_billion_value", "pk"],
    "stage": ["stage", "pk"],
    "light": ["-light_rank", "-pk"],  # worst first
}
DEFAULT_ORDER = ["-signed_on", "code"]


def _reversed(terms):
    return [term[1:] if term.startswith("-") else f"-{term}" for term in terms]


@pytest.fixture
def manager(client):
    client.force_login(factories.user(Role.MANAGER))
    return client


def _book(n=57):
    """``n`` projects with ties in every sortable column and lights of all three colours
    (late starts, a stall, a started project behind its investment plan)."""
    today = timezone.localdate()
    regions = [factories.region(sort_order=order) for order in (2, 1, 1)]
    chains = [factories.chain(sort_order=order) for order in (1, 0)]
    enterprises = [factories.enterprise(region=regions[i % 3]) for i in range(4)]
    amounts = [Decimal("500"), Decimal("12000"), Decimal("250000.5"), Decimal("12000")]
    projects = []
    for i in range(n):
        kind = i % 5
        kw = {}
        if kind == 1:
            kw["planned_start_on"] = today - 120 * DAY  # red
        elif kind == 2:
            kw["planned_start_on"] = today - 40 * DAY  # yellow
        elif kind == 3:
            kw["history"] = [(Stage.STALLED, datetime.date(2022, 6, 1))]  # red
        elif kind == 4:
            kw["history"] = [(Stage.STARTED, datetime.date(2022, 6, 1))]
            kw["annual_planned_investment"] = Decimal("1000")
        project = factories.project(
            name=f"同名项目{i % 6}",
            region=regions[i % 3],
            chain=chains[i % 2],
            enterprise=enterprises[i % 4],
            signed_on=datetime.date(2022, 1 + i % 4, 10),
            signed_amount=amounts[i % 4],
            **kw,
        )
        if kind == 4:
            factories.dispatch(project, iso_year=today.year - 1, iso_week=10)
        projects.append(project)
    return projects


def _expected(terms):
    projects = annotate_lights(Project.objects.with_tiers(), today=timezone.localdate())
    return list(projects.order_by(*terms).values_list("code", flat=True))


def _get(client, url, params):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200
    return response, [query["sql"] for query in ctx.captured_queries]


def _page_codes(response):
    return [row.record.code for row in response.context["table"].page.object_list]


def _pages(count):
    last = -(-count // PER_PAGE)
    return sorted({1, (last + 1) // 2, last})


# --- the rows and their order -----------------------------------------------------------------


@pytest.mark.parametrize("banded_from", [0, PageData.BANDED_FROM])
@pytest.mark.parametrize("column", sorted(SORTS))
def test_every_page_of_every_sort_is_the_full_orders_slice(
    manager, column, banded_from, monkeypatch
):
    """With the light sort read band by band (BANDED_FROM 0) and in one query."""
    monkeypatch.setattr(PageData, "BANDED_FROM", banded_from)
    _book()
    for sort, terms in ((column, SORTS[column]), (f"-{column}", _reversed(SORTS[column]))):
        expected = _expected(terms)
        assert len(set(expected)) == len(expected) == 57
        for page in (1, 2, 3):
            response, _sql = _get(
                manager, LIST, {"region": "", "sort": sort, "per_page": PER_PAGE, "page": page}
            )
            start = (page - 1) * PER_PAGE
            assert _page_codes(response) == expected[start : start + PER_PAGE], (sort, page)


def _order_clause(query):
    """The outermost query's ORDER BY … (up to its LIMIT), "" for a query without one."""
    if " ORDER BY " not in query.upper():
        return ""
    tail = query[query.upper().rindex(" ORDER BY ") :]
    return tail[: tail.upper().rindex(" LIMIT ")]


@pytest.mark.parametrize("sort", ["light", "-light"])
def test_the_ends_of_the_light_order_are_read_band_by_band(manager, sort, monkeypatch):
    """Near either end, a page sorted by light reads each colour's ids in the rest of the
    order (the id), each query stopping at the rows the page needs: no query orders the set
    by the light, which would compute the lights of every row (1.9 s at 100,341 projects,
    against 33 ms for page 1 read by bands). The rows are the full order's slice (above).
    A set this small is read in one query unless BANDED_FROM says otherwise."""
    _book()
    monkeypatch.setattr(PageData, "BANDED_FROM", 0)
    for page in (1, 3):
        _response, sql = _get(
            manager, LIST, {"region": "", "sort": sort, "per_page": PER_PAGE, "page": page}
        )
        paged = [query for query in sql if LIMIT.search(query) and LIGHT_TABLES[0] in query]
        assert paged, "the bands' ids are read with LIMIT, by the light"
        for query in paged:
            assert "CASE" not in _order_clause(query).upper(), (page, _order_clause(query))


def test_a_deep_page_sorted_by_light_is_the_full_orders_slice(manager, monkeypatch):
    """Deeper than BANDED_ROWS from the nearer end, a page is read in one ordered query."""
    _book()
    monkeypatch.setattr(PageData, "BANDED_ROWS", 0)
    for sort, terms in (("light", SORTS["light"]), ("-light", _reversed(SORTS["light"]))):
        expected = _expected(terms)
        for page in (1, 2, 3):
            response, sql = _get(
                manager, LIST, {"region": "", "sort": sort, "per_page": PER_PAGE, "page": page}
            )
            start = (page - 1) * PER_PAGE
            assert _page_codes(response) == expected[start : start + PER_PAGE], (sort, page)
            assert any("CASE" in _order_clause(q).upper() for q in sql if LIMIT.search(q))


def test_the_default_order_and_a_filtered_set_read_from_either_end(manager):
    projects = _book()
    chain = projects[0].chain
    for params, queryset in (
        ({"region": ""}, Project.objects.all()),
        ({"region": "", "chain": chain.pk}, Project.objects.filter(chain=chain)),
    ):
        expected = list(queryset.order_by(*DEFAULT_ORDER).values_list("code", flat=True))
        pages = -(-len(expected) // PER_PAGE)
        assert pages >= 2
        for page in range(1, pages + 1):
            response, _sql = _get(manager, LIST, {**params, "per_page": PER_PAGE, "page": page})
            start = (page - 1) * PER_PAGE
            assert _page_codes(response) == expected[start : start + PER_PAGE], (params, page)


def test_the_rows_carry_their_lights_as_the_full_set_computes_them(manager):
    _book()
    today = timezone.localdate()
    full = {p.code: p.light for p in annotate_lights(Project.objects.all(), today=today)}
    assert set(full.values()) == {"red", "yellow", "green"}
    for page in (1, 3):
        response, _sql = _get(manager, LIST, {"region": "", "per_page": PER_PAGE, "page": page})
        rows = response.context["table"].page.object_list
        assert {row.record.code: row.record.light for row in rows} == {
            code: full[code] for code in _page_codes(response)
        }
        assert b"light light-red" in response.content


# --- what each query does ---------------------------------------------------------------------

NO_LIGHT_LISTS = [
    {"region": ""},
    {"region": "", "sort": "-signed_amount"},
    {"region": "", "sort": "region"},
    {"region": "", "sort": "tier_5020"},
    {"region": "", "stage": Stage.SIGNED},
    {"region": "", "amount_min": "1000", "billion": "true"},
]


@pytest.mark.parametrize("params", NO_LIGHT_LISTS)
def test_no_query_that_skips_or_limits_rows_computes_lights(manager, params):
    _book()
    count = Project.objects.count()
    for page in _pages(count):
        _response, sql = _get(manager, LIST, {**params, "per_page": PER_PAGE, "page": page})
        paged = [query for query in sql if LIMIT.search(query)]
        assert paged, "the page's ids are read with LIMIT"
        for query in paged:
            assert not any(table in query for table in LIGHT_TABLES), query[:300]
        # The lights are computed, for the page's rows only, by a query without LIMIT.
        assert any(LIGHT_TABLES[0] in query and not LIMIT.search(query) for query in sql), (
            "the page shows its lights"
        )


@pytest.mark.parametrize("sort", ["-signed_on", "signed_amount", "light", "-light"])
def test_no_query_skips_more_than_half_of_the_set(manager, sort):
    _book()
    count = Project.objects.count()
    last = -(-count // PER_PAGE)
    for page in range(1, last + 1):
        _response, sql = _get(
            manager, LIST, {"region": "", "sort": sort, "per_page": PER_PAGE, "page": page}
        )
        offsets = [int(match.group(1)) for query in sql for match in OFFSET.finditer(query)]
        assert all(offset <= count // 2 for offset in offsets), (page, offsets)


def _counts(sql):
    return [query for query in sql if "COUNT(" in query.upper()]


def test_the_project_list_counts_its_set_once_with_the_totals(manager):
    _book()
    response, sql = _get(manager, LIST, {"region": "", "per_page": PER_PAGE, "page": 2})
    (count,) = _counts(sql)
    assert "SUM(" in count.upper()  # the footer's totals query
    assert response.context["table"].paginator.count == 57


def test_the_problem_ledger_counts_its_set_once_with_the_totals(manager):
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
            raised_on=today - (2 + n % 4) * DAY,
            raised_by=by,
            deadline=today - DAY if n % 3 == 0 else None,
        )
    expected = list(Problem.objects.order_by("-raised_on", "-id").values_list("pk", flat=True))
    for page in (1, 2):
        response, sql = _get(manager, PROBLEMS, {"per_page": PER_PAGE, "page": page})
        assert len(_counts(sql)) == 1
        assert response.context["table"].paginator.count == 30
        assert response.context["totals"]["overdue"] == 10
        offsets = [int(m.group(1)) for query in sql for m in OFFSET.finditer(query)]
        assert all(offset <= 15 for offset in offsets)
        start = (page - 1) * PER_PAGE
        rows = response.context["table"].page.object_list
        assert [row.record.pk for row in rows] == expected[start : start + PER_PAGE]


@pytest.mark.parametrize(
    "params",
    [
        {"region": "", "page": 2},
        {"region": "", "sort": "light", "page": 2},
        {"region": "", "light": "red", "page": 2},
    ],
)
def test_a_page_costs_the_same_queries_at_two_sizes(manager, params):
    params = {**params, "per_page": PER_PAGE}
    _book(30)
    manager.get(LIST, params)  # warm caches (content types, session)
    _response, small = _get(manager, LIST, params)
    _book(80)
    _response, large = _get(manager, LIST, params)
    assert len(small) == len(large)


def test_the_footer_totals_are_the_whole_filtered_sets(manager):
    region = factories.region()
    for amount in ("10000.00", "20000.50", "0.25", "30000"):
        factories.project(region=region, signed_amount=Decimal(amount))
    factories.project(signed_amount=Decimal("99999"))  # another region: not in the set
    response, _sql = _get(manager, LIST, {"region": region.pk, "per_page": PER_PAGE})
    totals = response.context["totals"]
    assert totals["count"] == 4
    assert totals["amount"] == Decimal("60000.75")
    assert totals["count_billion"] == 3  # ≥ 10,000 万元
    content = response.content.decode()
    assert '<span class="total-wan">60,000.75</span>' in content
    assert '<span class="total-yi">6.00</span>' in content


def test_the_inspection_list_reads_a_deep_page_from_the_nearer_end(manager):
    region = factories.region()
    for n in range(30):
        Inspection.objects.create(
            year=2021 + n % 2,
            quarter=1 + n % 4,
            region=region,
            title=f"督查{n}",
            inspected_on=datetime.date(2021 + n % 2, 3 * (1 + n % 4), 1),
        )
    expected = list(
        Inspection.objects.order_by("-year", "-quarter", "-pk").values_list("pk", flat=True)
    )
    url = reverse("tracker:inspection_list")
    for page in (1, 2):
        response, sql = _get(manager, url, {"per_page": PER_PAGE, "page": page})
        offsets = [int(m.group(1)) for query in sql for m in OFFSET.finditer(query)]
        assert all(offset <= 15 for offset in offsets), offsets
        start = (page - 1) * PER_PAGE
        rows = response.context["table"].page.object_list
        assert [row.record.pk for row in rows] == expected[start : start + PER_PAGE]


@pytest.mark.postgres
def test_a_deep_pages_ids_are_read_from_the_index_alone(manager):
    """The default order's page of ids is an index-only scan on PostgreSQL: the skipped rows
    of a deep page's OFFSET are index entries, never table rows (migration 0015; page 1000 of
    100,000 projects took 155 ms of SQL by the table and 9 ms by the index). The planner is
    told the table is large (no sequential scan, no sort), as it is at that scale."""
    if connection.vendor != "postgresql":
        pytest.skip("covering indexes are PostgreSQL's (SQLite has none)")
    _book()
    _response, sql = _get(manager, LIST, {"region": "", "per_page": PER_PAGE, "page": 2})
    ids = [query for query in sql if OFFSET.search(query) and "tracker_stagechange" not in query]
    assert len(ids) == 1, ids
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {ids[0]}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert re.search(r"Index Only Scan (Backward )?using project_signed_code_id_idx", plan), plan
