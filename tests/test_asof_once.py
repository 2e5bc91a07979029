"""Each as-of value is computed once per row: no page's query repeats a stage-history or
dispatch subquery (tracker/asof.py).

The "stage as of D" correlated subquery used to be written out again each time an annotation
referred to it (54 copies in the project list's query), and PostgreSQL ran every copy for
every row. Here the SQL of the list, home, dashboard and report pages is read: in each query,
the stage history (``tracker_stagechange``) is read at most once per distinct as-of date (plus
once without a date: the first stop of the dispatch rate), and no dispatch subquery is written
twice.
"""

import datetime
import re
from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import timezone

from tests import factories as f
from tracker.choices import Role, Stage
from tracker.reports.assembly import compute_report

pytestmark = pytest.mark.django_db

D = datetime.date
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ALIAS = re.compile(r'"?\b[A-Z]\d+\b"?')


def _enclosing(sql, at):
    """The parenthesised subquery (or lateral/derived table) around position ``at``."""
    depth, start = 0, None
    for i in range(at, -1, -1):
        if sql[i] == ")":
            depth += 1
        elif sql[i] == "(":
            if depth == 0:
                start = i
                break
            depth -= 1
    if start is None:
        return sql
    depth = 0
    for j in range(start, len(sql)):
        if sql[j] == "(":
            depth += 1
        elif sql[j] == ")":
            depth -= 1
            if depth == 0:
                return sql[start : j + 1]
    return sql[start:]


def reads(sql, table):
    """Every subquery of ``sql`` that reads ``table``, its aliases normalised."""
    pattern = re.compile(rf'FROM "?{table}"?', re.IGNORECASE)
    return [ALIAS.sub("X", _enclosing(sql, m.start())) for m in pattern.finditer(sql)]


def repeated(sql, *, day=None):
    """What ``sql`` computes more than once: stage-history reads per as-of date (a date-less
    read counts as its own kind) and identical dispatch subqueries; with ``day`` (an ISO
    date string), only the stage-history reads as of that day (the lights')."""
    problems = []
    by_date = Counter(
        tuple(sorted(set(DATE.findall(sub)))) for sub in reads(sql, "tracker_stagechange")
    )
    if day is not None:
        by_date = Counter({k: n for k, n in by_date.items() if k == (day,)})
    problems += [f"stage history as of {k or 'any day'} ×{n}" for k, n in by_date.items() if n > 1]
    dispatch = Counter(reads(sql, "tracker_weeklydispatch") if day is None else [])
    problems += [f"dispatch subquery ×{n}: {k[:80]}" for k, n in dispatch.items() if n > 1]
    return problems


def test_the_checker_sees_a_repeated_subquery():
    """The check can fail: the old form (a subquery written out twice) is caught."""
    sub = (
        '(SELECT U0."to_stage" FROM "tracker_stagechange" U0 WHERE U0."effective_on" '
        "<= '2022-12-31' LIMIT 1)"
    )
    assert repeated(f"SELECT {sub} = 'a' OR {sub} = 'b' FROM t") == [
        "stage history as of ('2022-12-31',) ×2"
    ]
    other = sub.replace("2022-12-31", "2022-11-30")
    assert repeated(f"SELECT {sub}, {other} FROM t") == []


@pytest.fixture
def book():
    today = timezone.localdate()
    region, chain = f.region(), f.chain()
    projects = []
    for n, signed in enumerate([D(2022, 3, 1), D(2022, 5, 1), today.replace(month=1, day=1)]):
        history = [(Stage.REGISTERED, signed + datetime.timedelta(days=10))]
        if n == 1:
            history.append((Stage.STARTED, signed + datetime.timedelta(days=40)))
        p = f.project(
            region=region,
            chain=chain,
            signed_on=signed,
            planned_start_on=signed + datetime.timedelta(days=20),
            history=history,
        )
        year, week, _ = (signed + datetime.timedelta(days=14)).isocalendar()
        f.dispatch(p, iso_year=year, iso_week=week)
        projects.append(p)
    return projects


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return [q["sql"] for q in ctx.captured_queries]


@pytest.mark.parametrize(
    "url",
    [
        reverse("tracker:project_list"),
        "/dashboard/?year=2022",
        "/dashboard/",
        "/reports/monthly/2022-12/",
    ],
)
def test_no_page_computes_an_as_of_value_twice_per_row(client, book, url):
    client.force_login(f.user(Role.MANAGER))
    queries = _queries(client, url)
    assert any("tracker_stagechange" in sql for sql in queries), "the page reads no history"
    found = {sql[:120]: repeated(sql) for sql in queries if repeated(sql)}
    assert not found, found


