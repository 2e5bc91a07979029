"""Exports: a list page's filtered set (projects, problems, inspections) to CSV and XLSX,
and the 年考核 table to XLSX. Each list's row definition first, then the shared writers.

The first ten project headers are the fixed government format and stay Chinese whatever the UI
language is; every file is written in Chinese. Every writer of a file (these, the monthly
report's XLSX) passes each cell through ``safe_text`` (tracker.spreadsheets), so a file can be
written whatever the database holds; numbers and dates are written as numbers and dates.

The CSV is for machines: the header row, then one row per record, UTF-8 with a BOM. The XLSX
is for people: the same columns as a titled, print-ready table (tracker.spreadsheets) that
says what it is, which filter made it (``describe_filters``), who issued it and when, with a
totals row of the database's sums for the exported set. Both are named after what is in them
(``export_name``): 项目清单-袁州区-2022年签约-2026-12-01.xlsx.
"""

import csv
import datetime
import io
import itertools
import tempfile

from django.db import models
from django.db.models import Count, Q, Sum
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils import timezone, translation

from . import columns as columns_map
from . import money
from .choices import (
    CapitalSource,
    Light,
    ProblemStatus,
    Quarter,
    RectificationStatus,
    Stage,
    Tier5020,
)
from .lights import annotate_lights
from .models import RectificationItem, User
from .querysets import q_item_overdue, q_problem_overdue
from .spreadsheets import (
    COUNT,
    DATE,
    MONEY,
    SCORE,
    TEXT,
    XLSX_TYPE,
    YI,
    Column,
    SafeTexts,
    TitledWorkbook,
    attachment,
    file_name,
    safe_text,  # noqa: F401 (re-exported: callers import it from here)
)

CHUNK_SIZE = 2000
YES, NO = "是", "否"
CITY = "宜春市"
# Headers of derived columns that other modules look for (the import reads these two).
STAGE_HEADER = "项目阶段"
COMMISSIONER_HEADER = "企业特派员"

# (header, values() key or None for a derived column, number format in the XLSX).
# The first ten are the fixed format; then amounts, stage details, dates, the light, people.
COLUMNS = [
    ("项目编号", "code", TEXT),
    ("项目名称", "name", TEXT),
    ("企业名称", "enterprise__name", TEXT),
    ("县(市、区)", "region__name", TEXT),
    ("产业链", "chain__name", TEXT),
    ("签约日期", "signed_on", DATE),
    ("签约金额(万元)", "signed_amount", MONEY),
    ("5020项目", None, TEXT),
    ("亿元以上", None, TEXT),
    (STAGE_HEADER, None, TEXT),
    ("签约金额(亿元)", None, YI),
    ("5020档次", None, TEXT),
    ("资金来源", None, TEXT),
    ("园区", "park__name", TEXT),
    ("年度计划投资(万元)", "annual_planned_investment", MONEY),
    ("累计完成投资(万元)", "completed_investment", MONEY),
    ("计划开工日期", "planned_start_on", DATE),
    ("实际开工日期", "actual_start_on", DATE),
    ("计划投产日期", "planned_production_on", DATE),
    ("实际投产日期", "actual_production_on", DATE),
    ("预警灯", None, TEXT),
    ("挂钩领导", "responsible_leader", TEXT),
    ("责任单位", "responsible_unit", TEXT),
    (COMMISSIONER_HEADER, None, TEXT),
    ("示例数据", None, TEXT),
]
HEADERS = [header for header, _, _ in COLUMNS]
# What one row is read from, as ``values_list`` reads it (one query, no model instances).
VALUE_KEYS = [
    "code",
    "name",
    "enterprise__name",
    "region__name",
    "chain__name",
    "signed_on",
    "signed_amount",
    "tier_5020_value",
    "is_billion_value",
    "stage",
    "capital_source",
    "park__name",
    "annual_planned_investment",
    "completed_investment",
    "planned_start_on",
    "actual_start_on",
    "planned_production_on",
    "actual_production_on",
    "light",
    "responsible_leader",
    "responsible_unit",
    "commissioner",
    "is_sample",
]


def zh_labels(choices):
    """value → label of ``choices`` in Chinese, the language of every file (and import)."""
    with translation.override("zh-hans"):
        return {value: str(label) for value, label in choices}


def _or_blank(value):
    return "" if value is None else value


