"""What every file the tracker writes shares: the one cell function (``safe_text``), the
titled, print-ready sheet (``write_titled_table``), and the download's name.

A titled sheet, whoever writes it (the list exports, the 月通报, the 年考核)::

    row 1   the title                       宜春市工业项目清单
    row 2   the filter or period in words   县(市、区)：袁州区；签约年度：2022
    row 3   issuing unit and date           宜春市工业和信息化局　导出日期：2026-12-01
    row 4   the header row                  frozen below, repeated on every printed page
    row 5…  the table                       thin borders, number formats, fitted widths
    last    the totals row, if any          bold
    then    notes, if any                   no borders

Printed: A4 landscape, one page wide (as many pages long as it takes), the issuing unit in
the page header, "第 N 页，共 M 页" in the footer.

Column widths are computed from the content, as a spreadsheet shows it: CJK characters count
double, numbers with their format's separators and decimals, dates at least ``DATE_WIDTH``;
plus ``PADDING``, at most ``MAX_WIDTH`` (longer text wraps).

The rows are iterated twice (to measure, then to write): a list, or an object whose
``__iter__`` runs the query again, so a write-only sheet streams to disk with bounded memory.
"""

import copy
import datetime
import itertools
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import quote

from django.conf import settings
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.page import PageMargins

from .validators import replace_control_characters

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
XLSX_CELL_MAX = 32767  # characters an XLSX cell holds
TRUNCATED = "…"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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


# --- columns -----------------------------------------------------------------------------------
TEXT = None
DATE = "yyyy-mm-dd"
MONEY = "#,##0.00"  # 万元, two decimals with thousands separators (tracker.money)
YI = "#,##0.0000"  # 亿元 in a file: four decimals (tracker.money)
COUNT = "#,##0"
PERCENT = "0.00%"
POINTS = "+0.00;-0.00;0.00"
SCORE = "0.00"


@dataclass(frozen=True)
class Column:
    """A table column: its header and its cells' number format (``TEXT`` for text)."""

    header: str
    number_format: str | None = TEXT


HEADER_ROW = 4
FIRST_DATA_ROW = HEADER_ROW + 1
PADDING = 2
MIN_WIDTH = 6
MAX_WIDTH = 42
DATE_WIDTH = 11  # "2022-12-31" and a margin: never "###"
PAPER_A4 = 9  # the OOXML paper size code of A4
FOOTER_PAGES = "第 &P 页，共 &N 页"

THIN = Side(style="thin", color="808080")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
TITLE_FONT = Font(bold=True, size=16)
SUBTITLE_FONT = Font(size=11)
META_FONT = Font(size=10, color="595959")
BOLD = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="D9D9D9")
TOTAL_FILL = PatternFill("solid", fgColor="F2F2F2")
CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)
TOP = Alignment(vertical="top")
WRAP = Alignment(vertical="top", wrap_text=True)


def text_width(text):
    """How many digit widths ``text`` takes in a spreadsheet: CJK (wide, full-width) count
    two, everything else one; the widest line of a multi-line text."""
    return max(
        (
            sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
            for line in str(text).splitlines()
        ),
        default=0,
    )


def shown_width(value, number_format=TEXT):
    """The width of ``value`` as the sheet shows it with ``number_format``."""
    if value is None or value == "":
        return 0
    if isinstance(value, datetime.date):
        return DATE_WIDTH
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return text_width(value)
    pattern = (number_format or "0").split(";")[0]
    number = Decimal(value) * (100 if pattern.endswith("%") else 1)
    decimals = len(pattern.rstrip("%").partition(".")[2])
    grouping = "," if "," in pattern else ""
    shown = f"{number:{grouping}.{decimals}f}" + ("%" if pattern.endswith("%") else "")
    return len(shown) + (1 if pattern.startswith("+") and number > 0 else 0)


def column_width(needed):
    return max(MIN_WIDTH, min(MAX_WIDTH, needed + PADDING))


def _measure(columns, rows):
    widths = [text_width(column.header) for column in columns]
    for row in rows:
        for i, (value, column) in enumerate(zip(row, columns, strict=True)):
            widths[i] = max(widths[i], shown_width(value, column.number_format))
    return [
        max(column_width(w), DATE_WIDTH + PADDING if c.number_format == DATE else 0)
        for w, c in zip(widths, columns, strict=True)
    ]


class _Cells:
    """Styled cells for one sheet. openpyxl looks each style up in the workbook's lists on
    every assignment (slow: it hashes the style); a style is looked up once here and its
    indices copied into each new cell."""

    def __init__(self, sheet):
        self.sheet, self.styles = sheet, {}

    def __call__(self, value, *, number_format=TEXT, **style):
        cell = WriteOnlyCell(self.sheet, value=None if value == "" else safe_text(value))
        fmt = number_format if number_format and not isinstance(value, str) else None
        key = (fmt, *sorted((name, id(v)) for name, v in style.items()))
        if key not in self.styles:
            if fmt:
                cell.number_format = fmt
            for name, v in style.items():
                setattr(cell, name, v)
            self.styles[key] = copy.copy(cell._style)
        cell._style = copy.copy(self.styles[key])
        return cell


