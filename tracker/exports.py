"""Export of a list page's filtered set (projects, problems) to CSV and XLSX, streamed so
memory stays bounded: each list's row definition, then the shared writers.

The first ten project headers are the fixed government format and stay Chinese whatever the UI
language is. Every writer of a file (these, the monthly report's and the assessment's XLSX)
passes each cell through ``safe_text``, so a file can be written whatever the database holds;
numbers and dates are written as numbers and dates.
"""

import csv
import tempfile

from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone, translation
from django.utils.http import content_disposition_header

from .choices import CapitalSource, ProblemStatus, Stage, Tier5020
from .models import User
from .money import yi_file
from .validators import replace_control_characters

CHUNK_SIZE = 2000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
XLSX_CELL_MAX = 32767  # characters an XLSX cell holds
TRUNCATED = "…"
YES, NO = "是", "否"

# (header, values() key or None for a derived column). The first ten are the fixed format.
COLUMNS = [
    ("项目编号", "code"),
    ("项目名称", "name"),
    ("企业名称", "enterprise__name"),
    ("县(市、区)", "region__name"),
    ("产业链", "chain__name"),
    ("签约日期", "signed_on"),
    ("签约金额(万元)", "signed_amount"),
    ("5020项目", None),
    ("亿元以上", None),
    ("项目阶段", None),
    ("5020档次", None),
    ("签约金额(亿元)", None),
    ("园区", "park__name"),
    ("资金来源", None),
    ("计划开工日期", "planned_start_on"),
    ("计划投产日期", "planned_production_on"),
    ("实际开工日期", "actual_start_on"),
    ("实际投产日期", "actual_production_on"),
    ("年度计划投资(万元)", "annual_planned_investment"),
    ("累计完成投资(万元)", "completed_investment"),
    ("挂钩领导", "responsible_leader"),
    ("责任单位", "responsible_unit"),
    ("企业特派员", None),
    ("示例数据", None),
]
HEADERS = [header for header, _ in COLUMNS]
VALUE_KEYS = [
    *(key for _, key in COLUMNS if key),
    "stage",
    "capital_source",
    "tier_5020_value",
    "is_billion_value",
    "is_sample",
    "commissioner",
]


def safe_text(value):
    """A cell any file writer can store and no spreadsheet runs; numbers and dates unchanged.

    Text: control characters (which openpyxl refuses, XML 1.0 having no place for them)
    become spaces; a leading apostrophe where a spreadsheet would read a formula (``=``,
    ``+``, ``-``, ``@``, tab, CR first, also after leading spaces: CSV injection); at most
    ``XLSX_CELL_MAX`` characters, the last one ``…`` when cut.
    """
    if not isinstance(value, str):
        return value
    text = replace_control_characters(value)
    if text.startswith(FORMULA_PREFIXES) or text.lstrip(" ").startswith(FORMULA_PREFIXES):
        text = "'" + text
    if len(text) > XLSX_CELL_MAX:
        text = text[: XLSX_CELL_MAX - len(TRUNCATED)] + TRUNCATED
    return text


def export_rows(queryset):
    """Yield one list of cell values per project, header row first.

    Values are Python numbers/dates/strings; ``queryset`` must carry ``with_tiers()``.
    """
    yield list(HEADERS)
    with translation.override("zh-hans"):
        stages = {value: str(label) for value, label in Stage.choices}
        sources = {value: str(label) for value, label in CapitalSource.choices}
        tiers = {value: str(label) for value, label in Tier5020.choices}
    commissioners = User.display_by_id(queryset.values("commissioner"), with_unit=True)
    rows = queryset.order_by(*queryset.model._meta.ordering).values(*VALUE_KEYS)
    for row in rows.iterator(chunk_size=CHUNK_SIZE):
        tier = row["tier_5020_value"]
        derived = {
            "5020项目": YES if tier != Tier5020.NONE else NO,
            "亿元以上": YES if row["is_billion_value"] else NO,
            "项目阶段": stages.get(row["stage"], row["stage"]),
            "5020档次": tiers[tier] if tier != Tier5020.NONE else "",
            "签约金额(亿元)": yi_file(row["signed_amount"]),
            "资金来源": sources.get(row["capital_source"], row["capital_source"]),
            "示例数据": YES if row["is_sample"] else NO,
            "企业特派员": commissioners.get(row["commissioner"], ""),
        }
        out = []
        for header, key in COLUMNS:
            value = row[key] if key else derived[header]
            out.append("" if value is None else value)
        yield out