def export_query(queryset):
    """The ``values_list`` query of ``VALUE_KEYS`` that ``export_rows`` reads, in the list's
    order, with today's light (the bench COPYs this very query to compare against)."""
    ordered = queryset.order_by(*queryset.model._meta.ordering)
    if "light" not in ordered.query.annotations:  # a light filter may have annotated them
        ordered = annotate_lights(ordered, today=timezone.localdate())
    return ordered.values_list(*VALUE_KEYS)


def export_rows(queryset):
    """Yield one list of cell values per project, header row first.

    Values are Python numbers/dates/strings; ``queryset`` must carry ``with_tiers()``. The
    warning light is today's (tracker.lights), as on the list page. The rows are read with
    ``values_list`` in chunks, the labels of choices and people looked up in maps made once:
    two queries whatever the number of rows (the rows, the commissioners' names).
    """
    yield list(HEADERS)
    stages, sources = zh_labels(Stage.choices), zh_labels(CapitalSource.choices)
    tiers = {**zh_labels(Tier5020.choices), Tier5020.NONE: ""}
    is_5020 = {tier: YES for tier in tiers} | {Tier5020.NONE: NO}
    lights = zh_labels(Light.choices)
    yes_no = {True: YES, False: NO}
    yi_file = money.yi_file
    rows = export_query(queryset)
    commissioners = User.display_by_id(queryset.values("commissioner"), with_unit=True)
    for (
        code,
        name,
        enterprise,
        region,
        chain,
        signed_on,
        amount,
        tier,
        billion,
        stage,
        source,
        park,
        planned,
        completed,
        planned_start,
        actual_start,
        planned_production,
        actual_production,
        light,
        leader,
        unit,
        commissioner,
        sample,
    ) in rows.iterator(chunk_size=CHUNK_SIZE):
        yield [
            code,
            name,
            enterprise,
            region,
            chain,
            signed_on,
            amount,
            is_5020[tier],
            yes_no[bool(billion)],
            stages.get(stage, stage),
            yi_file(amount),
            tiers[tier],
            sources.get(source, source),
            _or_blank(park),
            planned,
            completed,
            _or_blank(planned_start),
            _or_blank(actual_start),
            _or_blank(planned_production),
            _or_blank(actual_production),
            lights.get(light, ""),
            leader,
            unit,
            commissioners.get(commissioner, ""),
            yes_no[bool(sample)],
        ]


def project_totals(queryset):
    """The totals row of the project book: the database's sums for the exported set."""
    base = queryset.order_by()
    totals = base.totals()
    sums = base.aggregate(
        planned=Sum("annual_planned_investment"), completed=Sum("completed_investment")
    )
    signed = money.wan(totals["amount"])
    row = dict.fromkeys(HEADERS, "")
    row.update(
        {
            "项目编号": "合计",
            "项目名称": f"共{totals['count']}个项目",
            "签约金额(万元)": signed,
            "5020项目": totals["count_5020"],
            "亿元以上": totals["count_billion"],
            "签约金额(亿元)": money.yi_file(signed),
            "年度计划投资(万元)": money.wan(sums["planned"]),
            "累计完成投资(万元)": money.wan(sums["completed"]),
        }
    )
    return [row[h] for h in HEADERS]


PROBLEM_COLUMNS = [
    ("编号", "pk", COUNT),
    ("问题", "title", TEXT),
    ("产业链", "chain__name", TEXT),
    ("县(市、区)", "region__name", TEXT),
    ("项目编号", "project__code", TEXT),
    ("项目名称", "project__name", TEXT),
    ("状态", "status", TEXT),
    ("责任单位", "assigned_unit", TEXT),
    ("办理时限", "deadline", DATE),
    ("逾期起始日", "overdue_since", DATE),
    ("督办", "escalated", TEXT),
    ("提出日期", "raised_on", DATE),
    ("提出人", "raised_by", TEXT),
    ("办结日期", "resolved_on", DATE),
    ("销号日期", "closed_on", DATE),
    ("问题描述", "description", TEXT),
    ("办理结果", "resolution", TEXT),
]
PROBLEM_HEADERS = [header for header, _, _ in PROBLEM_COLUMNS]
PROBLEM_KEYS = [key for _, key, _ in PROBLEM_COLUMNS]


def _keyed_rows(rows, keys, labels):
    """Each ``values_list`` row of ``keys`` as a list, None as "", the columns in
    ``labels`` (key → {value: label}, or a function of the value) through their labels."""
    mapped = [(keys.index(key), label) for key, label in labels.items()]
    for row in rows.iterator(chunk_size=CHUNK_SIZE):
        out = ["" if value is None else value for value in row]
        for index, label in mapped:
            value = row[index]
            out[index] = label(value) if callable(label) else label.get(value, value)
        yield out


