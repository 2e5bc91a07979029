"""The titled sheet's data rows are written as one string per row (tracker.spreadsheets.
_RowWriter), not through XlsxWriter's per-cell calls: the file must be the same, byte for
byte, as the one XlsxWriter writes cell by cell, whatever the cells hold, and its values
read back (openpyxl) must be the rows given.

No database: the writer is given rows directly (the exports' own tests cover the rows).
"""

import datetime
import io
import zipfile
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from tracker import spreadsheets
from tracker.spreadsheets import (
    DATE,
    FIRST_DATA_ROW,
    MONEY,
    TEXT,
    YI,
    Column,
    TitledWorkbook,
    safe_text,
)

CREATED = datetime.datetime(2026, 12, 1, 8, 0, tzinfo=datetime.UTC)
ISSUED = datetime.date(2026, 12, 1)
COLUMNS = [
    Column("项目编号"),
    Column("项目名称"),
    Column("签约日期", DATE),
    Column("签约金额(万元)", MONEY),
    Column("签约金额(亿元)", YI),
    Column("个数", "#,##0"),
    Column("说明", TEXT),
]
LONG = "长" * 40000  # beyond a cell's 32,767 characters
ASTRAL = "😀" * 20000  # 20,000 characters, 40,000 UTF-16 units

# Text a spreadsheet or an XML writer could trip on, numbers of every kind the exports hold.
TEXTS = [
    "plain",
    "中文，逗号,comma",
    '"quoted" & <tag> > less',
    "=SUM(A1)",
    "+86 123",
    "-负数",
    "@mention",
    "  =indented formula",
    " leading space",
    "trailing space ",
    "line\nbreak",
    "tab\there",
    "cr\rhere",
    "ctrl\x01\x1f\x7f",
    "_x0041_ escaped already",
    "\ufffe\uffff non-characters",
    "",
    LONG,
    ASTRAL,
    "3",
]
VALUES = [
    Decimal("600000.00"),
    Decimal("0.00"),
    Decimal("-12.34"),
    Decimal("17961600.00"),
    Decimal("1796.1600"),
    Decimal("0.0001"),
    Decimal("123456789012345678.99"),
    0,
    7,
    2**40,
    1.5,
    -0.1,
    None,
]
DATES = [
    datetime.date(2022, 5, 1),
    datetime.date(2000, 1, 1),
    datetime.date(2100, 12, 31),
    datetime.datetime(2022, 5, 1, 13, 45, 30),  # noqa: DTZ001 (a cell has no time zone)
    None,
    "",
]


def rows():
    out = []
    for i in range(300):
        out.append(
            [
                f"P-{i:04d}",
                TEXTS[i % len(TEXTS)],
                DATES[i % len(DATES)],
                VALUES[i % len(VALUES)],
                VALUES[(i * 7) % len(VALUES)],
                i if i % 11 else None,
                TEXTS[(i * 5) % len(TEXTS)] if i % 3 else "",
            ]
        )
    # Rows the direct writer hands to XlsxWriter's own calls: a boolean, a non-finite number.
    out.insert(17, ["P-bool", "布尔", None, True, False, 1, ""])
    out.insert(40, ["P-inf", "无穷", None, Decimal("Infinity"), None, None, ""])
    return out


def xlsx(data, *, direct, totals=None, notes=()):
    buffer = io.BytesIO()
    original = spreadsheets._RowWriter.direct
    spreadsheets._RowWriter.direct = direct
    try:
        with TitledWorkbook(buffer, created=CREATED) as workbook:
            workbook.add_table(
                "清单",
                title="宜春市工业项目清单",
                subtitle="范围：全部（未筛选）",
                columns=COLUMNS,
                rows=iter(data),  # a generator, spooled, as the exports give it
                totals=totals,
                notes=notes,
                issued_on=ISSUED,
            )
    finally:
        spreadsheets._RowWriter.direct = original
    return buffer.getvalue()


def _nan_inf_sheets(monkeypatch):
    """XlsxWriter refuses non-finite numbers unless the workbook says to write them as
    errors: say so for every sheet, so that the unusual row can be compared too."""
    original = spreadsheets.xlsxwriter.Workbook.add_worksheet

    def add_worksheet(self, *args, **kwargs):
        sheet = original(self, *args, **kwargs)
        sheet.nan_inf_to_errors = True
        return sheet

    monkeypatch.setattr(spreadsheets.xlsxwriter.Workbook, "add_worksheet", add_worksheet)


def test_the_direct_rows_give_the_same_file_as_xlsxwriters_per_cell_calls(monkeypatch):
    _nan_inf_sheets(monkeypatch)
    data = rows()
    totals = ["合计", "共300个项目", "", Decimal("17961600.00"), Decimal("1796.1600"), 300, ""]
    fast = xlsx(data, direct=True, totals=totals, notes=["注：示例"])
    slow = xlsx(data, direct=False, totals=totals, notes=["注：示例"])
    with zipfile.ZipFile(io.BytesIO(fast)) as a, zipfile.ZipFile(io.BytesIO(slow)) as b:
        assert a.namelist() == b.namelist()
        for name in a.namelist():
            assert a.read(name) == b.read(name), name
    assert fast == slow


