"""The project export at any size: a fixed number of queries whatever the number of rows,
and every cell of the CSV and the XLSX equal to what is worked out here, from the model
instances one by one (their properties and choice labels, the published thresholds), not
from the export's own row code.

The exporters are called with the list view's own filterset (its scope and lights), not
through ``?export=``, which may hand a big export to a background job.
"""

import csv
import datetime
import io
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from openpyxl import load_workbook

from tests import factories
from tracker import exports
from tracker.choices import CapitalSource, ProblemStatus, RectificationStatus, Role, Stage, Tier5020
from tracker.exports import HEADERS, csv_response, write_list_csv, write_list_xlsx, xlsx_response
from tracker.models import Inspection, Problem, Project, RectificationItem
from tracker.spreadsheets import HEADER_ROW
from tracker.views.problems import ProblemListView
from tracker.views.projects import ProjectListView
from tracker.views.reviews import InspectionListView

pytestmark = pytest.mark.django_db

YI = Decimal(10000)  # 万元 in one 亿元
BILLION = Decimal(10000)  # 亿元以上: ≥ 1 亿元 = 10,000 万元 (DOMAIN.md)
TIER_20, TIER_50 = Decimal(200000), Decimal(500000)  # "5020", domestic: ≥ 20 / 50 亿元


def build(n, *, region):
    """``n`` projects of one region: amounts across the thresholds, every other one with a
    park and a commissioner, every third long overdue to start (a red light), some foreign,
    some started (without an annual plan), and text a spreadsheet would read as a formula."""
    chain = factories.chain(name=f"{region.name}的链")
    park = factories.park(region=region, name=f"{region.name}园区")
    amounts = [Decimal("8000.50"), BILLION, TIER_20, TIER_50, Decimal("123456.78")]
    for i in range(n):
        signed_on = datetime.date(2022, 1 + i % 12, 1 + i % 28)
        commissioner = (
            factories.user(Role.COMMISSIONER, display_name=f"特派员{i}", unit="市工信局")
            if i % 2
            else None
        )
        factories.project(
            code=f"S-{n}-{i:03d}",
            name=f"=规模项目{i}" if i % 7 == 0 else f"规模项目{i}",
            region=region,
            chain=chain,
            park=park if i % 2 else None,
            commissioner=commissioner,
            signed_on=signed_on,
            signed_amount=amounts[i % len(amounts)],
            capital_source=CapitalSource.FOREIGN if i % 5 == 4 else CapitalSource.DOMESTIC,
            planned_start_on=signed_on + datetime.timedelta(days=20) if i % 3 == 0 else None,
            planned_production_on=datetime.date(2030, 1, 1) if i % 4 == 0 else None,
            # No plan for the started ones: no investment light, only the start light.
            annual_planned_investment=Decimal(0 if i % 3 == 1 else 1000 + i),
            completed_investment=Decimal(i),
            responsible_leader=f"领导{i}",
            responsible_unit="-责任单位" if i % 6 == 0 else "县工信局",
            is_sample=i % 2 == 0,
            stage=Stage.STARTED if i % 3 == 1 else Stage.SIGNED,
        )
    return factories.user(Role.MANAGER)


def filterset(user, view_class=None, **params):
    request = RequestFactory().get("/", params)
    request.user = user
    view = (view_class or ProjectListView)()
    view.setup(request)
    filters = view.get_filterset(view.get_filterset_class())
    assert filters.is_valid(), filters.errors
    return filters


def expected_rows(region):
    """Each project's cells, from its instance: ``(value, kind)``, kind "text", "date",
    "number" or "blank"."""
    rows = []
    with translation.override("zh-hans"):
        for p in (
            Project.objects.filter(region=region)
            .select_related("enterprise", "region", "chain", "park", "commissioner")
            .order_by("-signed_on", "code")
        ):
            tier = p.tier_5020
            late = p.planned_start_on is not None and p.actual_start_on is None
            cells = {
                "项目编号": p.code,
                "项目名称": p.name,
                "企业名称": p.enterprise.name,
                "县(市、区)": p.region.name,
                "产业链": p.chain.name,
                "签约日期": p.signed_on,
                "签约金额(万元)": p.signed_amount,
                "5020项目": "否" if tier == Tier5020.NONE else "是",
                "亿元以上": "是" if p.signed_amount >= BILLION else "否",
                "项目阶段": p.get_stage_display(),
                "签约金额(亿元)": (p.signed_amount / YI).quantize(
                    Decimal("0.0001"), rounding=ROUND_HALF_UP
                ),
                "5020档次": "" if tier == Tier5020.NONE else str(p.tier_5020_label),
                "资金来源": p.get_capital_source_display(),
                "园区": p.park.name if p.park else "",
                "年度计划投资(万元)": p.annual_planned_investment,
                "累计完成投资(万元)": p.completed_investment,
                "计划开工日期": p.planned_start_on,
                "实际开工日期": p.actual_start_on,
                "计划投产日期": p.planned_production_on,
                "实际投产日期": p.actual_production_on,
                # Signed in 2022 and due 20 days later, not started: years late, red.
                "预警灯": "红灯" if late else "绿灯",
                "挂钩领导": p.responsible_leader,
                "责任单位": p.responsible_unit,
                "企业特派员": p.commissioner.display(with_unit=True) if p.commissioner else "",
                "示例数据": "是" if p.is_sample else "否",
            }
            for key in ("项目名称", "责任单位"):  # a formula start is neutralised
                if cells[key][:1] in "=-":
                    cells[key] = "'" + cells[key]
            rows.append([cells[h] for h in HEADERS])
    return rows


