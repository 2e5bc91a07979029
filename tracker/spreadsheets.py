"""What every file the tracker writes shares: the one cell function (``safe_text``), the
titled, print-ready sheet (``TitledWorkbook.add_table``), and the download's name.

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

The rows are read once: measured while they are spooled to a temporary file (a list is kept
as it is), then written from it; the sheet goes to disk row by row (XlsxWriter's constant
memory mode: openpyxl's write-only mode took about twice as long for the same cells), so
memory stays bounded whatever the number of rows. The data rows are written as XlsxWriter
writes them, but a row at a time (``_RowWriter``); that leans on XlsxWriter's internals
(requirements.lock pins the version), and tests/test_xlsx_fast_rows.py fails if a new
version writes a row differently from what it does here.
"""

import datetime
import itertools
import math
import pickle
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import quote

import xlsxwriter
from django.conf import settings
from xlsxwriter.utility import (
    _preserve_whitespace,
    _utf16_len,
    _utf16_truncate,
    xl_col_to_name,
)

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
    # The common case, checked at C speed: no control character (none is printable), no
    # formula start, short enough.
    if (
        value.isprintable()
        and len(value) <= XLSX_CELL_MAX
        and not value.lstrip(" ").startswith(FORMULA_PREFIXES)
    ):
        return value
    text = replace_control_characters(value)
    if text.startswith(FORMULA_PREFIXES) or text.lstrip(" ").startswith(FORMULA_PREFIXES):
        text = "'" + text
    if len(text) > XLSX_CELL_MAX:
        text = text[: XLSX_CELL_MAX - len(TRUNCATED)] + TRUNCATED
    return text


def _looks_rich(text):
    """Whether XlsxWriter would take ``text`` for its own rich-text XML and write it unescaped
    (its rule: "<r>" first and "</r>" last); "<r>a & b</r>" then made the file unreadable."""
    return text.startswith("<r>") and text.endswith("</r>")


def write_text(sheet, row, column, text, cell_format=None):
    """``sheet.write_string`` of an already safe text, escaped like any other text even when it
    looks like XlsxWriter's rich text: such a text is written as three plain runs ("<", "r"
    and the rest; XlsxWriter asks for more than two), which read back as the one text."""
    if _looks_rich(text):
        runs = (text[:1], text[1:2], text[2:])
        if cell_format is None:
            return sheet.write_rich_string(row, column, *runs)
        return sheet.write_rich_string(row, column, *runs, cell_format)
    return sheet.write_string(row, column, text, cell_format)


class SafeTexts(dict):
    """``safe_text`` of each text looked up as ``texts[value]``: computed once per distinct
    value, the same region, label or name again being a dict hit. A writer clears it after
    each chunk of rows, so it holds one chunk's texts at most."""

    def __missing__(self, value):
        text = self[value] = safe_text(value)
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

SPOOL_CHUNK = 2000  # rows measured and spooled at a time

# XlsxWriter format properties, combined per cell kind.
_LINE = {"border": 1, "border_color": "#808080"}  # thin
BORDER = {"left": 1, "right": 1, "top": 1, "bottom": 1, **_LINE}
TITLE = {"bold": True, "font_size": 16}
SUBTITLE = {"font_size": 11}
META = {"font_size": 10, "font_color": "#595959"}
BOLD = {"bold": True}
HEADER_FILL = {"pattern": 1, "bg_color": "#D9D9D9"}
TOTAL_FILL = {"pattern": 1, "bg_color": "#F2F2F2"}
CENTRE = {"align": "center", "valign": "vcenter", "text_wrap": True}
TOP = {"valign": "top"}
WRAP = {"valign": "top", "text_wrap": True}


class _CharWidths(dict):
    """character → its width: 2 for CJK (East Asian wide or full-width), else 1; each
    character looked up in unicodedata once per process."""

    def __missing__(self, ch):
        width = self[ch] = 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        return width


_CHAR_WIDTHS = _CharWidths()


def text_width(text):
    """How many digit widths ``text`` takes in a spreadsheet: CJK (wide, full-width) count
    two, everything else one; the widest line of a multi-line text."""
    text = str(text)
    if text.isascii() and text.isprintable():  # one line of one-width characters
        return len(text)
    width = _CHAR_WIDTHS.__getitem__
    return max((sum(map(width, line)) for line in text.splitlines()), default=0)


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


