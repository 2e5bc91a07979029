"""Reading an uploaded spreadsheet (XLSX or CSV) into rows of cell values, or a FileError.

Whatever arrives is checked before a row is read: the size (``IMPORT_MAX_BYTES``), the kind
(an XLSX is a zip that openpyxl opens; a CSV is text in UTF-8, with or without a BOM, or in
GB18030, as Excel saves it on Chinese Windows), the number of rows (``IMPORT_MAX_ROWS``), and
that no cell holds a formula (a formula's value is whatever Excel last computed, which the
file does not have to contain: we take values only).

The header row is the first row, among the first few, that holds the importer's key header
(项目编号): the exports put a title, a subtitle and an issuing line above it, and a file
made from them is read as it is. Rows after the header that are entirely empty are skipped;
so is the exports' totals row (its first cell "合计").
"""

import csv
import datetime
import io
import re
import zipfile
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.translation import gettext_lazy as _

HEADER_SEARCH_ROWS = 10
DAMAGED = _("The file could not be read as an Excel workbook (.xlsx); it may be damaged.")
TOTALS_LABEL = "合计"


class FileError(Exception):
    """The file cannot be read as a table; ``message`` says why, in the user's language."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


@dataclass
class Row:
    number: int  # the row number a spreadsheet program shows (1-based)
    values: dict  # header → cell value (str, int, float, Decimal, date, datetime or None)


@dataclass
class Table:
    headers: list  # as they appear, stripped
    header_row: int
    rows: list = field(default_factory=list)


def limit(name):
    return settings.TRACKER[name]


def too_many():
    return _("The file has more than %(max)s rows; split it into several files.") % {
        "max": limit("IMPORT_MAX_ROWS")
    }


def too_large(size):
    """The message refusing a file of ``size`` bytes (above ``IMPORT_MAX_BYTES``)."""
    return _("The file is too large (%(size)s MB); at most %(max)s MB can be imported at once.") % {
        "size": f"{size / 1048576:.1f}",
        "max": f"{limit('IMPORT_MAX_BYTES') / 1048576:.0f}",
    }


def read_table(data, *, name, key_header):
    """The table in ``data`` (the file's bytes), whose header row holds ``key_header``."""
    if not data:
        raise FileError(_("The file is empty."))
    if len(data) > limit("IMPORT_MAX_BYTES"):
        raise FileError(too_large(len(data)))
    lowered = (name or "").lower()
    if data[:4] == b"PK\x03\x04":
        grid = _xlsx_cells(data, key_header=key_header)
    elif lowered.endswith((".xlsx", ".xlsm", ".xls")):
        raise FileError(
            _(
                "This file is not an Excel workbook in the .xlsx format (an old .xls file, or "
                "a damaged one). Save it as .xlsx (Excel workbook) or .csv and upload it again."
            )
        )
    else:
        grid = _csv_cells(data)
    return _table(grid, key_header=key_header)


def _table(grid, *, key_header):
    headers, header_row = None, None
    rows = []
    count = 0
    for number, cells in grid:
        if headers is None:
            texts = [_text(cell) for cell in cells]
            if key_header in texts:
                headers, header_row = texts, number
                twice = sorted({h for h in texts if h and texts.count(h) > 1})
                if twice:
                    raise FileError(
                        _("These columns appear twice in the header row: %(names)s.")
                        % {"names": "、".join(twice)}
                    )
            elif number >= HEADER_SEARCH_ROWS:
                break
            continue
        if all(blank(cell) for cell in cells):
            continue
        values = {}
        for index, header in enumerate(headers):
            if header and header not in values:
                values[header] = cells[index] if index < len(cells) else None
        if _text(cells[0] if cells else "") == TOTALS_LABEL:  # the exports' totals row
            continue
        count += 1
        if count > limit("IMPORT_MAX_ROWS"):
            raise FileError(too_many())
        rows.append(Row(number=number, values=values))
    if headers is None:
        raise FileError(
            _(
                "No header row with “%(header)s” was found in the first %(rows)s rows. Use the "
                "import template, or a file exported from this system."
            )
            % {"header": key_header, "rows": HEADER_SEARCH_ROWS}
        )
    return Table(headers=[h for h in headers if h], header_row=header_row, rows=rows)


def blank(value):
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value):
    return "" if value is None else str(value).strip()


