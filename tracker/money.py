"""Money units: the one rule per context for 万元 and 亿元.

Amounts are kept in 万元 (``DecimalField``, two decimals); 1 亿元 = 10,000 万元. Rounding is
half-up (四舍五入) everywhere, always from the 万元 figure (never from an already rounded 亿元
figure, which could round twice):

=====================  ==========================  ============================
context                万元                         亿元
=====================  ==========================  ============================
pages                  two decimals (``wan``)      two decimals (``yi``)
files: XLSX, CSV and   two decimals (``wan``)      four decimals (``yi_file``)
the published JSON
computation            as stored                   unrounded (``yi_exact``)
=====================  ==========================  ============================

The 2022 book: 17,961,600.00 万元 = 1,796.16 亿元 (pages) = 1796.1600 亿元 (files).
Template filters (``tracker.templatetags.report_format``) call these functions.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db.models import DecimalField

# The output type of every sum or subquery of amounts (万元) in the database: wide enough
# for a province's book, two decimals as stored.
MONEY = DecimalField(max_digits=20, decimal_places=2)

WAN_PER_YI = Decimal(10000)
TWO_PLACES = Decimal("0.01")
FOUR_PLACES = Decimal("0.0001")


def to_decimal(value):
    """A Decimal from a Decimal, int, or numeric string (the published JSON keeps strings);
    None and "" are 0. Floats go through their shortest repr, never their binary value."""
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None


def half_up(value, places=2):
    """``value`` rounded half-up (四舍五入) to ``places`` decimals: the one rounding of the
    tracker, for money and for the scores and figures computed from it."""
    return to_decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def yi_exact(amount_wan):
    """万元 → 亿元, unrounded (for computation such as the assessment's scores)."""
    return to_decimal(amount_wan) / WAN_PER_YI


def wan(amount_wan):
    """万元, two decimals, on pages and in files."""
    return half_up(amount_wan, 2)


def yi(amount_wan):
    """亿元 on pages: two decimals."""
    return half_up(yi_exact(amount_wan), 2)


def yi_file(amount_wan):
    """亿元 in files (XLSX, CSV, the published JSON): four decimals."""
    return half_up(yi_exact(amount_wan), 4)


def grouped(amount):
    """An already rounded amount with thousands separators: 17961600.00 → "17,961,600.00"."""
    return f"{to_decimal(amount):,f}"