PROBLEM_HEADERS = [
    "编号",
    "问题",
    "产业链",
    "县(市、区)",
    "项目编号",
    "项目名称",
    "状态",
    "责任单位",
    "办理时限",
    "逾期起始日",
    "督办",
    "提出日期",
    "提出人",
    "办结日期",
    "销号日期",
    "问题描述",
    "办理结果",
]
PROBLEM_KEYS = [
    "pk",
    "title",
    "chain__name",
    "region__name",
    "project__code",
    "project__name",
    "status",
    "assigned_unit",
    "deadline",
    "overdue_since",
    "escalated",
    "raised_on",
    "raised_by",
    "resolved_on",
    "closed_on",
    "description",
    "resolution",
]


def problem_export_rows(queryset):
    yield list(PROBLEM_HEADERS)
    with translation.override("zh-hans"):
        statuses = {value: str(label) for value, label in ProblemStatus.choices}
    raisers = User.display_by_id(queryset.values("raised_by"), with_unit=True)
    rows = queryset.order_by("-raised_on", "-id").values_list(*PROBLEM_KEYS)
    for row in rows.iterator(chunk_size=CHUNK_SIZE):
        values = dict(zip(PROBLEM_KEYS, row, strict=True))
        values["status"] = statuses.get(values["status"], values["status"])
        values["escalated"] = YES if values["escalated"] else NO
        values["raised_by"] = raisers.get(values["raised_by"], "")
        yield ["" if values[k] is None else values[k] for k in PROBLEM_KEYS]


def _filename(name, extension):
    return f"{name}-{timezone.localdate().isoformat()}.{extension}"


class _Echo:
    """A write-only file that hands back what it is given, for csv.writer."""

    def write(self, value):
        return value


def _csv_cell(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return safe_text(value)


def _csv_stream(rows):
    writer = csv.writer(_Echo())
    yield "\ufeff"  # BOM: Excel then reads the file as UTF-8 and shows the Chinese
    for row in rows:
        yield writer.writerow([_csv_cell(v) for v in row])


def stream_csv(rows, *, name):
    """A streamed CSV download of ``rows`` (header row first), named ``name-<date>.csv``."""
    response = StreamingHttpResponse(
        (chunk.encode("utf-8") for chunk in _csv_stream(rows)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=_filename(name, "csv")
    )
    return response


def xlsx_file(rows, *, name):
    """An XLSX download of ``rows`` (header row first), one sheet called ``name``.

    A write-only workbook (rows go to disk as they are added) in a spooled file, so memory
    stays bounded; dates get a date format, numbers stay numbers.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(name)
    for index, row in enumerate(rows):
        if index == 0:
            sheet.append([safe_text(value) for value in row])
            continue
        cells = []
        for value in row:
            if hasattr(value, "isoformat"):
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = "yyyy-mm-dd"
                cells.append(cell)
            else:
                cells.append(None if value == "" else safe_text(value))
        sheet.append(cells)
    buffer = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    workbook.save(buffer)
    buffer.seek(0)
    return FileResponse(
        buffer,
        as_attachment=True,
        filename=_filename(name, "xlsx"),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


def csv_response(queryset):
    return stream_csv(export_rows(queryset), name="项目清单")


def xlsx_response(queryset):
    return xlsx_file(export_rows(queryset), name="项目清单")


def problem_csv_response(queryset):
    return stream_csv(problem_export_rows(queryset), name="问题清单")


def problem_xlsx_response(queryset):
    return xlsx_file(problem_export_rows(queryset), name="问题清单")