class _Widths:
    """The column widths ``_measure`` gives, accumulated over chunks of rows without
    keeping them: per column the widest text (a text is measured only when it could be
    wider than the widest so far, and not at all once the column is at ``MAX_WIDTH``), the
    largest and smallest number (a format shows a number the wider the larger its
    magnitude), and whether it holds a date."""

    def __init__(self, columns):
        self.columns = columns
        self.needed = [text_width(column.header) for column in columns]
        self.high, self.low = [None] * len(columns), [None] * len(columns)
        self.full = MAX_WIDTH - PADDING

    def add(self, rows):
        for i, values in enumerate(zip(*rows, strict=True)):
            needed, high, low = self.needed[i], self.high[i], self.low[i]
            for value in set(values):
                kind = value.__class__
                if kind is str:
                    if needed < self.full and 2 * len(value) > needed:
                        needed = max(needed, text_width(value))
                elif kind is Decimal or kind is int or kind is float:
                    if high is None or value > high:
                        high = value
                    if low is None or value < low:
                        low = value
                elif value is not None:  # dates, booleans, anything else
                    needed = max(needed, shown_width(value, self.columns[i].number_format))
            self.needed[i], self.high[i], self.low[i] = needed, high, low

    def widths(self):
        widths = []
        for column, needed, high, low in zip(
            self.columns, self.needed, self.high, self.low, strict=True
        ):
            for extreme in {high, low} - {None}:
                needed = max(needed, shown_width(extreme, column.number_format))
            floor = DATE_WIDTH + PADDING if column.number_format == DATE else 0
            widths.append(max(column_width(needed), floor))
        return widths


# How _Spool keeps a column of a chunk: as it is, or (Decimals, dates, dates or "") as text and
# day numbers, which pickle writes and reads at C speed (a Decimal or a date costs a Python
# call each way: about two seconds for the 100,000-project book).
_AS_IS, _DECIMALS, _DATES, _DATES_OR_BLANK = range(4)


def _pack(chunk):
    """A chunk of rows as its columns, each with how it is kept (``_AS_IS`` …)."""
    columns = []
    date, text = datetime.date, str
    for values in zip(*chunk, strict=True):
        kinds = set(map(type, values))
        if kinds == {Decimal}:
            columns.append((_DECIMALS, list(map(str, values))))
        elif kinds == {date}:
            columns.append((_DATES, list(map(date.toordinal, values))))
        elif kinds == {date, text} and not any(v for v in values if v.__class__ is text):
            columns.append((_DATES_OR_BLANK, [v.toordinal() if v else 0 for v in values]))
        else:
            columns.append((_AS_IS, values))
    return columns


def _unpack(columns):
    """The rows (tuples) of a chunk ``_pack`` made, every value as it was."""
    date = datetime.date
    values = []
    for kind, kept in columns:
        if kind == _DECIMALS:
            kept = map(Decimal, kept)
        elif kind == _DATES:
            kept = map(date.fromordinal, kept)
        elif kind == _DATES_OR_BLANK:
            kept = [date.fromordinal(v) if v else "" for v in kept]
        values.append(kept)
    return zip(*values, strict=True)


class _Spool:
    """``rows`` read once: measured (``_Widths``) and, unless they are a list already,
    pickled chunk by chunk (``_pack``) to a temporary file, then read back to be written;
    so a query runs once and memory holds one chunk."""

    def __init__(self, rows, widths):
        self.rows, self.file = rows, None
        if isinstance(rows, (list, tuple)):
            widths.add(rows)
            return
        self.file = tempfile.TemporaryFile()
        rows = iter(rows)
        while chunk := list(itertools.islice(rows, SPOOL_CHUNK)):
            widths.add(chunk)
            pickle.dump(_pack(chunk), self.file, protocol=pickle.HIGHEST_PROTOCOL)
        self.file.seek(0)

    def __iter__(self):
        if self.file is None:
            yield from self.rows
            return
        with self.file:
            while True:
                try:
                    columns = pickle.load(self.file)
                except EOFError:
                    return
                yield from _unpack(columns)


def _header_footer_text(text):
    return str(text).replace("&", "&&")


