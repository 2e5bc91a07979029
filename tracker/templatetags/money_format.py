"""Money on pages: ``{% load money_format %}``, then ``{{ amount|wan }}`` / ``{{ amount|yi }}``.

Both take an amount in 万元 (a Decimal, or the published JSON's string) and apply the rule of
``tracker.money``; None or "" shows "—".
"""

from django import template

from .. import money

register = template.Library()
DASH = "—"


@register.filter
def wan(value):
    """万元 as pages show it (``money.wan``): "17961600.00" → "17,961,600.00"."""
    if value is None or value == "":
        return DASH
    return money.grouped(money.wan(value))


@register.filter
def yi(value):
    """万元 shown in 亿元 as pages show it (``money.yi``): "17961600.00" → "1,796.16".
    Computed from the 万元 figure, never from a rounded 亿元 one."""
    if value is None or value == "":
        return DASH
    return money.grouped(money.yi(value))


@register.filter
def grouped(value):
    """An amount already rounded by ``tracker.money`` (e.g. a chart row's ``amount_yi``) with
    the pages' thousands separators: 1607.50 → "1,607.50"."""
    if value is None or value == "":
        return DASH
    return money.grouped(value)
