"""The project list (/projects/) and one project's page: filters, totals, sorting, page
size, bad filter values, scope and a fixed number of queries."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests import factories
from tests.html_tables import column as html_column
from tests.html_tables import table_rows
from tracker.choices import CapitalSource, Role, Stage
from tracker.models import ChangeLog, Project
from tracker.services import record_changes, snapshot

pytestmark = pytest.mark.django_db

LIST = reverse("tracker:project_list")


@pytest.fixture
def book():
    """Four projects that differ in every filtered attribute."""
    r1 = factories.region(name="袁州区", sort_order=1)
    r2 = factories.region(name="樟树市", sort_order=2)
    park = factories.park(region=r1, name="袁州工业园")
    lithium = factories.chain(name="锂电新能源")
    medicine = factories.chain(name="生物医药")
    commissioner = factories.user(Role.COMMISSIONER, username="tepaiyuan")
    a = factories.project(
        code="YC-A",
        name="锂电池正极材料项目",
        enterprise=factories.enterprise(name="宜春时代新能源有限公司", region=r1),
        region=r1,
        park=park,
        chain=lithium,
        signed_on=datetime.date(2022, 3, 1),
        signed_amount=Decimal("250000"),
        stage=Stage.STARTED,
    )
    b = factories.project(
        code="YC-B",
        name="电解液项目",
        region=r1,
        chain=medicine,
        signed_on=datetime.date(2022, 6, 15),
        signed_amount=Decimal("600000"),
        commissioner=commissioner,
    )
    c = factories.project(
        code="ZS-C",
        name="中药饮片项目",
        region=r2,
        chain=lithium,
        signed_on=datetime.date(2021, 5, 1),
        signed_amount=Decimal("5000"),
        capital_source=CapitalSource.FOREIGN,
    )
    d = factories.project(
        code="ZS-D",
        name="医疗器械项目",
        region=r2,
        chain=medicine,
        signed_on=datetime.date(2023, 1, 10),
        signed_amount=Decimal("15000"),
        stage=Stage.PRODUCTION,
        is_sample=True,
    )
    return {
        "a": a,
        "b": b,
        "c": c,
        "d": d,
        "r1": r1,
        "r2": r2,
        "park": park,
        "lithium": lithium,
        "medicine": medicine,
        "commissioner": commissioner,
    }


@pytest.fixture
def manager_client(client):
    client.force_login(factories.user(Role.MANAGER))
    return client


def codes(response):
    return sorted(row.record.code for row in response.context["table"].page.object_list)


def ordered_codes(response):
    """The project codes in the order the page shows them."""
    return html_column(response, "projects", 0)


# --- filters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["YC-A", "YC-B", "ZS-C", "ZS-D"]),
        ({"q": "电解液"}, ["YC-B"]),
        ({"q": "zs-"}, ["ZS-C", "ZS-D"]),
        ({"q": "宜春时代"}, ["YC-A"]),  # enterprise name
        ({"region": "r2"}, ["ZS-C", "ZS-D"]),
        ({"park": "park"}, ["YC-A"]),
        ({"chain": "lithium"}, ["YC-A", "ZS-C"]),
        ({"stage": Stage.PRODUCTION}, ["ZS-D"]),
        ({"signed_year": "2022"}, ["YC-A", "YC-B"]),
        ({"signed_after": "2022-06-01"}, ["YC-B", "ZS-D"]),
        ({"signed_before": "2022-03-01"}, ["YC-A", "ZS-C"]),
        ({"signed_after": "2022-01-01", "signed_before": "2022-12-31"}, ["YC-A", "YC-B"]),
        ({"amount_min": "15000"}, ["YC-A", "YC-B", "ZS-D"]),
        ({"amount_max": "15000"}, ["ZS-C", "ZS-D"]),
        ({"amount_min": "10000", "amount_max": "300000"}, ["YC-A", "ZS-D"]),
        ({"tier_5020": "5020"}, ["YC-A", "YC-B"]),
        ({"tier_5020": "50"}, ["YC-B"]),
        ({"tier_5020": "20"}, ["YC-A"]),
        ({"tier_5020": "0"}, ["ZS-C", "ZS-D"]),
        ({"billion": "true"}, ["YC-A", "YC-B", "ZS-D"]),
        ({"billion": "false"}, ["ZS-C"]),
        ({"capital_source": CapitalSource.FOREIGN}, ["ZS-C"]),
        ({"commissioner": "commissioner"}, ["YC-B"]),
        # combinations
        ({"signed_year": "2022", "chain": "lithium"}, ["YC-A"]),
        ({"signed_year": "2022", "tier_5020": "50", "region": "r1"}, ["YC-B"]),
        ({"region": "r2", "billion": "true", "stage": Stage.PRODUCTION}, ["ZS-D"]),
        ({"signed_year": "2021", "region": "r1"}, []),
    ],
)
def test_each_filter_narrows_the_list(manager_client, book, params, expected):
    query = {k: (str(book[v].pk) if v in book else v) for k, v in params.items()}
    response = manager_client.get(LIST, query)
    assert response.status_code == 200
    assert codes(response) == expected
    assert response.context["totals"]["count"] == len(expected)


def test_filters_live_in_the_url_and_are_shown_in_the_form(manager_client, book):
    response = manager_client.get(LIST, {"signed_year": "2022", "q": "项目"})
    html = response.content.decode()
    assert 'name="signed_year"' in html and 'value="2022"' in html
    assert "signed_year=2022" in html  # export and paging links keep the filters


# --- totals ------------------------------------------------------------------------------


def test_footer_totals_cover_the_whole_filtered_set_not_only_the_page(manager_client):
    region = factories.region()
    chain = factories.chain()
    for i in range(30):
        factories.project(region=region, chain=chain, signed_amount=Decimal(1000 + i))
    factories.project(signed_amount=Decimal("999999"))  # filtered out by region
    response = manager_client.get(LIST, {"region": region.pk, "per_page": 25})
    assert len(response.context["table"].page.object_list) == 25
    expected = sum(Decimal(1000 + i) for i in range(30))  # 30435
    totals = response.context["totals"]
    assert totals["count"] == 30
    assert totals["amount"] == expected
    html = response.content.decode()
    assert "30,435.00" in html  # 万元, in the table footer
    assert 'class="total-yi">3.04<' in html  # 亿元 on a page: two decimals
    assert "30 projects" in html or "30 个项目" in html


# --- sorting and page size ------------------------------------------------------------


@pytest.fixture
def sortable():
    """Five projects whose every sortable column puts them in a different order.

    Names start with a capital letter so that any collation orders them alike; regions and
    chains sort by their sort order, which runs against the order of their names. S2 is
    stalled (red), S4 is 60 days past its planned start without having started (yellow:
    more than 30, at most 90), the others are green.
    """
    today = timezone.localdate()
    rows = [
        # code, name, enterprise, region order, chain order, signed on, amount (万元)
        ("S1", "D 项目", "B 企业", 3, 5, datetime.date(2022, 5, 1), "5000"),
        ("S2", "A 项目", "E 企业", 1, 2, datetime.date(2022, 2, 1), "600000"),
        ("S3", "E 项目", "A 企业", 5, 4, datetime.date(2022, 9, 1), "250000"),
        ("S4", "B 项目", "D 企业", 2, 1, datetime.date(2022, 1, 15), "15000"),
        ("S5", "C 项目", "C 企业", 4, 3, datetime.date(2022, 7, 1), "80000"),
    ]
    keys = {}
    for code, name, company, region_order, chain_order, signed_on, amount in rows:
        region = factories.region(name=f"区{9 - region_order}", sort_order=region_order)
        extra = {}
        if code == "S2":
            extra["history"] = [
                (Stage.STARTED, datetime.date(2022, 3, 1)),
                (Stage.STALLED, datetime.date(2022, 4, 1)),
            ]
        if code == "S4":
            extra["planned_start_on"] = today - datetime.timedelta(days=60)
        factories.project(
            code=code,
            name=name,
            enterprise=factories.enterprise(name=company, region=region),
            region=region,
            chain=factories.chain(name=f"链{9 - chain_order}", sort_order=chain_order),
            signed_on=signed_on,
            signed_amount=Decimal(amount),
            **extra,
        )
        amount = Decimal(amount)
        keys[code] = {
            "code": code,
            "name": name,
            "enterprise": company,
            "region": region_order,
            "chain": chain_order,
            "signed_on": signed_on,
            "signed_amount": amount,
            # 5020: ≥ 50 亿 / ≥ 20 亿 (domestic); 亿元以上: ≥ 1 亿 = 10000 万元.
            "tier_5020": 50 if amount >= 500000 else 20 if amount >= 200000 else 0,
            "billion": amount >= 10000,
            # Sorting by the light puts the worst first: red, yellow, green.
            "light": {"S2": 0, "S4": 1}.get(code, 2),
        }
    return keys


UNIQUE_SORT_KEYS = ["code", "name", "enterprise", "region", "chain", "signed_on", "signed_amount"]
TIED_SORT_KEYS = ["tier_5020", "billion", "light"]


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("column", UNIQUE_SORT_KEYS + TIED_SORT_KEYS)
def test_the_rendered_rows_follow_the_chosen_column_both_ways(
    manager_client, sortable, column, descending
):
    sort = f"-{column}" if descending else column
    shown = html_column(manager_client.get(LIST, {"sort": sort}), "projects", 0)
    assert sorted(shown) == sorted(sortable)
    wanted = sorted(sortable, key=lambda code: sortable[code][column], reverse=descending)
    if column in UNIQUE_SORT_KEYS:
        assert shown == wanted
    else:  # equal keys may come in any order; the keys themselves must be in order
        assert [sortable[code][column] for code in shown] == [
            sortable[code][column] for code in wanted
        ]


def test_the_light_column_shows_the_lights_the_order_was_computed_from(manager_client, sortable):
    response = manager_client.get(LIST, {"sort": "light"})
    rows = table_rows(response.content.decode(), "projects")
    shown = [(row[0].text, {c for c in row[10].classes if c.startswith("light-")}) for row in rows]
    assert shown[:2] == [("S2", {"light-red"}), ("S4", {"light-yellow"})]
    assert all(classes == {"light-green"} for _code, classes in shown[2:])


def test_a_sorted_header_links_to_the_other_direction(manager_client, sortable):
    html = manager_client.get(LIST, {"sort": "signed_amount"}).content.decode()
    assert 'href="?sort=-signed_amount"' in html
    html = manager_client.get(LIST, {"sort": "-signed_amount"}).content.decode()
    assert 'href="?sort=signed_amount"' in html


def test_default_order_is_newest_signing_first(manager_client, book):
    assert ordered_codes(manager_client.get(LIST)) == ["ZS-D", "YC-B", "YC-A", "ZS-C"]


@pytest.mark.parametrize(
    ("per_page", "rows"),
    [("25", 25), ("50", 50), ("100", 60), ("7", 50), ("100000", 50), ("abc", 50)],
)
def test_page_size_is_a_whitelisted_choice(manager_client, per_page, rows):
    region = factories.region()
    chain = factories.chain()
    for _ in range(60):
        factories.project(region=region, chain=chain)
    response = manager_client.get(LIST, {"per_page": per_page})
    assert len(response.context["table"].page.object_list) == rows
    assert response.context["totals"]["count"] == 60


# --- bad filter values ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"signed_year": "abc"}, "signed_year"),
        ({"signed_year": "2022.5"}, "signed_year"),
        ({"signed_year": "1800"}, "signed_year"),
        ({"amount_min": "-5"}, "amount_min"),
        ({"amount_max": "lots"}, "amount_max"),
        ({"region": "999999"}, "region"),
        ({"stage": "flying"}, "stage"),
        ({"tier_5020": "70"}, "tier_5020"),
        ({"signed_after": "2022-13-45"}, "signed_after"),
        ({"amount_min": "500", "amount_max": "100"}, "amount_max"),
        ({"signed_after": "2022-12-01", "signed_before": "2022-01-01"}, "signed_before"),
    ],
)
def test_bad_filter_value_shows_a_message_beside_it_and_an_empty_list(
    manager_client, book, params, field
):
    response = manager_client.get(LIST, params)
    assert response.status_code == 200
    assert field in response.context["filter"].form.errors
    html = response.content.decode()
    assert f'id="error-{field}"' in html
    assert "filter-invalid" in html  # the page says why the list is empty
    assert codes(response) == []
    assert 'id="export-csv"' not in html


# --- scope ----------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client, book):
    for url in (
        LIST,
        reverse("tracker:project_detail", args=[book["a"].pk]),
        reverse("tracker:project_edit", args=[book["a"].pk]),
        LIST + "?export=csv",
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_county_staff_see_every_project(client, book):
    client.force_login(factories.user(Role.COUNTY, region=book["r1"]))
    # The list opens on their region (tests/test_lists.py); "all regions" is ``region=``.
    assert codes(client.get(LIST, {"region": ""})) == ["YC-A", "YC-B", "ZS-C", "ZS-D"]
    other = client.get(reverse("tracker:project_detail", args=[book["c"].pk]))
    assert other.status_code == 200
    assert 'id="edit-link"' not in other.content.decode()  # read-only outside the region
    own = client.get(reverse("tracker:project_detail", args=[book["a"].pk]))
    assert 'id="edit-link"' in own.content.decode()


def test_commissioner_sees_only_assigned_projects(client, book):
    client.force_login(book["commissioner"])
    assert codes(client.get(LIST)) == ["YC-B"]
    assert client.get(reverse("tracker:project_detail", args=[book["a"].pk])).status_code == 404
    assert client.get(reverse("tracker:project_detail", args=[book["b"].pk])).status_code == 200


def test_chain_office_sees_only_its_chain_read_only(client, book):
    client.force_login(factories.user(Role.CHAIN_OFFICE, chain=book["lithium"]))
    assert codes(client.get(LIST)) == ["YC-A", "ZS-C"]
    assert client.get(reverse("tracker:project_detail", args=[book["b"].pk])).status_code == 404
    page = client.get(reverse("tracker:project_detail", args=[book["a"].pk]))
    assert page.status_code == 200
    assert 'id="edit-link"' not in page.content.decode()
    # a filter cannot widen the scope
    assert codes(client.get(LIST, {"chain": book["medicine"].pk})) == []


def test_user_without_role_sees_nothing(client, book):
    client.force_login(factories.user(role=""))
    assert codes(client.get(LIST)) == []
    assert client.get(reverse("tracker:project_detail", args=[book["a"].pk])).status_code == 404


# --- rendering --------------------------------------------------------------------------


def test_sample_rows_carry_the_badge(manager_client, book):
    html = manager_client.get(LIST).content.decode()
    row_d = html[html.index("ZS-D") :]
    row_d = row_d[: row_d.index("</tr>")]
    assert 'class="sample"' in row_d and "示例" in row_d
    row_a = html[html.index("YC-A") :]
    row_a = row_a[: row_a.index("</tr>")]
    assert 'class="sample"' not in row_a


def test_warning_light_column_is_shown(manager_client, book):
    html = manager_client.get(LIST).content.decode()
    assert 'class="light light-' in html


def test_script_in_text_is_escaped_everywhere(manager_client, book):
    project = book["a"]
    Project.objects.filter(pk=project.pk).update(
        name="<script>alert(1)</script>", notes="<script>alert(2)</script>"
    )
    factories.dispatch(project, problems="<script>alert(3)</script>")
    for url in (LIST, reverse("tracker:project_detail", args=[project.pk])):
        html = manager_client.get(url).content.decode()
        assert "<script>alert" not in html
    html = manager_client.get(reverse("tracker:project_detail", args=[project.pk])).content
    assert b"&lt;script&gt;alert(2)" in html and b"&lt;script&gt;alert(3)" in html


# --- the project page -------------------------------------------------------------------


def test_detail_shows_facts_timeline_progress_dispatches_problems_history(manager_client, book):
    project = book["a"]  # 250000 万元: 5020 (≥ 20 亿元) and ≥ 1 亿元; started
    Project.objects.filter(pk=project.pk).update(
        annual_planned_investment=Decimal("40000"), completed_investment=Decimal("10000")
    )
    project.refresh_from_db()
    factories.dispatch(project, iso_week=10, problems="用地指标未落实")
    factories.dispatch(project, iso_week=11, problems="")
    before = snapshot(project)
    project.responsible_unit = "袁州区工信局"
    project.save()
    user = factories.user(Role.MANAGER, username="zhang")
    record_changes(project, before, by=user)
    response = manager_client.get(reverse("tracker:project_detail", args=[project.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "5020" in html.split('id="fact-5020"')[1][:80]
    # The annual plan is this year's: the 10,000 万元 were all reported in 2022, so nothing
    # of this year's plan is done yet (0 / 40000); tests/test_formats.py has a year with work.
    assert "0.0%" in html.split('id="pct-plan"')[1][:40]
    assert "4.0%" in html.split('id="pct-signed"')[1][:40]  # 10000 / 250000
    timeline = [c.to_stage for c in response.context["stage_changes"]]
    assert timeline == [Stage.SIGNED, Stage.STARTED]
    weeks = [d.iso_week for d in response.context["dispatches"]]
    assert weeks == [11, 10]  # newest first
    assert [d.problems for d in response.context["problems"]] == ["用地指标未落实"]
    assert "用地指标未落实" in html
    history = response.context["history"]
    assert [(h.field, h.changed_by.username) for h in history] == [("responsible_unit", "zhang")]
    assert "袁州区工信局" in html.split('id="history"')[1]


def test_detail_bounds_the_dispatch_history_and_says_so(manager_client, book):
    project = book["a"]
    for week in range(1, 53):
        factories.dispatch(project, iso_year=2022, iso_week=week)
    factories.dispatch(project, iso_year=2023, iso_week=1)
    response = manager_client.get(reverse("tracker:project_detail", args=[project.pk]))
    assert len(response.context["dispatches"]) == 52
    assert response.context["dispatches"][0].iso_year == 2023
    assert 'id="dispatch-note"' in response.content.decode()


def test_detail_of_unknown_project_is_404(manager_client):
    assert manager_client.get(reverse("tracker:project_detail", args=[987654])).status_code == 404


# --- a fixed number of queries ------------------------------------------------------------

# session, user, the chosen region (validating the filter), paginator count, totals
# aggregate, the four filter selects (region, park, chain, commissioner), page rows, the
# user's saved views and column choice (one UNION, tracker.saved_views.list_settings).
LIST_QUERIES = 11
# session, user, project (with lights), stage changes (prefetch), dispatches, content type,
# history, can-edit check.
DETAIL_QUERIES = 8


def _make_projects(n, region, chain, commissioner):
    for i in range(n):
        factories.project(
            region=region,
            chain=chain,
            commissioner=commissioner,
            enterprise=factories.enterprise(region=region),
            signed_amount=Decimal(5000 + i),
            is_sample=i % 2 == 0,
            stage=Stage.STARTED,
        )


def _count_list(client, params):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(LIST, params)
    assert response.status_code == 200
    return len(ctx.captured_queries), len(response.context["table"].page.object_list)


def test_list_query_count_is_the_same_for_5_and_50_rows(manager_client):
    region = factories.region()
    chain = factories.chain()
    commissioner = factories.user(Role.COMMISSIONER)
    params = {"per_page": 100, "region": region.pk, "signed_year": "2022"}
    _make_projects(5, region, chain, commissioner)
    small, rows = _count_list(manager_client, params)
    assert rows == 5
    _make_projects(45, region, chain, commissioner)
    large, rows = _count_list(manager_client, params)
    assert rows == 50
    assert small == large == LIST_QUERIES


def _count_detail(client, project):
    ContentType.objects.clear_cache()
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("tracker:project_detail", args=[project.pk]))
    assert response.status_code == 200
    return len(ctx.captured_queries)


def _grow(project, n, user, start_week):
    for week in range(start_week, start_week + n):
        factories.dispatch(project, iso_week=week, problems=f"问题{week}", filed_by=user)
        before = snapshot(project)
        project.responsible_leader = f"领导{week}"
        project.save()
        record_changes(project, before, by=user)


def test_detail_query_count_is_the_same_for_5_and_50_dispatches_and_changes(manager_client):
    user = factories.user(Role.MANAGER)
    project = factories.project(
        history=[(Stage.REGISTERED, datetime.date(2022, 3, 5))], commissioner=user
    )
    _grow(project, 5, user, 1)
    small = _count_detail(manager_client, project)
    _grow(project, 45, user, 6)
    large = _count_detail(manager_client, project)
    assert ChangeLog.objects.filter(object_id=project.pk).count() >= 50
    assert small == large == DETAIL_QUERIES


@pytest.mark.parametrize(
    "column",
    [
        "code",
        "name",
        "enterprise",
        "region",
        "chain",
        "signed_on",
        "signed_amount",
        "tier_5020",
        "billion",
        "stage",
        "light",
    ],
)
def test_every_column_sorts_both_ways(manager_client, book, column):
    for sort in (column, f"-{column}"):
        response = manager_client.get(LIST, {"sort": sort})
        assert response.status_code == 200
        assert len(codes(response)) == 4
        assert response.context["table"].order_by == (sort,)


def test_tier_column_sorts_by_tier(manager_client, book):
    assert ordered_codes(manager_client.get(LIST, {"sort": "-tier_5020"}))[:2] == ["YC-B", "YC-A"]