def as_csv(value):
    if value is None:
        return ""
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def as_xlsx(value):
    if value is None or value == "":
        return None
    if isinstance(value, datetime.date):
        return datetime.datetime.combine(value, datetime.time())
    if isinstance(value, Decimal):
        return float(value)
    return value


def read_csv(body):
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def read_xlsx(body):
    sheet = load_workbook(io.BytesIO(body), read_only=True).active
    rows = list(sheet.iter_rows(min_row=HEADER_ROW, values_only=True))
    return [list(r) for r in rows[0:1]], [list(r) for r in rows[1:-1]], list(rows[-1])


def body_of(response):
    return b"".join(response.streaming_content)


@pytest.mark.parametrize("n", [4, 31])
def test_the_csv_is_every_project_cell_by_cell(n):
    region = factories.region(name="规模县")
    manager = build(n, region=region)
    rows = read_csv(body_of(csv_response(filterset(manager, region=region.pk))))
    expected = expected_rows(region)
    assert len(expected) == n
    assert rows[0] == HEADERS
    assert rows[1:] == [[as_csv(v) for v in row] for row in expected]
    assert {r[HEADERS.index("预警灯")] for r in rows[1:]} == {"红灯", "绿灯"}


@pytest.mark.parametrize("n", [4, 31])
def test_the_xlsx_is_every_project_cell_by_cell_with_its_totals(n):
    region = factories.region(name="规模县")
    manager = build(n, region=region)
    header, data, totals = read_xlsx(body_of(xlsx_response(filterset(manager, region=region.pk))))
    expected = expected_rows(region)
    assert header == [HEADERS]
    assert data == [[as_xlsx(v) for v in row] for row in expected]
    amount = sum(row[HEADERS.index("签约金额(万元)")] for row in expected)
    cells = dict(zip(HEADERS, totals, strict=True))
    assert cells["项目名称"] == f"共{n}个项目"
    assert cells["签约金额(万元)"] == pytest.approx(float(amount))
    assert cells["签约金额(亿元)"] == pytest.approx(float(amount / YI))


def test_the_job_writers_write_the_same_files_as_the_downloads(tmp_path):
    region = factories.region(name="规模县")
    manager = build(6, region=region)
    filters = filterset(manager, region=region.pk)
    with open(tmp_path / "list.csv", "wb") as file:
        write_list_csv("projects", filters, file)
    assert (tmp_path / "list.csv").read_bytes() == body_of(csv_response(filters))
    write_list_xlsx("projects", filters, tmp_path / "list.xlsx")
    assert read_xlsx((tmp_path / "list.xlsx").read_bytes()) == read_xlsx(
        body_of(xlsx_response(filters))
    )


def count_queries(export, user, region):
    with CaptureQueriesContext(connection) as queries:
        body_of(export(filterset(user, region=region.pk)))
    return len(queries)


@pytest.mark.parametrize("export", [csv_response, xlsx_response], ids=["csv", "xlsx"])
def test_the_export_queries_do_not_grow_with_the_rows(export):
    small, large = factories.region(name="小县"), factories.region(name="大县")
    manager = build(3, region=small)
    build(40, region=large)
    count_queries(export, manager, small)  # warm caches (content types, settings rows)
    assert count_queries(export, manager, small) == count_queries(export, manager, large)


def build_ledgers(n, *, region):
    """``n`` problems (raised by as many people) and ``n`` inspections of two items each."""
    project = factories.project(region=region)
    day = datetime.date(2022, 6, 1)
    for i in range(n):
        Problem.objects.create(
            project=project,
            chain=project.chain,
            region=region,
            status=ProblemStatus.ASSIGNED if i % 2 else ProblemStatus.RAISED,
            assigned_unit="宜春市自然资源局" if i % 2 else "",
            deadline=day + datetime.timedelta(days=i) if i % 2 else None,
            title=f"问题{i}",
            raised_on=day,
            raised_by=factories.user(Role.COUNTY, region=region),
        )
        inspection = Inspection.objects.create(
            year=2022, quarter=2, region=region, project=project, inspected_on=day, title=f"督查{i}"
        )
        for status in (RectificationStatus.OPEN, RectificationStatus.DONE):
            RectificationItem.objects.create(
                inspection=inspection,
                description="整改",
                owner_unit="县工信局",
                deadline=day + datetime.timedelta(days=30),
                status=status,
                done_on=day + datetime.timedelta(days=5) if status != "open" else None,
            )


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize(
    ("kind", "view_class"), [("problems", ProblemListView), ("inspections", InspectionListView)]
)
def test_the_ledger_exports_queries_do_not_grow_with_the_rows(fmt, kind, view_class):
    small, large = factories.region(name="小县"), factories.region(name="大县")
    build_ledgers(2, region=small)
    build_ledgers(25, region=large)
    manager = factories.user(Role.MANAGER)
    export = exports.list_csv if fmt == "csv" else exports.list_xlsx

    def count(region):
        with CaptureQueriesContext(connection) as queries:
            body = body_of(export(kind, filterset(manager, view_class, region=region.pk)))
        assert body
        return len(queries)

    count(small)  # warm caches
    assert count(small) == count(large)
