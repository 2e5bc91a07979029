"""Files fit to circulate: every XLSX the tracker writes, downloaded through its page and
opened with openpyxl, says what it is (title, the filter or period in words, the issuing
unit, the date), has its header row frozen and repeated on every printed page, columns wide
enough for what they hold, number formats, a totals row equal to the database's sums, thin
borders, A4 landscape one page wide with page numbers, and a file name that says what is in
it. The CSV of the same list stays machine-readable: the header row, then the data.

The expected figures come from outside the writers: the published 2022 book (338 projects,
17,961,600 万元, 41 "5020", 298 ≥ 1 亿元; DOMAIN.md) and ORM aggregates computed here.
"""

import csv
import datetime
import io
import re
import unicodedata
from decimal import Decimal
from io import StringIO
from urllib.parse import unquote

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from tests import factories
from tracker.choices import ProblemStatus, RectificationStatus, Role
from tracker.models import Inspection, Problem, Project, RectificationItem, Region
from tracker.reports.publishing import publish_monthly_report

pytestmark = pytest.mark.django_db

ISSUER = "宜春市工业和信息化局"
HEADER_ROW = 4  # title, filter, issuer and date above it
WIDTH_CAP = 40  # a column may stop growing here (its text wraps), not before
PROJECTS = reverse("tracker:project_list")
PROBLEMS = reverse("tracker:problem_list")
INSPECTIONS = reverse("tracker:inspection_list")


@pytest.fixture(scope="module")
def book(django_db_setup, django_db_blocker):
    """The 2022 book (no generated history: these tests only read projects)."""
    with django_db_blocker.unblock(), transaction.atomic():
        with override_settings(DEBUG=False):
            call_command("seed", "--today", "2023-01-09", "--no-demo-users", stdout=StringIO())
        yield
        transaction.set_rollback(True)


@pytest.fixture
def manager(book):
    return factories.user(Role.MANAGER)


def today():
    return timezone.localdate().isoformat()


def download(client, url, params=None):
    response = client.get(url, params or {})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return load_workbook(io.BytesIO(body)), response


def file_names(response):
    """(the UTF-8 name of filename*, the ASCII fallback of filename)."""
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    utf8 = re.search(r"filename\*=UTF-8''([^;]+)", disposition)
    fallback = re.search(r'filename="([^"]+)"', disposition)
    assert utf8 and fallback, disposition
    assert fallback[1].isascii()
    return unquote(utf8[1]), fallback[1]


def needed_width(value, number_format):
    """How wide a column must be to show ``value`` whole: CJK characters two digit widths,
    numbers as their format shows them, dates ten characters plus a margin."""
    if value is None:
        return 0
    if isinstance(value, (datetime.date, datetime.datetime)):
        return 11
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if number_format == "#,##0.00":
            return len(f"{value:,.2f}")
        if number_format == "#,##0.0000":
            return len(f"{value:,.4f}")
        if number_format.endswith("%"):
            return len(f"{value * 100:.2f}%")
        return len(f"{value:,}")
    return max(
        sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in line)
        for line in str(value).split("\n")
    )


def table(sheet):
    """The header row's cells and the rows below it (data, totals)."""
    rows = list(sheet.iter_rows(min_row=HEADER_ROW))
    return [c.value for c in rows[0]], rows[1:]


def assert_fit_to_circulate(sheet, *, title, subtitle_has=(), date=None, date_label="导出日期"):
    """The properties every titled sheet has."""
    assert sheet["A1"].value == title
    assert sheet["A1"].font.b and sheet["A1"].font.sz >= 14
    for words in subtitle_has:
        assert words in sheet["A2"].value
    assert ISSUER in sheet["A3"].value
    assert f"{date_label}：{date or today()}" in sheet["A3"].value
    header, rows = table(sheet)
    last = get_column_letter(len(header))
    assert f"A1:{last}1" in {str(r) for r in sheet.merged_cells.ranges}
    # The header row is frozen: the panes start on the first data row.
    assert sheet.freeze_panes == f"A{HEADER_ROW + 1}"
    assert all(cell.font.b for cell in sheet[HEADER_ROW])
    # Columns fit what they hold (dates never "###").
    for index, name in enumerate(header):
        width = sheet.column_dimensions[get_column_letter(index + 1)].width
        values = [(name, "General")] + [
            (row[index].value, row[index].number_format) for row in rows
        ]
        needed = max(needed_width(value, fmt) for value, fmt in values)
        assert width >= min(needed, WIDTH_CAP), (name, width, needed)
        if any(isinstance(row[index].value, datetime.datetime) for row in rows):
            assert width >= 11, name
    # Thin borders round every cell of the table.
    for row in rows[:3]:
        for cell in row:
            assert cell.border.left.style == cell.border.bottom.style == "thin"
    # Printed: A4 landscape, one page wide, the header row on every page, page numbers.
    setup = sheet.page_setup
    assert setup.orientation == "landscape"
    assert int(setup.paperSize) == 9  # A4
    assert int(setup.fitToWidth) == 1 and int(setup.fitToHeight) == 0
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert sheet.print_title_rows == f"${HEADER_ROW}:${HEADER_ROW}"
    assert sheet.oddFooter.center.text == "第 &P 页，共 &N 页"
    assert sheet.oddHeader.left.text == ISSUER
    return header, rows


