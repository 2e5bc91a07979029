"""Weeks and months as people read them: the one home of both formats on pages.

URLs, files and the published JSON keep the machine forms (``2026-W49``, ``2022-12``,
``tracker.dispatching.week_label``); everything a person reads on a page goes through
``week_text`` / ``month_text`` (templates: ``{% load period_format %}``, then
``{{ value|week }}`` / ``{{ value|month }}``). Both formats are translatable, so the English
interface keeps an English form:

=======  =================================  =================================
         中文                                English
=======  =================================  =================================
week     2026年第49周（11月30日—12月6日）     Week 49, 2026 (30 Nov – 6 Dec)
month    2022年12月                          December 2022
=======  =================================  =================================

ISO weeks start on Monday; the week is named after its ISO year (the week of 29 Dec 2025 –
4 Jan 2026 is 2026年第1周).
"""

import datetime

from django.db.models import Q
from django.utils import dateformat
from django.utils.translation import gettext as _


def _day(day):
    # Translators: a day inside a week's span, in Django's date format ("j M" → "30 Nov").
    return dateformat.format(day, _("j M"))


def week_text(iso_year, iso_week):
    """(2026, 49) → "2026年第49周（11月30日—12月6日）"."""
    start = datetime.date.fromisocalendar(int(iso_year), int(iso_week), 1)
    end = start + datetime.timedelta(days=6)
    return _("Week %(week)s, %(year)s (%(start)s – %(end)s)") % {
        "week": int(iso_week),
        "year": int(iso_year),
        "start": _day(start),
        "end": _day(end),
    }


def month_text(year, month):
    """(2022, 12) → "2022年12月"."""
    # Translators: a month and its year, in Django's date format ("F Y" → "December 2022").
    return dateformat.format(datetime.date(int(year), int(month), 1), _("F Y"))


def year_text(year):
    """2022 → "2022年" (a heading over a year's months)."""
    return _("Year %(year)s") % {"year": int(year)}


# --- comparing weeks in queries ----------------------------------------------------------
_WEEK_LOOKUPS = {"lt": ("lt", "lt"), "lte": ("lt", "lte"), "gt": ("gt", "gt"), "gte": ("gt", "gte")}


def week_q(op, iso_year, iso_week, *, year_field="iso_year", week_field="iso_week"):
    """Q: the row's week (``year_field``, ``week_field``) compared with (``iso_year``,
    ``iso_week``) by ``op`` ("exact", "lt", "lte", "gt", "gte"): the one rule for comparing
    weeks in the database. Column by column, never ``year × 100 + week``, so the indexes on
    (iso_year, iso_week) and (project, iso_year, iso_week) serve the comparison."""
    iso_year, iso_week = int(iso_year), int(iso_week)
    if op == "exact":
        return Q(**{year_field: iso_year, week_field: iso_week})
    year_lookup, week_lookup = _WEEK_LOOKUPS[op]
    return Q(**{f"{year_field}__{year_lookup}": iso_year}) | Q(
        **{year_field: iso_year, f"{week_field}__{week_lookup}": iso_week}
    )
