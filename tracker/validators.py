"""Validators and bounds every part of the app shares: the 统一社会信用代码 (unified social
credit code) per GB 32100-2015, the "no control characters" rule of every text field, and
the range of the domain's dates and years (with the database constraints that hold it)."""

import datetime
import re

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# The 31 characters the standard allows: digits and capitals without I, O, S, V, Z.
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# Weight of position i (0-based) is 3**i mod 31.
CREDIT_CODE_WEIGHTS = [pow(3, i, 31) for i in range(17)]


def credit_code_check_char(first17):
    """The 18th character that makes ``first17`` a valid code."""
    total = sum(
        CREDIT_CODE_ALPHABET.index(ch) * weight
        for ch, weight in zip(first17, CREDIT_CODE_WEIGHTS, strict=True)
    )
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def validate_credit_code(value):
    code = (value or "").strip().upper()
    if len(code) != 18:
        raise ValidationError(
            _("A unified social credit code has 18 characters; this one has %(count)d."),
            code="credit_code_length",
            params={"count": len(code)},
        )
    bad = sorted({ch for ch in code if ch not in CREDIT_CODE_ALPHABET})
    if bad:
        raise ValidationError(
            _(
                "A unified social credit code may only contain digits and capital letters "
                "other than I, O, S, V and Z; found: %(chars)s."
            ),
            code="credit_code_chars",
            params={"chars": " ".join(bad)},
        )
    if not code[2:8].isdigit():
        raise ValidationError(
            _("Characters 3 to 8 of a unified social credit code are the region code (digits)."),
            code="credit_code_region",
        )
    expected = credit_code_check_char(code[:17])
    if code[17] != expected:
        raise ValidationError(
            _(
                "The check character of this unified social credit code is wrong "
                "(the last character should be %(expected)s): please check for a typing error."
            ),
            code="credit_code_check",
            params={"expected": expected},
        )


# --- text: no control characters ---------------------------------------------------------
# C0 control characters other than tab, newline and carriage return, DEL, and lone
# surrogates (no UTF-8 request carries one, but a script's string can). Pasted text brings
# them (Word's line break is a vertical tab); XLSX (XML 1.0) cannot hold most of them, so an
# export would fail, and nobody can see them on the page to remove them.
CONTROL_CHARACTERS_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def control_characters_error(value):
    """Why ``value`` cannot be stored (the control characters it holds, by code), or None.

    For the services that check their text themselves; fields use the validator below.
    """
    if not isinstance(value, str):
        return None
    found = sorted(set(CONTROL_CHARACTERS_RE.findall(value)))
    if not found:
        return None
    return _(
        "This text contains invisible control characters (%(chars)s), usually carried "
        "over by copying and pasting. Delete them (retype the text if need be) and "
        "save again."
    ) % {"chars": ", ".join(f"U+{ord(ch):04X}" for ch in found)}


def validate_no_control_characters(value):
    """The rule of every text field (model fields, forms, filters): no control characters."""
    error = control_characters_error(value)
    if error:
        raise ValidationError(error, code="control_characters")


TEXT_VALIDATORS = [validate_no_control_characters]


def replace_control_characters(text):
    """``text`` with each control character replaced by a space (for data already stored:
    the data migration and the file writers). A space rather than nothing, because the
    usual one is a line or page break between two words or figures, which must stay apart."""
    return CONTROL_CHARACTERS_RE.sub(" ", text)


# --- dates: the years the app deals in ------------------------------------------------------
# One range for every domain date and year: signing and actual dates from FIRST_DAY to today,
# planned dates and deadlines to LAST_DAY; the dispatch weeks, the monthly report's months
# and the assessment's years in a URL take the same years (``year_in_range``). The database
# constraints hold the fixed bounds.
FIRST_YEAR, LAST_YEAR = 2000, 2100
FIRST_DAY = datetime.date(FIRST_YEAR, 1, 1)
LAST_DAY = datetime.date(LAST_YEAR, 12, 31)
# Timestamps (recorded, filed, changed at …): the same years, in UTC.
FIRST_MOMENT = datetime.datetime(FIRST_YEAR, 1, 1, tzinfo=datetime.UTC)
END_MOMENT = datetime.datetime(LAST_YEAR + 1, 1, 1, tzinfo=datetime.UTC)
YEAR_VALIDATORS = [MinValueValidator(FIRST_YEAR), MaxValueValidator(LAST_YEAR)]


def year_in_range(year):
    return isinstance(year, int) and FIRST_YEAR <= year <= LAST_YEAR


def date_range_error(value):
    """Why ``value`` (a planned date, a deadline) is outside the app's range, or None."""
    if value is not None and not FIRST_DAY <= value <= LAST_DAY:
        return _("Enter a date between %(first)s and %(last)s.") % {
            "first": FIRST_DAY.isoformat(),
            "last": LAST_DAY.isoformat(),
        }
    return None


def past_date_error(value, *, today=None):
    """Why ``value`` (a date something happened on) is not between FIRST_DAY and today."""
    today = today or timezone.localdate()
    if value is not None and not FIRST_DAY <= value <= today:
        return _("Enter a date between %(first)s and today (%(today)s).") % {
            "first": FIRST_DAY.isoformat(),
            "today": today.isoformat(),
        }
    return None


def validate_date_in_range(value):
    """Planned dates and deadlines: FIRST_DAY … LAST_DAY."""
    error = date_range_error(value)
    if error:
        raise ValidationError(error, code="date_range")


def validate_past_date(value):
    """Signing and actual dates (something that happened): FIRST_DAY … today."""
    error = past_date_error(value)
    if error:
        raise ValidationError(error, code="date_not_past")


def date_range_constraint(model_name, field):
    """The database's bound on a date column (fixed: "today" cannot be in a CHECK)."""
    return models.CheckConstraint(
        condition=Q(**{f"{field}__gte": FIRST_DAY, f"{field}__lte": LAST_DAY}),
        name=f"{model_name}_{field}_range",
        violation_error_message=_("Dates are accepted from 2000-01-01 to 2100-12-31."),
    )


def moment_range_constraint(model_name, field):
    """The database's bound on a timestamp column."""
    return models.CheckConstraint(
        condition=Q(**{f"{field}__gte": FIRST_MOMENT, f"{field}__lt": END_MOMENT}),
        name=f"{model_name}_{field}_range",
        violation_error_message=_("Times are accepted from the year 2000 to the year 2100."),
    )


def year_range_constraint(model_name, field):
    """The database's bound on a year column."""
    return models.CheckConstraint(
        condition=Q(**{f"{field}__gte": FIRST_YEAR, f"{field}__lte": LAST_YEAR}),
        name=f"{model_name}_{field}_range",
        violation_error_message=_("The year must be between 2000 and 2100."),
    )


def bounds_constraints(model_name, *, dates=(), moments=(), years=()):
    """The range constraints of a model's date, timestamp and year columns."""
    return [
        *(date_range_constraint(model_name, f) for f in dates),
        *(moment_range_constraint(model_name, f) for f in moments),
        *(year_range_constraint(model_name, f) for f in years),
    ]
