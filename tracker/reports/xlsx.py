"""The monthly report as an XLSX file, written from its JSON only (see the package doc):
four titled, print-ready sheets, one per table of the report (tracker.spreadsheets)."""

import datetime
import io
from decimal import Decimal

from django.utils import timezone, translation

from ..money import yi_file
from ..periods import month_text
from ..spreadsheets import (
    COUNT,
    MONEY,
    PERCENT,
    POINTS,
    YI,
    Column,
    TitledWorkbook,
    file_name,
)

RATE_HEADERS_ZH = {
    "performance": "履约率",
    "start": "开工率",
    "production": "投产率",
    "funds": "资金到位率",
    "timeliness": "报送及时率",
    "problems": "问题办结率",
}
SHEETS = {
    "regions": ("县市区", "各县（市、区）"),
    "chains": ("产业链", "各产业链"),
    "warnings": ("红黄灯项目", "红黄灯项目"),
    "definitions": ("指标说明", "指标说明"),
}


def _num(text):
    return None if text is None else Decimal(text)


def _rate_cell(text):
    return None if text is None else Decimal(text) / 100


def _table_columns(*, with_rank):
    columns = [Column("排名", COUNT)] if with_rank else []
    columns += [
        Column("名称"),
        Column("本月签约项目数", COUNT),
        Column("本月签约金额(万元)", MONEY),
        Column("本月签约金额(亿元)", YI),
        Column("年累计签约项目数", COUNT),
        Column("较上月增减(个)", "+#,##0;-#,##0;0"),
        Column("年累计签约金额(万元)", MONEY),
        Column("年累计签约金额(亿元)", YI),
        Column("5020项目数", COUNT),
        Column("亿元以上项目数", COUNT),
    ]
    for key in RATE_HEADERS_ZH.values():
        columns += [Column(key, PERCENT), Column(f"{key}较上月(百分点)", POINTS)]
    return [*columns, Column("红灯项目数", COUNT), Column("黄灯项目数", COUNT)]


def _table_row(row, *, with_rank):
    values = [row.get("rank")] if with_rank else []
    values += [
        row["name"],
        row["month_count"],
        _num(row["month_amount"]),
        yi_file(row["month_amount"]),
        row["ytd_count"],
        row["ytd_count_change"],
        _num(row["ytd_amount"]),
        yi_file(row["ytd_amount"]),
        row["ytd_5020"],
        row["ytd_billion"],
    ]
    for rate in row["rates"]:
        values += [_rate_cell(rate["value"]), _num(rate["change"])]
    return [*values, row["red"], row["yellow"]]


WARNING_COLUMNS = [
    Column("灯色"),
    Column("项目编号"),
    Column("项目名称"),
    Column("县(市、区)"),
    Column("产业链"),
    Column("项目阶段"),
    Column("原因"),
    Column("示例数据"),
]


def _month(data):
    """The report's month as the file reads it (2022年12月): the pages' format, in Chinese."""
    with translation.override("zh-hans"):
        return month_text(data["year"], data["month"])


def report_title(data):
    return f"宜春市工业项目月通报（{_month(data)}）"


def report_xlsx(data, *, timestamp, version=None, reference=None):
    """The report as XLSX bytes, from its JSON only: one titled, print-ready sheet per table
    (tracker.spreadsheets). ``version``: the published version's number, None for the live
    report; ``reference``: its reference number (发文字号), written before the version.
    ``timestamp`` (aware, the publication or the download) is the file's date and its
    creation and modification time, so the same data give the same bytes."""
    title = report_title(data)
    if version is None:
        edition, date_label = "实时数据（未发布）", "导出日期"
    else:
        edition, date_label = f"第{version}版", "发布日期"
        if reference:
            edition = f"发文字号：{reference}；{edition}"
    issued_on = timezone.localtime(timestamp).date()
    subtitle = f"{edition}；统计截至{data['as_of']}"
    moment = timestamp.astimezone(datetime.UTC).replace(tzinfo=None, microsecond=0)
    buffer = io.BytesIO()
    # XlsxWriter stamps the zip entries with a fixed date and ``created`` into the file's
    # properties (created and modified): the same data and timestamp give the same bytes.
    with TitledWorkbook(buffer, title=title, created=moment) as workbook:

        def sheet(key, **table):
            name, heading = SHEETS[key]
            workbook.add_table(
                name,
                title=f"{title}——{heading}",
                subtitle=subtitle,
                issued_on=issued_on,
                date_label=date_label,
                issuer=data.get("head", {}).get("issuer"),
                **table,
            )

        sheet(
            "regions",
            columns=_table_columns(with_rank=True),
            rows=[_table_row(r, with_rank=True) for r in data["regions"]],
            totals=_table_row({**data["city"], "rank": None}, with_rank=True),
        )
        sheet(
            "chains",
            columns=_table_columns(with_rank=False),
            rows=[_table_row(r, with_rank=False) for r in data["chains"]],
            totals=_table_row(data["city"], with_rank=False),
        )
        hidden = data.get("warnings_hidden")
        sheet(
            "warnings",
            columns=WARNING_COLUMNS,
            rows=[
                [
                    w["light_label"],
                    w["code"],
                    w["name"],
                    w["region"],
                    w["chain"],
                    w["stage"],
                    "；".join(w["reasons"]),
                    "是" if w["is_sample"] else "否",
                ]
                for w in data["warnings"]
            ],
            notes=[f"另有{hidden}个项目不在您的查看范围内，未列出。"] if hidden else [],
        )
        sheet(
            "definitions",
            columns=[Column("指标"), Column("分子"), Column("分母")],
            rows=[
                *([r["label"], r["numerator"], r["denominator"]] for r in data["rates"]),
                ["排名", data["ranking"], ""],
                *([["红黄灯", data["lights_note"], ""]] if data.get("lights_note") else []),
                *([["统计期间", data["period"], ""]] if data.get("period") else []),
                ["统计截至", data["as_of"], ""],
                ["标题", title, ""],
            ],
        )
    return buffer.getvalue()


def report_file_name(data, *, version=None, today=None):
    """月通报-2022年12月-第2版.xlsx; the live report: 月通报-2022年12月-实时-<today>.xlsx."""
    month = _month(data)
    if version is None:
        parts = ["月通报", month, "实时", today.isoformat()]
        fallback = f"monthly-report-{data['year']}-{data['month']:02d}-live-{today.isoformat()}"
    else:
        parts = ["月通报", month, f"第{version}版"]
        fallback = f"monthly-report-{data['year']}-{data['month']:02d}-v{version}"
    return file_name(parts, "xlsx"), f"{fallback}.xlsx"
