"""The monthly report as an XLSX file, written from its JSON only (see the package doc)."""

import datetime
import io
import re
import zipfile
from decimal import Decimal

from ..exports import safe_text
from ..money import yi_file

RATE_HEADERS_ZH = {
    "performance": "履约率",
    "start": "开工率",
    "production": "投产率",
    "funds": "资金到位率",
    "timeliness": "报送及时率",
    "problems": "问题办结率",
}
PERCENT = "0.00%"
POINTS = "+0.00;-0.00;0.00"
MONEY_FORMAT = "#,##0.00"  # 万元
YI_FORMAT = "#,##0.0000"  # 亿元 in a file (tracker.money)


def _num(text):
    return None if text is None else Decimal(text)


def _rate_cell(text):
    return None if text is None else Decimal(text) / 100


def _table_rows(rows, *, with_rank):
    header = (["排名"] if with_rank else []) + [
        "名称",
        "本月签约项目数",
        "本月签约金额(万元)",
        "本月签约金额(亿元)",
        "年累计签约项目数",
        "较上月增减(个)",
        "年累计签约金额(万元)",
        "年累计签约金额(亿元)",
        "5020项目数",
        "亿元以上项目数",
    ]
    for key in RATE_HEADERS_ZH.values():
        header += [key, f"{key}较上月(百分点)"]
    header += ["红灯项目数", "黄灯项目数"]
    yield header, None
    for row in rows:
        values = ([row.get("rank")] if with_rank else []) + [
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
        formats = [None] * len(values)
        for i, fmt in ((3, MONEY_FORMAT), (4, YI_FORMAT), (7, MONEY_FORMAT), (8, YI_FORMAT)):
            formats[i + (1 if with_rank else 0) - 1] = fmt
        for rate in row["rates"]:
            values += [_rate_cell(rate["value"]), _num(rate["change"])]
            formats += [PERCENT, POINTS]
        values += [row["red"], row["yellow"]]
        formats += [None, None]
        yield values, formats


def report_xlsx(data, *, timestamp):
    """The report as XLSX bytes, from its JSON only; ``timestamp`` (aware) is written as the
    file's creation and modification time, so the same data give the same bytes."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    title = f"宜春市工业项目月通报 {data['year']}年{data['month']}月"
    workbook = Workbook()
    bold = Font(bold=True)

    def write(sheet, rows):
        for values, formats in rows:
            sheet.append([safe_text(value) for value in values])
            if formats is None:
                for cell in sheet[sheet.max_row]:
                    cell.font = bold
                continue
            for cell, fmt in zip(sheet[sheet.max_row], formats, strict=False):
                if fmt:
                    cell.number_format = fmt
        sheet.freeze_panes = "A2"

    regions = workbook.active
    regions.title = "县市区"
    write(regions, _table_rows([*data["regions"], {**data["city"], "rank": None}], with_rank=True))
    chains = workbook.create_sheet("产业链")
    write(chains, _table_rows([*data["chains"], data["city"]], with_rank=False))
    warnings = workbook.create_sheet("红黄灯项目")
    write(
        warnings,
        [
            (
                [
                    "灯色",
                    "项目编号",
                    "项目名称",
                    "县(市、区)",
                    "产业链",
                    "项目阶段",
                    "原因",
                    "示例数据",
                ],
                None,
            ),
            *(
                (
                    [
                        w["light_label"],
                        w["code"],
                        w["name"],
                        w["region"],
                        w["chain"],
                        w["stage"],
                        "；".join(w["reasons"]),
                        "是" if w["is_sample"] else "否",
                    ],
                    [],
                )
                for w in data["warnings"]
            ),
            *(
                [([f"另有{data['warnings_hidden']}个项目不在您的查看范围内，未列出。"], [])]
                if data.get("warnings_hidden")
                else []
            ),
        ],
    )
    definitions = workbook.create_sheet("指标说明")
    write(
        definitions,
        [
            (["指标", "分子", "分母"], None),
            *(([r["label"], r["numerator"], r["denominator"]], []) for r in data["rates"]),
            (["排名", data["ranking"], ""], []),
            *([(["红黄灯", data["lights_note"], ""], [])] if data.get("lights_note") else []),
            *([(["统计期间", data["period"], ""], [])] if data.get("period") else []),
            (["统计截至", data["as_of"], ""], []),
            (["标题", title, ""], []),
        ],
    )
    moment = timestamp.astimezone(datetime.UTC).replace(tzinfo=None, microsecond=0)
    workbook.properties.created = moment
    workbook.properties.title = title
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _fix_zip_times(buffer.getvalue(), moment)


def _fix_zip_times(content, moment):
    """openpyxl stamps "now" into docProps/core.xml and every zip entry: pin both."""
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>" + stamp.encode() + rb"\g<2>",
                    body,
                )
            entry = zipfile.ZipInfo(info.filename, date_time=moment.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(entry, body)
    return out.getvalue()