def _header_footer_text(text):
    return str(text).replace("&", "&&")


def issuing_line(issued_on, *, date_label="导出日期", issuer=None):
    """Row 3 of a titled sheet: the issuing unit (``issuer``: a published 通报's own, else
    the setting) and the date."""
    return f"{issuer or settings.TRACKER['ISSUING_BODY']}　　{date_label}：{issued_on.isoformat()}"


def write_titled_table(
    sheet,
    *,
    title,
    subtitle,
    columns,
    rows,
    issued_on,
    date_label="导出日期",
    totals=None,
    notes=(),
    issuer=None,
):
    """Write a titled, bordered, print-ready table on ``sheet`` (see the module doc).

    ``rows``: lists of values in ``columns`` order, iterated twice; ``totals``: one more
    row of values (its first cell the label, e.g. "合计"), written bold after the table;
    ``notes``: lines of text below it; ``issuer``: the issuing unit when it is not today's
    setting (a published 通报 keeps the one it was issued by). ``sheet`` may be write-only.
    """
    width = len(columns)
    last = get_column_letter(width)
    _cell = _Cells(sheet)
    widths = _measure(columns, itertools.chain([totals] if totals else [], rows))
    wrapped = [
        w >= MAX_WIDTH and c.number_format is TEXT for w, c in zip(widths, columns, strict=True)
    ]
    for index, value in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = value
    sheet.freeze_panes = f"A{FIRST_DATA_ROW}"
    # Before the first row: a write-only sheet writes its properties (fit to page) with it.
    _print_setup(sheet, title=title, issued_on=issued_on, date_label=date_label, issuer=issuer)
    heading = (
        (title, TITLE_FONT, 2, 30),
        (subtitle, SUBTITLE_FONT, 1, 16),
        (issuing_line(issued_on, date_label=date_label, issuer=issuer), META_FONT, 1, 16),
    )
    for row_number, (text, font, scale, line_height) in enumerate(heading, start=1):
        # A merged cell does not grow with its wrapped text: give it the lines it needs.
        lines = -(-text_width(text) * scale // max(1, sum(widths)))
        sheet.row_dimensions[row_number].height = line_height * max(1, lines)
        sheet.append([_cell(text, font=font, alignment=CENTRE)])
        if width > 1:
            sheet.merged_cells.add(f"A{row_number}:{last}{row_number}")
    sheet.append(
        [
            _cell(c.header, font=BOLD, fill=HEADER_FILL, alignment=CENTRE, border=BORDER)
            for c in columns
        ]
    )
    for row in rows:
        sheet.append(
            [
                _cell(
                    value,
                    number_format=column.number_format,
                    alignment=WRAP if wrap else TOP,
                    border=BORDER,
                )
                for value, column, wrap in zip(row, columns, wrapped, strict=True)
            ]
        )
    if totals:
        sheet.append(
            [
                _cell(
                    value,
                    number_format=column.number_format,
                    font=BOLD,
                    fill=TOTAL_FILL,
                    border=BORDER,
                )
                for value, column in zip(totals, columns, strict=True)
            ]
        )
    for note in notes:
        sheet.append([_cell(note)])


def _print_setup(sheet, *, title, issued_on, date_label, issuer=None):
    setup = sheet.page_setup
    setup.orientation = "landscape"
    setup.paperSize = PAPER_A4
    setup.fitToWidth = 1
    setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_options.horizontalCentered = True
    sheet.page_margins = PageMargins(
        left=0.4, right=0.4, top=0.7, bottom=0.7, header=0.3, footer=0.3
    )
    sheet.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    sheet.oddHeader.left.text = _header_footer_text(issuer or settings.TRACKER["ISSUING_BODY"])
    sheet.oddHeader.right.text = _header_footer_text(title)
    sheet.oddFooter.center.text = FOOTER_PAGES
    sheet.oddFooter.right.text = _header_footer_text(f"{date_label}：{issued_on.isoformat()}")


# --- the download's name -----------------------------------------------------------------------
UNSAFE = re.compile(r"[^\w.（）()-]+")
PART_MAX = 40


def file_name(parts, extension):
    """``项目清单-袁州区-2022年签约-2026-12-01.xlsx``: the parts joined by "-", each part's
    characters other than letters, digits (CJK included), ``.()（）-`` and ``_`` made ``_``."""
    cleaned = []
    for part in parts:
        text = UNSAFE.sub("_", replace_control_characters(str(part))).strip("._")
        if text:
            cleaned.append(text[:PART_MAX])
    return f"{'-'.join(cleaned)}.{extension}"


def attachment(filename, fallback):
    """A Content-Disposition for ``filename`` (UTF-8, RFC 5987 ``filename*``) with the ASCII
    ``fallback`` for clients that do not read ``filename*``."""
    ascii_name = re.sub(r"[^A-Za-z0-9._-]+", "_", fallback)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