def problem_export_rows(queryset):
    yield list(PROBLEM_HEADERS)
    raisers = User.display_by_id(queryset.values("raised_by"), with_unit=True)
    rows = queryset.order_by("-raised_on", "-id").values_list(*PROBLEM_KEYS)
    yield from _keyed_rows(
        rows,
        PROBLEM_KEYS,
        {
            "status": zh_labels(ProblemStatus.choices),
            "escalated": {True: YES, False: NO},
            "raised_by": lambda pk: raisers.get(pk, ""),
        },
    )


def problem_totals(queryset):
    counts = queryset.order_by().aggregate(
        count=Count("pk"),
        overdue=Count("pk", filter=q_problem_overdue(timezone.localdate())),
        escalated=Count("pk", filter=Q(escalated=True)),
    )
    row = dict.fromkeys(PROBLEM_HEADERS, "")
    row.update(
        {
            "编号": "合计",
            "问题": "共{count}个问题，逾期{overdue}个，督办{escalated}个".format(**counts),
            "督办": counts["escalated"],
        }
    )
    return [row[h] for h in PROBLEM_HEADERS]


INSPECTION_COLUMNS = [
    ("年度", "year", TEXT),
    ("季度", "quarter", TEXT),
    ("县(市、区)", "region__name", TEXT),
    ("督查名称", "title", TEXT),
    ("项目编号", "project__code", TEXT),
    ("项目名称", "project__name", TEXT),
    ("督查日期", "inspected_on", DATE),
    ("带队领导", "leader", TEXT),
    ("整改事项数", "item_count", COUNT),
    ("未整改", "open_count", COUNT),
    ("已整改待核验", "done_count", COUNT),
    ("逾期", "overdue_count", COUNT),
    ("督查发现", "findings", TEXT),
]
INSPECTION_HEADERS = [header for header, _, _ in INSPECTION_COLUMNS]
INSPECTION_KEYS = [key for _, key, _ in INSPECTION_COLUMNS]
ITEM_COUNTS = ("整改事项数", "未整改", "已整改待核验", "逾期")


def inspection_export_rows(queryset):
    """One row per inspection with its item counts; ``queryset`` carries ``with_item_counts``."""
    yield list(INSPECTION_HEADERS)
    rows = queryset.values_list(*INSPECTION_KEYS)
    yield from _keyed_rows(rows, INSPECTION_KEYS, {"quarter": zh_labels(Quarter.choices)})


def inspection_totals(queryset):
    """The item counts of the exported inspections, counted from the items themselves."""
    items = RectificationItem.objects.filter(inspection__in=queryset.order_by().values("pk"))
    counts = items.aggregate(
        items=Count("pk"),
        open=Count("pk", filter=Q(status=RectificationStatus.OPEN)),
        done=Count("pk", filter=Q(status=RectificationStatus.DONE)),
        overdue=Count("pk", filter=q_item_overdue(timezone.localdate())),
    )
    row = dict.fromkeys(INSPECTION_HEADERS, "")
    row.update(
        {
            "年度": "合计",
            "督查名称": f"共{queryset.order_by().count()}次督查",
            **dict(zip(ITEM_COUNTS, counts.values(), strict=True)),
        }
    )
    return [row[h] for h in INSPECTION_HEADERS]


# --- what a file says about its filter ----------------------------------------------------
def _value_label(field, value):
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, bool):
        return YES if value else NO
    for choice, label in getattr(field, "choices", None) or ():
        if str(choice) == str(value):
            return str(label)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def chosen_filters(filterset):
    """(filter name, label, chosen value's label) of each filter a bound, valid ``filterset``
    narrows, in the form's order, in Chinese."""
    chosen = []
    with translation.override("zh-hans"):
        for name, field in filterset.form.fields.items():
            value = filterset.form.cleaned_data.get(name)
            if value is None or value == "" or value == [] or value == ():
                continue
            chosen.append((name, str(field.label), _value_label(field, value)))
    return chosen


def describe_filters(filterset):
    """The filter in words, for a file's subtitle: "县(市、区)：袁州区；签约年度：2022"."""
    chosen = chosen_filters(filterset)
    if not chosen:
        return "范围：全部（未筛选）"
    return "；".join(f"{label}：{value}" for _, label, value in chosen)