def issuing_line(issued_on, *, date_label="导出日期", issuer=None):
    """Row 3 of a titled sheet: the issuing unit (``issuer``: a published 通报's own, else
    the setting) and the date."""
    return f"{issuer or settings.TRACKER['ISSUING_BODY']}　　{date_label}：{issued_on.isoformat()}"


class TitledWorkbook:
    """An XLSX file of titled sheets (``add_table``), written row by row to ``file`` (a
    path or a binary file object) by XlsxWriter in its constant-memory mode: each row goes
    to a temporary file once written, so memory does not grow with the rows. Every cell is
    written by its type (text as text, never a formula; numbers, dates, booleans as such).

    ``created`` (an aware or UTC naive datetime) is the file's creation and modification
    time; XlsxWriter stamps its zip entries with a fixed date, so the same content and
    ``created`` give the same bytes.
    """

    def __init__(self, file, *, title=None, created=None):
        self.book = xlsxwriter.Workbook(
            file,
            {
                "constant_memory": True,
                "strings_to_numbers": False,
                "strings_to_formulas": False,
                "strings_to_urls": False,
            },
        )
        properties = {"title": title} if title else {}
        if created is not None:
            properties["created"] = created
        self.book.set_properties(properties)
        self.formats = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.book.close()

    def _format(self, **properties):
        key = tuple(sorted(properties.items()))
        if key not in self.formats:
            self.formats[key] = self.book.add_format(properties)
        return self.formats[key]

    def add_table(
        self,
        name,
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
        """A sheet ``name`` holding a titled, bordered, print-ready table (module doc).

        ``rows``: lists of values in ``columns`` order, iterated once; ``totals``: one more
        row of values (its first cell the label, e.g. "合计"), written bold after the
        table; ``notes``: lines of text below it; ``issuer``: the issuing unit when it is
        not today's setting (a published 通报 keeps the one it was issued by).
        """
        sheet = self.book.add_worksheet(name[:31])
        width = len(columns)
        measure = _Widths(columns)
        if totals:
            measure.add([totals])
        rows = _Spool(rows, measure)
        widths = measure.widths()
        for index, value in enumerate(widths):
            # A format object of its own (empty: no style is written) per column keeps
            # XlsxWriter from joining equal neighbours into one <col min max> range, which
            # some readers (openpyxl) see as the first column's width only.
            sheet.set_column(index, index, value, self.book.add_format())
        sheet.freeze_panes(HEADER_ROW, 0)
        _print_setup(sheet, title=title, issued_on=issued_on, date_label=date_label, issuer=issuer)
        heading = (
            (title, TITLE, 2, 30),
            (subtitle, SUBTITLE, 1, 16),
            (issuing_line(issued_on, date_label=date_label, issuer=issuer), META, 1, 16),
        )
        for row_number, (text, style, scale, line_height) in enumerate(heading):
            # A merged cell does not grow with its wrapped text: give it the lines it needs.
            lines = -(-text_width(text) * scale // max(1, sum(widths)))
            sheet.set_row(row_number, line_height * max(1, lines))
            cell_format = self._format(**style, **CENTRE)
            if width > 1:
                sheet.merge_range(row_number, 0, row_number, width - 1, "", cell_format)
            write_text(sheet, row_number, 0, safe_text(text), cell_format)
        header = self._format(**BOLD, **HEADER_FILL, **CENTRE, **BORDER)
        for index, column in enumerate(columns):
            write_text(sheet, HEADER_ROW - 1, index, safe_text(column.header), header)
        cells = _RowWriter(self, sheet, columns, widths)
        row_number = cells.write(rows, HEADER_ROW)
        if totals:
            cells.totals = True
            row_number = cells.write([totals], row_number)
        for note in notes:
            write_text(sheet, row_number, 0, safe_text(note))
            row_number += 1


class _RowWriter:
    """Writes rows of values on a sheet with each column's two formats, looked up once:
    one for text (no number format, as a spreadsheet shows text) and one for the rest.

    The data rows are written as XlsxWriter itself writes a row in constant-memory mode
    (``Worksheet._write_single_row`` and ``_write_cell``: the same ``<row>`` and ``<c>``
    elements, escapes and number forms, byte for byte: tests/test_xlsx_fast_rows.py), but
    as one string per row, each cell's XML after its row reference computed once per
    distinct value and column: XlsxWriter's per-cell calls took about 15 µs a cell, 40 s
    for the 2.5 million cells of 100,000 projects. A row holding anything else than text,
    None, a date or a finite number goes through XlsxWriter's own calls.
    """

    direct = True  # False: every row through XlsxWriter's calls (the tests compare both)

    def __init__(self, workbook, sheet, columns, widths):
        self.workbook, self.sheet, self.columns, self.widths = workbook, sheet, columns, widths
        self.totals = False

    def _formats(self):
        text, other = [], []
        for column, width in zip(self.columns, self.widths, strict=True):
            if self.totals:
                style = {**BOLD, **TOTAL_FILL, **BORDER}
            elif width >= MAX_WIDTH and column.number_format is TEXT:
                style = {**WRAP, **BORDER}
            else:
                style = {**TOP, **BORDER}
            text.append(self.workbook._format(**style))
            fmt = {"num_format": column.number_format} if column.number_format else {}
            other.append(self.workbook._format(**style, **fmt))
        return text, other

    def write(self, rows, row_number):
        """Write ``rows`` from ``row_number`` (0-based) on; the next free row number."""
        text, other = self._formats()
        if self.direct and self._can_write_directly(row_number):
            return self._write_directly(rows, row_number, text, other)
        return self._write_cells(rows, row_number, text, other)

    def _write_cells(self, rows, row_number, text, other):
        sheet = self.sheet
        number, blank = sheet.write_number, sheet.write_blank
        moment, boolean = sheet.write_datetime, sheet.write_boolean
        texts = SafeTexts()
        for row in rows:
            if len(texts) > SPOOL_CHUNK * 10:
                texts.clear()
            for index, value in enumerate(row):
                kind = value.__class__
                if kind is str:
                    if value:
                        write_text(sheet, row_number, index, texts[value], text[index])
                    else:
                        blank(row_number, index, None, text[index])
                elif value is None:
                    blank(row_number, index, None, other[index])
                elif kind is datetime.date or kind is datetime.datetime:
                    moment(row_number, index, value, other[index])
                elif kind is bool:
                    boolean(row_number, index, value, other[index])
                else:
                    number(row_number, index, value, other[index])
            row_number += 1
        return row_number

    def _can_write_directly(self, row_number):
        """Whether rows from ``row_number`` on are plain rows XlsxWriter writes as
        ``<row r="N">`` (constant memory, default height, no row or column extras)."""
        sheet = self.sheet
        return (
            sheet.constant_memory
            and sheet.excel_version == 2007
            and sheet.default_row_height == sheet.original_row_height
            and row_number >= sheet.previous_row
            and not sheet.comments
            and all(row < row_number for row in sheet.row_info)
        )

    def _write_directly(self, rows, row_number, text, other):
        sheet = self.sheet
        width = len(self.columns)
        # Write out the rows before (the header row) as XlsxWriter does on a new row.
        sheet._write_single_row(row_number)
        cells = _CellTails(sheet, text, other)
        first_head = cells.heads[0]
        write = sheet.fh.write
        first, last = row_number, None
        for row in rows:
            if row_number % SPOOL_CHUNK == 0:
                cells.trim()
            tails = cells.row(row) if len(row) == width else None
            if tails is None:  # something unusual: XlsxWriter's own calls for this row
                self._write_cells([row], row_number, text, other)
                sheet._write_single_row(row_number + 1)
            else:
                number = str(row_number + 1)
                # Each tail ends with the next cell's "<c r=\"B": the row number between.
                write(f'<row r="{number}">{first_head}{number}{number.join(tails)}</row>')
            last = row_number
            row_number += 1
        if last is not None and last >= first:
            sheet._check_dimensions(last, width - 1)
            sheet.previous_row = last
        return row_number


# Text that XlsxWriter writes as it is between <t> and </t>: printable (no control
# character, no non-character), no XML special, no _xHHHH_ look-alike, no leading or trailing
# space, short enough not to be cut (tracker.spreadsheets._CellTails._text).
_PLAIN_CHECK = re.compile(r"[&<>]|_x[0-9a-fA-F]{4}_|^\s|\s$")
_PLAIN_MAX = 32767 // 2


class _CellTails:
    """The XML of a cell after its row number (``" s="3" t="inlineStr">…</c>``) followed
    by the next cell's start (``<c r="B``), per column and value, as XlsxWriter's
    ``_write_cell`` writes it in constant-memory mode (module doc of ``_RowWriter``). Each
    format's style index is taken when first used, as XlsxWriter takes it, so that the
    styles are numbered alike."""

    def __init__(self, sheet, text, other):
        self.sheet, self.text, self.other = sheet, text, other
        width = len(text)
        self.heads = [f'<c r="{xl_col_to_name(index)}' for index in range(width)]
        self.nexts = [*self.heads[1:], ""]
        self.known = [{} for _ in range(width)]  # per column: value → tail (text, dates, None)
        self.number_starts = [None] * width

    def trim(self):
        if sum(map(len, self.known)) > SPOOL_CHUNK * 10:
            for known in self.known:
                known.clear()

    def row(self, row):
        """The tails of ``row``'s cells; None if one of them is not a plain value."""
        tails = []
        add = tails.append
        known, starts, nexts = self.known, self.number_starts, self.nexts
        text, date, decimal = str, datetime.date, Decimal
        for index, value in enumerate(row):
            kind = value.__class__
            if kind is text or value is None or kind is date:
                tail = known[index].get(value)
                if tail is None:
                    tail = known[index][value] = self._tail(index, value) + nexts[index]
                add(tail)
            elif kind is decimal or kind is int or kind is float:
                if not (value.is_finite() if kind is decimal else math.isfinite(value)):
                    return None
                start = starts[index]
                if start is None:
                    start = starts[index] = f'" s="{self.other[index]._get_xf_index()}"><v>'
                add(f"{start}{value:.16G}</v></c>{nexts[index]}")
            elif kind is datetime.datetime:
                add(self._tail(index, value) + nexts[index])
            else:
                return None
        return tails

    def _tail(self, index, value):
        if value is None:
            return f'" s="{self.other[index]._get_xf_index()}"/>'
        if value.__class__ is not str:  # a date or datetime
            number = self.sheet._convert_date_time(value)
            return f'" s="{self.other[index]._get_xf_index()}"><v>{number:.16G}</v></c>'
        xf = self.text[index]._get_xf_index()
        if not value:
            return f'" s="{xf}"/>'
        return f'" s="{xf}" t="inlineStr">{self._text(safe_text(value))}</c>'

    def _text(self, string):
        """``<is>…</is>`` of a text, as XlsxWriter's ``_write_string`` and ``_write_cell``
        make it in constant-memory mode (but for what looks like its rich text)."""
        if len(string) <= _PLAIN_MAX and string.isprintable() and not _PLAIN_CHECK.search(string):
            return f"<is><t>{string}</t></is>"
        sheet = self.sheet
        if len(string) > sheet.xls_strmax // 2 and _utf16_len(string) > sheet.xls_strmax:
            string = _utf16_truncate(string, sheet.xls_strmax)
        string = sheet._escape_control_characters(string)
        # XlsxWriter would write a text "<r>…</r>" unescaped, as rich text: "<r>a & b</r>"
        # made the file unreadable. It is text here like any other.
        preserve = ' xml:space="preserve"' if _preserve_whitespace(string) else ""
        return f"<is><t{preserve}>{sheet._escape_data(string)}</t></is>"


def _print_setup(sheet, *, title, issued_on, date_label, issuer=None):
    sheet.set_landscape()
    sheet.set_paper(PAPER_A4)
    sheet.fit_to_pages(1, 0)
    # XlsxWriter leaves out fitToWidth="1", the format's default; write it all the same,
    # for readers that do not apply the default (openpyxl reads None).
    sheet.fit_width = "1"
    sheet.center_horizontally()
    sheet.set_margins(left=0.4, right=0.4, top=0.7, bottom=0.7)
    sheet.repeat_rows(HEADER_ROW - 1)
    body = _header_footer_text(issuer or settings.TRACKER["ISSUING_BODY"])
    sheet.set_header(f"&L{body}&R{_header_footer_text(title)}", {"margin": 0.3})
    dated = _header_footer_text(f"{date_label}：{issued_on.isoformat()}")
    sheet.set_footer(f"&C{FOOTER_PAGES}&R{dated}", {"margin": 0.3})


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