def column(header, rows, name):
    return [row[header.index(name)] for row in rows]


# --- the project book -----------------------------------------------------------------------
def test_the_2022_book_totals_are_the_published_figures(client, manager):
    client.force_login(manager)
    workbook, response = download(client, PROJECTS, {"signed_year": 2022, "export": "xlsx"})
    sheet = workbook.active
    header, rows = assert_fit_to_circulate(
        sheet, title="宜春市工业项目清单", subtitle_has=["签约年度：2022"]
    )
    data, totals = rows[:-1], rows[-1]
    assert len(data) == 338
    cells = dict(zip(header, totals, strict=True))
    assert cells["项目编号"].value == "合计"
    assert cells["项目名称"].value == "共338个项目"
    assert cells["签约金额(万元)"].value == 17961600
    assert cells["签约金额(亿元)"].value == pytest.approx(1796.16)
    assert cells["5020项目"].value == 41 and cells["亿元以上"].value == 298
    assert cells["签约金额(万元)"].font.b
    sums = Project.objects.filter(signed_on__year=2022).aggregate(
        planned=Sum("annual_planned_investment"), completed=Sum("completed_investment")
    )
    assert cells["年度计划投资(万元)"].value == pytest.approx(float(sums["planned"]))
    assert cells["累计完成投资(万元)"].value == pytest.approx(float(sums["completed"]))
    for name in ("签约金额(万元)", "年度计划投资(万元)", "累计完成投资(万元)"):
        assert {c.number_format for c in column(header, rows, name)} == {"#,##0.00"}
    assert {c.number_format for c in column(header, data, "签约金额(亿元)")} == {"#,##0.0000"}
    assert {c.number_format for c in column(header, data, "签约日期")} == {"yyyy-mm-dd"}
    assert {c.value for c in column(header, data, "预警灯")} <= {"红灯", "黄灯", "绿灯"}
    assert file_names(response) == (
        f"项目清单-2022年签约-{today()}.xlsx",
        f"projects-{today()}.xlsx",
    )


def test_a_region_and_year_export_says_so_and_sums_its_own_set(client, manager):
    region = Region.objects.get(name="袁州区")
    client.force_login(manager)
    params = {"region": region.pk, "signed_year": 2022, "stage": "signed", "export": "xlsx"}
    workbook, response = download(client, PROJECTS, params)
    header, rows = assert_fit_to_circulate(
        workbook.active,
        title="宜春市工业项目清单",
        subtitle_has=["县(市、区)：袁州区", "签约年度：2022", "项目状态：签约"],
    )
    expected = Project.objects.filter(region=region, signed_on__year=2022, stage="signed")
    sums = expected.aggregate(count=Count("pk"), amount=Sum("signed_amount"))
    assert 0 < sums["count"] < 338
    totals = dict(zip(header, [c.value for c in rows[-1]], strict=True))
    assert totals["项目名称"] == f"共{sums['count']}个项目"
    assert totals["签约金额(万元)"] == pytest.approx(float(sums["amount"]))
    assert len(rows) - 1 == sums["count"]
    assert {c.value for c in column(header, rows[:-1], "县(市、区)")} == {"袁州区"}
    name, fallback = file_names(response)
    assert name == f"项目清单-袁州区-2022年签约-签约阶段-{today()}.xlsx"
    assert fallback == f"projects-{today()}.xlsx"


def test_an_unfiltered_export_says_it_is_everything(client, manager):
    client.force_login(manager)
    workbook, response = download(client, PROJECTS, {"export": "xlsx"})
    assert workbook.active["A2"].value == "范围：全部（未筛选）"
    assert file_names(response)[0] == f"项目清单-{today()}.xlsx"


def test_yes_no_and_amount_filters_are_written_in_words(client, manager):
    client.force_login(manager)
    params = {"billion": "true", "amount_min": "50000", "export": "xlsx"}
    workbook, _ = download(client, PROJECTS, params)
    assert workbook.active["A2"].value == "金额下限(万元)：50000；亿元以上：是"
    header, rows = table(workbook.active)
    expected = Project.objects.filter(signed_amount__gte=50000).aggregate(n=Count("pk"))["n"]
    assert dict(zip(header, [c.value for c in rows[-1]], strict=True))["亿元以上"] == expected