def export_name(base, filterset, parts, extension):
    """``项目清单-袁州区-2022年签约-2026-12-01.xlsx``: ``parts`` maps the filters short
    enough for a file name, in the name's order, to a format of their value ("{}年签约")."""
    chosen = {name: value for name, _, value in chosen_filters(filterset)}
    words = [form.format(chosen[name]) for name, form in parts.items() if name in chosen]
    return file_name([base, *words, timezone.localdate().isoformat()], extension)


# --- the writers ----------------------------------------------------------------------------
def csv_chunks(rows):
    """The CSV of ``rows`` (header row first, no title: for machines) as UTF-8 chunks of
    ``CHUNK_SIZE`` rows, the first starting with a BOM (Excel then reads the Chinese).

    Text is made safe (``safe_text``); a datetime is written in ISO form; a date or a number
    as ``str()`` gives it (2022-05-01, 600000.00), which csv.writer does itself.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    rows = iter(rows)
    moment = datetime.datetime
    while chunk := list(itertools.islice(rows, CHUNK_SIZE)):
        texts = SafeTexts()
        writer.writerows(
            [
                texts[value]
                if (kind := value.__class__) is str
                else (value.isoformat() if kind is moment else value)
                for value in row
            ]
            for row in chunk
        )
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # no rows at all: the BOM alone
        yield buffer.getvalue().encode("utf-8")


def stream_csv(rows, *, filename, fallback):
    """A streamed CSV download of ``rows`` (header row first, no title: for machines)."""
    response = StreamingHttpResponse(csv_chunks(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = attachment(filename, fallback)
    return response


def write_xlsx(file, *, title, subtitle, columns, rows, totals):
    """One titled sheet (tracker.spreadsheets) of ``rows`` (data rows only) into ``file``
    (a path or a binary file object), written row by row with bounded memory; dates get a
    date format, numbers stay numbers."""
    with TitledWorkbook(file) as workbook:
        workbook.add_table(
            title,
            title=title,
            subtitle=subtitle,
            columns=[Column(header, number_format) for header, _, number_format in columns],
            rows=rows,
            totals=totals,
            issued_on=timezone.localdate(),
        )


def xlsx_file(*, title, subtitle, columns, rows, totals, filename, fallback):
    """An XLSX download: one titled sheet (``write_xlsx``) in a spooled file."""
    buffer = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    write_xlsx(buffer, title=title, subtitle=subtitle, columns=columns, rows=rows, totals=totals)
    buffer.seek(0)
    response = FileResponse(buffer, content_type=XLSX_TYPE)
    response["Content-Disposition"] = attachment(filename, fallback)
    return response


# One entry per list: (what it is, the file's first word, the ASCII fallback name, the
# columns, the rows, the totals, the filters short enough for the file name).
LISTS = {
    "projects": (
        f"{CITY}工业项目清单",
        "项目清单",
        "projects",
        COLUMNS,
        export_rows,
        project_totals,
        {"region": "{}", "chain": "{}", "signed_year": "{}年签约", "stage": "{}阶段"},
    ),
    "problems": (
        f"{CITY}产业链问题清单",
        "问题清单",
        "problems",
        PROBLEM_COLUMNS,
        problem_export_rows,
        problem_totals,
        {"chain": "{}", "region": "{}", "status": "{}"},
    ),
    "inspections": (
        f"{CITY}季度督查清单",
        "季督查清单",
        "inspections",
        INSPECTION_COLUMNS,
        inspection_export_rows,
        inspection_totals,
        {"region": "{}", "year": "{}年", "quarter": "{}"},
    ),
}


def list_file_name(kind, filterset, extension):
    """(the file's name, its ASCII fallback) of list ``kind`` exported with ``filterset``."""
    _, base, ascii_base, _, _, _, parts = LISTS[kind]
    return (
        export_name(base, filterset, parts, extension),
        f"{ascii_base}-{timezone.localdate().isoformat()}.{extension}",
    )


def _picked(kind, chosen):
    """The indexes of the export columns of list ``kind`` that the table columns ``chosen``
    carry (tracker.columns.EXPORT_HEADERS), in their order; None for every column."""
    wanted = columns_map.export_headers(kind, chosen)
    if wanted is None:
        return None
    index = {header: i for i, (header, _, _) in enumerate(LISTS[kind][3])}
    return [index[header] for header in wanted]


def _pick(row, picked):
    return row if picked is None else [row[i] for i in picked]


def _list_rows(kind, queryset, picked):
    """The rows of list ``kind`` (header row first), cut to the ``picked`` columns."""
    rows = LISTS[kind][4](queryset)
    return rows if picked is None else (_pick(row, picked) for row in rows)


def list_csv(kind, filterset, columns=None):
    """The CSV download of list ``kind``: ``columns`` are the table columns chosen on the
    page (tracker.columns), None for every export column."""
    filename, fallback = list_file_name(kind, filterset, "csv")
    rows = _list_rows(kind, filterset.qs, _picked(kind, columns))
    return stream_csv(rows, filename=filename, fallback=fallback)


def write_list_csv(kind, filterset, file, columns=None):
    """The CSV of ``list_csv`` into ``file`` (a binary file object), for a background job."""
    for chunk in csv_chunks(_list_rows(kind, filterset.qs, _picked(kind, columns))):
        file.write(chunk)


def _xlsx_parts(kind, filterset, columns):
    title, _, _, all_columns, _, make_totals, _ = LISTS[kind]
    picked = _picked(kind, columns)
    queryset = filterset.qs
    return {
        "title": title,
        "subtitle": describe_filters(filterset),
        "columns": _pick(all_columns, picked),
        # the header row dropped
        "rows": itertools.islice(_list_rows(kind, queryset, picked), 1, None),
        "totals": _pick(make_totals(queryset), picked),
    }


def list_xlsx(kind, filterset, columns=None):
    filename, fallback = list_file_name(kind, filterset, "xlsx")
    return xlsx_file(**_xlsx_parts(kind, filterset, columns), filename=filename, fallback=fallback)


def write_list_xlsx(kind, filterset, file, columns=None):
    """The XLSX of ``list_xlsx`` into ``file`` (a path or a binary file object), for a
    background job."""
    write_xlsx(file, **_xlsx_parts(kind, filterset, columns))


def csv_response(filterset, columns=None):
    return list_csv("projects", filterset, columns)


def xlsx_response(filterset, columns=None):
    return list_xlsx("projects", filterset, columns)


def problem_csv_response(filterset, columns=None):
    return list_csv("problems", filterset, columns)


def problem_xlsx_response(filterset, columns=None):
    return list_xlsx("problems", filterset, columns)


def inspection_csv_response(filterset, columns=None):
    return list_csv("inspections", filterset, columns)


def inspection_xlsx_response(filterset, columns=None):
    return list_xlsx("inspections", filterset, columns)


# --- the annual assessment ------------------------------------------------------------------
INDICATOR_FORMATS = {"": COUNT, "亿元": YI, "%": SCORE}


def assessment_xlsx(result):
    """The 年考核 table as an XLSX download: rank, region, each indicator's value and points,
    the scores and awards; values as numbers (亿元 four places, rates in percent)."""
    today = timezone.localdate()
    with translation.override("zh-hans"):
        columns = [Column("排名", COUNT), Column("县(市、区)")]
        for ind in result.indicators:
            unit = f"({ind.unit})" if ind.unit else "(个)"
            columns += [Column(f"{ind.name}{unit}", INDICATOR_FORMATS[ind.unit])]
            columns += [Column(f"{ind.name}·得分", SCORE)]
        columns += [Column("计算得分", SCORE), Column("加减分", SCORE), Column("最终得分", SCORE)]
        columns += [Column("获奖")]
        period = str(result.period_text)
    rows = []
    for row in result.rows:
        line = [row.rank, row.region.name]
        for cell in row.cells:
            places = 4 if cell.indicator.unit == "亿元" else 2
            line += [
                None if cell.value is None else float(money.half_up(cell.value, places)),
                None if cell.points is None else float(money.half_up(cell.points, 2)),
            ]
        line += [float(row.computed), float(row.adjustment_total), float(row.final)]
        line += ["；".join(row.awards)]
        rows.append(line)
    buffer = io.BytesIO()
    with TitledWorkbook(buffer) as workbook:
        workbook.add_table(
            f"{result.year}年考核",
            title=f"{CITY}工业发展年度考核（{result.year}年）",
            subtitle=f"统计截至{result.as_of.isoformat()}；{period}",
            columns=columns,
            rows=rows,
            issued_on=today,
        )
    response = HttpResponse(buffer.getvalue(), content_type=XLSX_TYPE)
    response["Content-Disposition"] = attachment(
        file_name([f"年考核-{result.year}年", today.isoformat()], "xlsx"),
        f"assessment-{result.year}-{today.isoformat()}.xlsx",
    )
    return response