@pytest.mark.parametrize("role", [Role.MANAGER, Role.COUNTY])
def test_the_home_page_reads_the_lights_history_once(client, book, role):
    """The lights as of today: one read of the history per query. (The home page's "due to
    dispatch this week" condition, as of the week's Monday, and its last-report columns are the
    home view's own.)"""
    region = book[0].region
    client.force_login(f.user(role, region=region) if role == Role.COUNTY else f.user(role))
    queries = _queries(client, reverse("tracker:home"))
    today = timezone.localdate().isoformat()
    assert any(today in sql and "tracker_stagechange" in sql for sql in queries)
    found = {sql[:120]: repeated(sql, day=today) for sql in queries if repeated(sql, day=today)}
    assert not found, found


def test_the_latest_report_reads_each_as_of_day_once(client, book):
    today = timezone.localdate()
    last = today.replace(day=1) - datetime.timedelta(days=1)
    client.force_login(f.user(Role.MANAGER))
    queries = _queries(client, f"/reports/monthly/{last:%Y-%m}/")
    found = {sql[:120]: repeated(sql) for sql in queries if repeated(sql)}
    assert not found, found


# --- 月通报: the page lists the most urgent red/yellow projects, the XLSX all of them --------


@pytest.fixture
def lit_book():
    """Five projects, never started, planned to start in March 2022: red on 31 December;
    four in one chain, one in another."""
    mine, other = f.chain(), f.chain()
    return mine, [
        f.project(chain=chain, signed_on=D(2022, 1, 10), planned_start_on=D(2022, 3, 1))
        for chain in (mine, mine, mine, mine, other)
    ]


def _xlsx_codes(content):
    import io

    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(content), read_only=True)
    return {
        cell
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for cell in row
        if isinstance(cell, str)
    }


@override_settings()
def test_the_report_page_lists_the_most_urgent_and_says_how_many(client, lit_book, settings):
    settings.TRACKER = {**settings.TRACKER, "REPORT_WARNINGS_ON_PAGE": 2}
    chain, projects = lit_book
    client.force_login(f.user(Role.MANAGER))
    url = "/reports/monthly/2022-12/"
    response = client.get(url)
    shown = response.context["data"]["warnings"]
    everything = compute_report(year=2022, month=12)["warnings"]
    assert [w["code"] for w in shown] == [w["code"] for w in everything[:2]]  # most urgent
    assert response.context["data"]["warnings_total"] == 5
    assert b'id="warnings-bounded"' in response.content
    codes = _xlsx_codes(client.get(url, {"export": "xlsx"}).content)
    assert {p.code for p in projects} <= codes  # the file lists them all

    # a chain office: the first two of its chain's four, the fifth outside its scope
    client.force_login(f.user(Role.CHAIN_OFFICE, chain=chain))
    data = client.get(url).context["data"]
    assert len(data["warnings"]) == 2 and data["warnings_total"] == 4
    assert data["warnings_hidden"] == 1
    assert all(w["chain"] == chain.name for w in data["warnings"])


@override_settings()
def test_a_published_report_page_is_bounded_too(client, lit_book, settings):
    from tracker.reports.publishing import publish_monthly_report

    settings.TRACKER = {**settings.TRACKER, "REPORT_WARNINGS_ON_PAGE": 3}
    manager = f.user(Role.MANAGER)
    report = publish_monthly_report(year=2022, month=12, by=manager)
    assert len(report.data["warnings"]) == 5  # the frozen JSON keeps the whole list
    client.force_login(manager)
    url = f"/reports/monthly/2022-12/v{report.version}/"
    data = client.get(url).context["data"]
    assert len(data["warnings"]) == 3 and data["warnings_total"] == 5
    assert (
        len(
            _xlsx_codes(client.get(url, {"export": "xlsx"}).content) & {p.code for p in lit_book[1]}
        )
        == 5
    )


def test_the_lights_join_works_on_any_queryset_and_as_a_subquery(lit_book):
    """annotate_lights on ``filter(pk__in=[...])``, counted, sliced, and used inside another
    query (its join is relabelled there)."""
    from tracker.lights import annotate_lights
    from tracker.models import Project

    _chain, projects = lit_book
    ids = [p.pk for p in projects[:3]]
    day = D(2022, 12, 31)
    lit = annotate_lights(Project.objects.filter(pk__in=ids), today=day)
    assert lit.count() == 3
    assert sorted(lit.filter(light="red").values_list("pk", flat=True)) == sorted(ids)
    assert len(lit.order_by("-light_rank", "code")[:2]) == 2
    outer = Project.objects.filter(pk__in=lit.filter(light="red").values("pk"))
    assert sorted(outer.values_list("pk", flat=True)) == sorted(ids)
    again = annotate_lights(lit, today=day)  # the same as-of day: the same join, reused
    assert again.query.get_compiler(using="default").as_sql()[0].count("JOIN") == 2
    assert {p.light for p in again} == {"red"}