def test_the_csv_has_the_same_columns_and_no_title(client, manager):
    client.force_login(manager)
    params = {"signed_year": 2022, "region": Region.objects.get(name="袁州区").pk}
    workbook, _ = download(client, PROJECTS, {**params, "export": "xlsx"})
    response = client.get(PROJECTS, {**params, "export": "csv"})
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    header, xlsx_rows = table(workbook.active)
    assert rows[0] == header
    assert rows[0][:3] == ["项目编号", "项目名称", "企业名称"] and "预警灯" in rows[0]
    assert len(rows) - 1 == len(xlsx_rows) - 1  # no totals row, no title in the CSV
    assert [r[0] for r in rows[1:]] == [row[0].value for row in xlsx_rows[:-1]]
    name, fallback = file_names(response)
    assert name == f"项目清单-袁州区-2022年签约-{today()}.csv"
    assert fallback == f"projects-{today()}.csv"


def test_text_cells_are_still_neutralised_in_the_titled_sheet(client, manager):
    region = factories.region(name="公式县")
    factories.project(region=region, name="=1+1", responsible_unit="@unit")
    client.force_login(manager)
    workbook, _ = download(client, PROJECTS, {"region": region.pk, "export": "xlsx"})
    header, rows = table(workbook.active)
    cells = dict(zip(header, [c.value for c in rows[0]], strict=True))
    assert cells["项目名称"] == "'=1+1" and cells["责任单位"] == "'@unit"
    assert workbook.active["A2"].value == "县(市、区)：公式县"


# --- the problem ledger ----------------------------------------------------------------------
def test_the_problem_ledger(client, manager):
    region, chain = factories.region(name="问题县"), factories.chain(name="问题链")
    project = factories.project(region=region, chain=chain)
    day = timezone.localdate()
    for n, status in enumerate([ProblemStatus.ASSIGNED] * 3 + [ProblemStatus.RAISED]):
        Problem.objects.create(
            project=project,
            chain=chain,
            region=region,
            status=status,
            title=f"问题{n}：一个很长很长的问题标题，需要列宽",
            raised_on=day - datetime.timedelta(days=20),
            assigned_unit="宜春市自然资源局" if status == ProblemStatus.ASSIGNED else "",
            deadline=day - datetime.timedelta(days=n) if status == ProblemStatus.ASSIGNED else None,
            escalated=n == 1,
            raised_by=manager,
        )
    client.force_login(manager)
    params = {"region": region.pk, "status": "assigned", "export": "xlsx"}
    workbook, response = download(client, PROBLEMS, params)
    header, rows = assert_fit_to_circulate(
        workbook.active,
        title="宜春市产业链问题清单",
        subtitle_has=["县(市、区)：问题县", "状态：已交办"],
    )
    expected = Problem.objects.filter(region=region, status=ProblemStatus.ASSIGNED).aggregate(
        count=Count("pk"),
        escalated=Count("pk", filter=Q(escalated=True)),
        overdue=Count("pk", filter=Q(deadline__lt=day)),
    )
    assert len(rows) - 1 == expected["count"] == 3
    totals = dict(zip(header, [c.value for c in rows[-1]], strict=True))
    assert totals["编号"] == "合计"
    assert totals["问题"] == "共3个问题，逾期{overdue}个，督办{escalated}个".format(**expected)
    assert totals["督办"] == expected["escalated"] == 1
    assert {c.number_format for c in column(header, rows[:-1], "办理时限")} == {"yyyy-mm-dd"}
    assert file_names(response) == (
        f"问题清单-问题县-已交办-{today()}.xlsx",
        f"problems-{today()}.xlsx",
    )


# --- inspections -----------------------------------------------------------------------------
def test_the_inspection_list(client, manager):
    region = factories.region(name="督查县")
    project = factories.project(region=region)
    day = timezone.localdate() - datetime.timedelta(days=400)
    quarter = (day.month - 1) // 3 + 1
    for n in range(2):
        inspection = Inspection.objects.create(
            year=day.year,
            quarter=quarter,
            region=region,
            project=project if n else None,
            inspected_on=day,
            title=f"第{n + 1}次督查",
            leader="市工信局局长",
        )
        for k, status in enumerate([RectificationStatus.OPEN, RectificationStatus.DONE][: n + 1]):
            RectificationItem.objects.create(
                inspection=inspection,
                description="整改",
                owner_unit="县工信局",
                deadline=day + datetime.timedelta(days=30 * (k + 1)),
                status=status,
                done_on=day + datetime.timedelta(days=5) if status != "open" else None,
            )
    client.force_login(manager)
    params = {"region": region.pk, "year": day.year, "export": "xlsx"}
    workbook, response = download(client, INSPECTIONS, params)
    header, rows = assert_fit_to_circulate(
        workbook.active,
        title="宜春市季度督查清单",
        subtitle_has=["县(市、区)：督查县", f"年度：{day.year}"],
    )
    items = RectificationItem.objects.filter(inspection__region=region)
    totals = dict(zip(header, [c.value for c in rows[-1]], strict=True))
    assert len(rows) - 1 == 2
    assert totals["督查名称"] == "共2次督查"
    assert totals["整改事项数"] == items.count() == 3
    assert totals["未整改"] == items.filter(status="open").count() == 2
    assert totals["已整改待核验"] == items.filter(status="done").count() == 1
    assert totals["逾期"] == items.filter(status="open", deadline__lt=timezone.localdate()).count()
    assert file_names(response) == (
        f"季督查清单-督查县-{day.year}年-{today()}.xlsx",
        f"inspections-{today()}.xlsx",
    )
    body = b"".join(client.get(INSPECTIONS, {**params, "export": "csv"}).streaming_content)
    assert next(csv.reader(io.StringIO(body.decode("utf-8-sig")))) == header


