"""Export of exactly the filtered set: CSV (UTF-8 with BOM, streamed) and XLSX."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.http import FileResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from tests import factories
from tracker.choices import Role, Stage
from tracker.exports import HEADERS, export_rows, safe_text
from tracker.models import Project
from tracker.spreadsheets import HEADER_ROW

pytestmark = pytest.mark.django_db

LIST = reverse("tracker:project_list")
FIXED_HEADERS = [
    "项目编号",
    "项目名称",
    "企业名称",
    "县(市、区)",
    "产业链",
    "签约日期",
    "签约金额(万元)",
    "5020项目",
    "亿元以上",
    "项目阶段",
]


@pytest.fixture
def book():
    region = factories.region(name="宜丰县")
    other = factories.region(name="铜鼓县")
    chain = factories.chain(name="锂电新能源")
    rows = [
        factories.project(
            code="A-1",
            name='=HYPERLINK("http://x")',
            region=region,
            chain=chain,
            signed_on=datetime.date(2022, 5, 1),
            signed_amount=Decimal("600000"),
            stage=Stage.STARTED,
        ),
        factories.project(
            code="A-2",
            name="普通项目",
            region=region,
            chain=chain,
            signed_on=datetime.date(2022, 2, 1),
            signed_amount=Decimal("8000.50"),
            responsible_unit="-责任单位",
            is_sample=True,
        ),
        factories.project(
            code="B-1",
            name="别的县项目",
            region=other,
            chain=chain,
            signed_on=datetime.date(2022, 7, 1),
            signed_amount=Decimal("12000"),
        ),
        factories.project(
            code="A-3",
            name="2021年项目",
            region=region,
            chain=chain,
            signed_on=datetime.date(2021, 7, 1),
            signed_amount=Decimal("3000"),
        ),
    ]
    return {"region": region, "other": other, "chain": chain, "rows": rows}


@pytest.fixture
def manager_client(client):
    client.force_login(factories.user(Role.MANAGER))
    return client


def read_csv(response):
    assert isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_csv_is_the_filtered_set_with_the_fixed_headers(manager_client, book):
    response = manager_client.get(
        LIST, {"signed_year": "2022", "region": book["region"].pk, "export": "csv"}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment")
    assert f"-{timezone.localdate().isoformat()}.csv" in disposition
    rows = read_csv(response)
    assert rows[0][:10] == FIXED_HEADERS
    assert [r[0] for r in rows[1:]] == ["A-1", "A-2"]  # newest signing first, 2021 and B out
    a1 = dict(zip(rows[0], rows[1], strict=True))
    assert a1["县(市、区)"] == "宜丰县"
    assert a1["产业链"] == "锂电新能源"
    assert a1["签约日期"] == "2022-05-01"
    assert a1["签约金额(万元)"] == "600000.00"
    assert a1["5020项目"] == "是"
    assert a1["亿元以上"] == "是"
    a2 = dict(zip(rows[0], rows[2], strict=True))
    assert a2["签约金额(万元)"] == "8000.50"
    assert a2["5020项目"] == "否" and a2["亿元以上"] == "否"
    assert a2["示例数据"] == "是"


def test_csv_row_count_equals_the_list_count(manager_client, book):
    params = {"signed_year": "2022"}
    listed = manager_client.get(LIST, params).context["totals"]["count"]
    rows = read_csv(manager_client.get(LIST, {**params, "export": "csv"}))
    assert len(rows) - 1 == listed == 3


def test_csv_cells_that_look_like_formulas_are_neutralised(manager_client, book):
    rows = read_csv(manager_client.get(LIST, {"export": "csv"}))
    by_code = {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert by_code["A-1"]["项目名称"] == '\'=HYPERLINK("http://x")'
    assert by_code["A-2"]["责任单位"] == "'-责任单位"
    assert by_code["A-1"]["签约金额(万元)"] == "600000.00"  # numbers untouched


def test_safe_text_leaves_numbers_alone():
    assert safe_text(Decimal("-5")) == Decimal("-5")
    assert safe_text("@SUM(A1)") == "'@SUM(A1)"
    assert safe_text("+1") == "'+1"
    assert safe_text("普通") == "普通"


def test_xlsx_reads_back_with_numbers_as_numbers(manager_client, book):
    response = manager_client.get(LIST, {"region": book["region"].pk, "export": "xlsx"})
    assert response.status_code == 200
    assert isinstance(response, FileResponse)
    assert "spreadsheetml" in response["Content-Type"]
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    sheet = workbook.active
    # The title rows, the header row, one row per project, the totals row.
    rows = list(sheet.iter_rows(min_row=HEADER_ROW, values_only=True))[:-1]
    assert list(rows[0][:10]) == FIXED_HEADERS
    assert [r[0] for r in rows[1:]] == ["A-1", "A-2", "A-3"]
    amount = rows[2][HEADERS.index("签约金额(万元)")]
    assert isinstance(amount, (int, float)) and not isinstance(amount, bool)
    assert amount == pytest.approx(8000.5)
    signed = rows[1][HEADERS.index("签约日期")]
    assert signed.date() == datetime.date(2022, 5, 1)
    assert rows[1][1] == '\'=HYPERLINK("http://x")'  # a string, not a formula


def test_export_is_limited_to_the_users_scope(client, book):
    other_chain = factories.chain()
    factories.project(code="X-1", chain=other_chain)
    client.force_login(factories.user(Role.CHAIN_OFFICE, chain=book["chain"]))
    rows = read_csv(client.get(LIST, {"export": "csv"}))
    assert sorted(r[0] for r in rows[1:]) == ["A-1", "A-2", "A-3", "B-1"]
    client.force_login(factories.user(Role.COMMISSIONER))
    assert read_csv(client.get(LIST, {"export": "csv"})) == [HEADERS]


def test_export_with_invalid_filters_shows_the_page_instead(manager_client, book):
    response = manager_client.get(LIST, {"signed_year": "abc", "export": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "signed_year" in response.context["filter"].form.errors


def test_export_streams_in_chunks_over_an_iterator(
    book, django_assert_num_queries, django_assert_max_num_queries
):
    """The rows come from QuerySet.iterator(): fetched lazily, not materialised up front."""
    queryset = Project.objects.with_tiers()
    rows = export_rows(queryset)
    with django_assert_num_queries(0):
        assert next(rows) == HEADERS
    with django_assert_max_num_queries(2):  # the rows, and once the commissioners' names
        first = next(rows)
    assert first[0] == "B-1"
    assert len(list(rows)) == 3


def test_export_handles_many_rows(manager_client):
    region = factories.region()
    chain = factories.chain()
    enterprise = factories.enterprise(region=region)
    Project.objects.bulk_create(
        Project(
            code=f"BULK-{i:05d}",
            name=f"项目{i}",
            enterprise=enterprise,
            region=region,
            chain=chain,
            signed_on=datetime.date(2022, 1, 1),
            signed_amount=Decimal(i),
        )
        for i in range(5000)
    )
    rows = read_csv(manager_client.get(LIST, {"region": region.pk, "export": "csv"}))
    assert len(rows) == 5001