def test_an_empty_table_and_a_table_without_totals_are_the_same_too():
    for data, totals in (([], None), ([], ["合计", "", "", 0, 0, 0, ""]), (rows()[:3], None)):
        data = [row for row in data if row[0] != "P-inf"]
        assert xlsx(data, direct=True, totals=totals) == xlsx(data, direct=False, totals=totals)


def test_the_values_read_back_are_the_rows_given(monkeypatch):
    _nan_inf_sheets(monkeypatch)
    # Not compared here (the same bytes as XlsxWriter's, above): XlsxWriter's _xHHHH_
    # escapes (a CR, an escape-looking text), which openpyxl reads back as written.
    unread = {"cr\rhere", "_x0041_ escaped already", "\ufffe\uffff non-characters"}
    data = [
        ["" if cell in unread else cell for cell in row]
        for row in rows()
        if row[0] not in {"P-bool", "P-inf"}
    ]
    sheet = load_workbook(io.BytesIO(xlsx(data, direct=True)), read_only=True).active
    read = list(sheet.iter_rows(min_row=FIRST_DATA_ROW, values_only=True))
    assert len(read) == len(data)
    for got, given in zip(read, data, strict=True):
        for cell, value in zip(got, given, strict=True):
            if value is None or value == "":
                assert cell is None
            elif isinstance(value, str):
                text = safe_text(value)
                if text == ASTRAL[: len(text)]:  # XlsxWriter cuts at 32,767 UTF-16 units
                    assert cell == ASTRAL[: len(cell)] and len(cell) == 32767 // 2
                else:
                    assert cell == text
            elif isinstance(value, datetime.datetime):
                assert cell == value
            elif isinstance(value, datetime.date):
                assert cell == datetime.datetime.combine(value, datetime.time())
            else:
                assert cell == pytest.approx(float(value), rel=1e-15)


@pytest.mark.parametrize(
    ("text", "width"),
    [
        ("", 0),
        ("P-0001 plain", 12),
        ("宜春市", 6),  # CJK: two digit widths each
        ("ＡＢ", 4),  # full-width Latin
        ("锂电 li-ion", 11),
        ("😀", 2),  # an emoji is East Asian wide
        ("short\n最长的一行\nmid", 10),  # the widest line
        ("tab\there", 8),
        ("\u3000全角空格", 10),  # the ideographic space is wide too
    ],
)
def test_a_text_is_as_wide_as_a_spreadsheet_shows_it(text, width):
    assert spreadsheets.text_width(text) == width


def test_the_spool_gives_back_every_value_with_its_type():
    chunk = [
        [
            Decimal("600000.00"),
            datetime.date(2022, 5, 1),
            datetime.date(2022, 5, 2) if i % 2 else "",
            datetime.date(2022, 5, 3) if i % 2 else "未开工",
            Decimal("-0") if i % 3 else 7,
            Decimal("1E+2") if i % 3 else Decimal("0.0001"),
            datetime.datetime(2022, 5, 1, 8, 30, tzinfo=datetime.UTC),
            i % 2 == 0,
            None if i % 4 else "文本",
        ]
        for i in range(12)
    ]
    chunk.append([Decimal("NaN"), *chunk[0][1:]])
    back = [list(row) for row in spreadsheets._unpack(spreadsheets._pack(chunk))]
    assert [[(type(v), str(v)) for v in row] for row in back] == [
        [(type(v), str(v)) for v in row] for row in chunk
    ]


def test_a_text_that_looks_like_xlsxwriters_rich_text_is_text():
    """XlsxWriter writes a text "<r>…</r>" unescaped (its rich text): with "&" inside, the
    file could not be opened. The rows are text like any other."""
    data = [["P-1", "<r>a & b</r>", None, None, None, None, "<r></r>"]]
    sheet = load_workbook(io.BytesIO(xlsx(data, direct=True))).active
    assert sheet.cell(FIRST_DATA_ROW, 2).value == "<r>a & b</r>"
    assert sheet.cell(FIRST_DATA_ROW, 7).value == "<r></r>"


@pytest.mark.parametrize("direct", [True, False])
def test_a_rich_looking_text_is_text_in_a_row_written_cell_by_cell(direct):
    """The same in a row XlsxWriter writes itself (a boolean makes it unusual) and in a
    workbook written without the direct rows: every path escapes it."""
    data = [["P-1", "<r>a & b</r>", None, True, None, None, "<r></r>"]]
    sheet = load_workbook(io.BytesIO(xlsx(data, direct=direct))).active
    assert sheet.cell(FIRST_DATA_ROW, 2).value == "<r>a & b</r>"
    assert sheet.cell(FIRST_DATA_ROW, 7).value == "<r></r>"