# --- the monthly report ----------------------------------------------------------------------
REPORT_SHEETS = {
    "县市区": "各县（市、区）",
    "产业链": "各产业链",
    "红黄灯项目": "红黄灯项目",
    "指标说明": "指标说明",
}


def test_the_published_monthly_report_is_four_titled_sheets(client, manager):
    publish_monthly_report(year=2022, month=12, by=manager)
    report = publish_monthly_report(year=2022, month=12, by=manager, reason="更正")
    client.force_login(manager)
    url = reverse("tracker:monthly_report_version", kwargs={"month": "2022-12", "version": 2})
    workbook, response = download(client, url, {"export": "xlsx"})
    assert workbook.sheetnames == list(REPORT_SHEETS)
    published = timezone.localtime(report.published_at).date().isoformat()
    for name, heading in REPORT_SHEETS.items():
        assert_fit_to_circulate(
            workbook[name],
            title=f"宜春市工业项目月通报（2022年12月）——{heading}",
            subtitle_has=["发文字号：宜工信通〔2022〕12号（第2版）；第2版", "统计截至2022-12-31"],
            date=published,
            date_label="发布日期",
        )
    header, rows = table(workbook["县市区"])
    city = dict(zip(header, rows[-1], strict=True))
    amount = Project.objects.filter(signed_on__year=2022).aggregate(a=Sum("signed_amount"))["a"]
    assert amount == Decimal("17961600")
    assert city["年累计签约金额(万元)"].value == 17961600
    assert city["年累计签约金额(万元)"].number_format == "#,##0.00"
    assert city["年累计签约项目数"].value == 338
    assert city["履约率"].number_format == "0.00%"
    regions = rows[:-1]
    assert sum(r[header.index("年累计签约项目数")].value for r in regions) <= 338
    assert file_names(response) == (
        "月通报-2022年12月-第2版.xlsx",
        "monthly-report-2022-12-v2.xlsx",
    )


def test_the_live_monthly_report_says_it_is_live(client, manager):
    client.force_login(manager)
    url = reverse("tracker:monthly_report", kwargs={"month": "2022-12"})
    workbook, response = download(client, url, {"export": "xlsx"})
    assert_fit_to_circulate(
        workbook["产业链"],
        title="宜春市工业项目月通报（2022年12月）——各产业链",
        subtitle_has=["实时数据（未发布）"],
    )
    assert file_names(response) == (
        f"月通报-2022年12月-实时-{today()}.xlsx",
        f"monthly-report-2022-12-live-{today()}.xlsx",
    )


# --- the annual assessment -------------------------------------------------------------------
def test_the_annual_assessment(client, manager):
    client.force_login(manager)
    url = reverse("tracker:assessment_year", args=[2022])
    workbook, response = download(client, url, {"export": "xlsx"})
    header, rows = assert_fit_to_circulate(
        workbook.active, title="宜春市工业发展年度考核（2022年）", subtitle_has=["统计截至"]
    )
    assert header[:2] == ["排名", "县(市、区)"]
    signed = next(h for h in header if h.endswith("(亿元)"))
    cells = {row[1].value: row[header.index(signed)] for row in rows}
    yuanzhou = Project.objects.filter(signed_on__year=2022, region__name="袁州区")
    amount = yuanzhou.aggregate(a=Sum("signed_amount"))["a"]
    assert cells["袁州区"].value == pytest.approx(float(amount / 10000))
    assert cells["袁州区"].number_format == "#,##0.0000"
    assert len(rows) == Region.objects.filter(ranked_in_assessment=True).count()
    assert settings.TRACKER["ISSUING_BODY"] == ISSUER
    assert file_names(response) == (
        f"年考核-2022年-{today()}.xlsx",
        f"assessment-2022-{today()}.xlsx",
    )