def _xlsx_cells(data, *, key_header):
    # openpyxl is only needed here (reading uploads); a heavy import kept off the page path.
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as error:  # openpyxl raises many kinds on a damaged zip or XML
        raise FileError(DAMAGED) from error
    try:
        if not book.worksheets:
            raise FileError(_("The workbook has no sheet."))
        sheet = _sheet_with(book, key_header)
        formulas, grid = [], []
        try:
            for number, cells in enumerate(sheet.iter_rows(), start=1):
                values = []
                for cell in cells:
                    if getattr(cell, "data_type", None) == "f":
                        formulas.append(cell.coordinate)
                        values.append(None)
                    else:
                        values.append(getattr(cell, "value", None))
                grid.append((number, values))
                if len(grid) > limit("IMPORT_MAX_ROWS") + HEADER_SEARCH_ROWS + 100:
                    raise FileError(too_many())
        except FileError:
            raise
        except Exception as error:
            raise FileError(DAMAGED) from error
        _fill_merged(grid, _merged_ranges(data, sheet))
        if formulas:
            shown = "、".join(formulas[:5]) + ("…" if len(formulas) > 5 else "")
            raise FileError(
                _(
                    "%(count)s cells hold formulas instead of values (%(cells)s). Copy the "
                    "cells and paste them as values, save, and upload the file again."
                )
                % {"count": len(formulas), "cells": shown}
            )
        return grid
    finally:
        book.close()


MERGED = re.compile(rb'<mergeCell ref="([A-Z]{1,3}[0-9]+):([A-Z]{1,3}[0-9]+)"')


def _merged_ranges(data, sheet):
    """The sheet's merged ranges as (min_row, min_col, max_row, max_col). openpyxl's
    row-by-row reader does not read them, so they come from the end of the sheet's XML
    (after its rows), read from the zip as it is."""
    from openpyxl.utils.cell import range_boundaries  # with openpyxl, above

    path = getattr(sheet, "_worksheet_path", None)
    if not path:
        return []
    with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open(path) as xml:
        tail, found = b"", []
        while chunk := xml.read(1 << 20):
            tail = (tail + chunk)[-(1 << 21) :]  # a range never spans 2 MiB
        for first, last in MERGED.findall(tail[tail.rfind(b"</sheetData>") :]):
            col1, row1, col2, row2 = range_boundaries(f"{first.decode()}:{last.decode()}")
            found.append((row1, col1, row2, col2))
    return found


def _fill_merged(grid, ranges):
    """Every cell of a merged range gets its first cell's value (a region written once
    beside several projects counts for each of them); openpyxl reads the others as empty."""
    if not ranges:
        return
    rows = {number: values for number, values in grid}
    for row1, col1, row2, col2 in ranges:
        first = rows.get(row1)
        if first is None or col1 > len(first):
            continue
        value = first[col1 - 1]
        for number in range(row1, row2 + 1):
            values = rows.get(number)
            if values is None:
                continue
            for column in range(col1, col2 + 1):
                if (number, column) == (row1, col1):
                    continue
                while len(values) < column:
                    values.append(None)
                values[column - 1] = value


def _sheet_with(book, key_header):
    """The first sheet whose first rows hold ``key_header`` (data on a second sheet, a
    notes sheet first), else the first sheet (whose missing header is then reported)."""
    for sheet in book.worksheets:
        rows = sheet.iter_rows(max_row=HEADER_SEARCH_ROWS, values_only=True)
        if any(key_header in [_text(cell) for cell in row] for row in rows):
            return sheet
    return book.worksheets[0]


def _csv_cells(data):
    text = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None or "\x00" in text:
        raise FileError(
            _(
                "This file is neither an Excel workbook (.xlsx) nor a CSV text file. Save it "
                "as .xlsx or .csv and upload it again."
            )
        )
    try:
        sample = text[:4096]
        # Excel saves CSV with commas, or semicolons where the comma is the decimal mark.
        delimiter = max((",", ";", "\t"), key=sample.count)  # a tie: the comma
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
        grid = [(number, row) for number, row in enumerate(reader, start=1)]
    except csv.Error as error:
        raise FileError(
            _("The CSV file is malformed (%(error)s); save it again from Excel as CSV UTF-8.")
            % {"error": error}
        ) from error
    return grid


def cell_date(value):
    """A cell's date: a date, a datetime at midnight, or None when it is neither."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    return None
