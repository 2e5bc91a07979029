"""Filters for the monthly report, which is rendered from JSON (numbers kept as strings)."""

from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()
DASH = "—"


def _decimal(value):
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


@register.filter
def pct(value):
    """ "92.90" → "92.90%"; None → "—"."""
    number = _decimal(value)
    return DASH if number is None else f"{number:.2f}%"


@register.filter
def points(value):
    """A change in percentage points with its sign: "1.18" → "+1.18"; None → "—"."""
    number = _decimal(value)
    return DASH if number is None else f"{number:+.2f}"


@register.filter
def signed(value):
    """A change in a count with its sign: 3 → "+3", 0 → "0"."""
    number = _decimal(value)
    if number is None:
        return DASH
    return f"{number:+}" if number else "0"
