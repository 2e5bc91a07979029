"""Weeks and months on pages: ``{% load period_format %}``, then ``{{ value|week }}`` and
``{{ value|month }}`` (the formats are ``tracker.periods``'s).

``week`` takes a week's machine label ("2026-W49"), a row with ``iso_year`` / ``iso_week``
(a weekly dispatch) or a (year, week) pair. ``month`` takes "2022-12", a date, a
(year, month) pair, or a month number with its year as the argument:
``{{ row.month|month:year }}``. Anything else is shown as it is.
"""

import datetime
import functools
import re

from django import template
from django.utils.translation import get_language

from .. import periods
from ..dispatching import WeekError, parse_week

register = template.Library()
MONTH_LABEL = re.compile(r"([0-9]{4})-([0-9]{2})")


@functools.lru_cache(maxsize=4096)
def _week_text(iso_year, iso_week, _language):
    return periods.week_text(iso_year, iso_week)


def week_text(iso_year, iso_week):
    """``periods.week_text``, remembered per week and language: a project page shows the
    same few weeks dozens of times, and each text costs two date formats."""
    return _week_text(int(iso_year), int(iso_week), get_language())


@register.filter
def week(value):
    try:
        if isinstance(value, str):
            return week_text(*parse_week(value))
        if isinstance(value, tuple | list):
            return week_text(*value)
        if isinstance(value, dict):
            return week_text(value["iso_year"], value["iso_week"])
        return week_text(value.iso_year, value.iso_week)
    except (WeekError, AttributeError, KeyError, TypeError, ValueError):
        return value


@register.filter
def month(value, year=None):
    try:
        if isinstance(value, datetime.date):
            return periods.month_text(value.year, value.month)
        if isinstance(value, tuple | list):
            return periods.month_text(*value)
        if isinstance(value, str):
            match = MONTH_LABEL.fullmatch(value)
            if match is None:
                return value
            return periods.month_text(int(match[1]), int(match[2]))
        if year not in (None, ""):
            return periods.month_text(year, value)
    except (TypeError, ValueError):
        pass
    return value
