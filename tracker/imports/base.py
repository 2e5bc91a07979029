"""What every importer shares: the preview's shape, cell parsers, and the stale-row refusal.

A preview (``Plan``) is plain JSON, stored on the ImportBatch: for every data row of the file
its number, key, action (create / update / unchanged / error), the changes as (column, old,
new) for people to read, and the values to write (``data``, JSON-encoded field values) for
the apply step, which writes exactly what the preview showed or, when a row changed in the
database meanwhile (``Stale``), nothing.
"""

import datetime
import re
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _

from .. import investment, money, permissions
from ..spreadsheets import FORMULA_PREFIXES
from ..validators import TEXT_VALIDATORS
from . import reader
from .reader import cell_date

CREATE, UPDATE, UNCHANGED, ERROR = "create", "update", "unchanged", "error"


class Stale(Exception):
    """Rows of the preview whose records changed since it was made: ``rows`` (row number,
    key) pairs. Nothing was applied."""

    def __init__(self, rows):
        super().__init__(f"{len(rows)} rows changed since the preview")
        self.rows = rows


class Plan:
    """A preview being built: rows and errors, turned into JSON by ``as_json``."""

    def __init__(self, *, columns, ignored, unknown):
        self.rows = []
        self.errors = []
        self.columns, self.ignored, self.unknown = columns, ignored, unknown

    def error(self, row, column, message):
        self.errors.append({"row": row, "column": column, "message": str(message)})

    def new_key(self, row, key, seen, *, column):
        """Whether ``key`` (a row's 项目编号) is given and not already in the file (``seen``:
        key → row number so far); else the error is recorded."""
        if not key:
            self.error(row, column, _("The project code is empty."))
            return False
        if key in seen:
            self.error(
                row,
                column,
                _("The project code %(code)s is already in row %(row)s of this file.")
                % {"code": key, "row": seen[key]},
            )
            return False
        seen[key] = row
        return True

    def add_row(self, row, *, code, action, project, version, data, changes, **extra):
        """A row of the preview: what it does (``action``), to which record (``project``
        at ``version``), the values to write (``data``, JSON) and the changes to show."""
        self.rows.append(
            {
                "row": row,
                "code": code,
                "action": action,
                "project": project,
                "version": version,
                "data": {name: encode(value) for name, value in data.items()},
                "changes": changes,
                **extra,
            }
        )

    def as_json(self):
        wrong = {error["row"] for error in self.errors}
        counts = {CREATE: 0, UPDATE: 0, UNCHANGED: 0, ERROR: len(wrong)}
        for row in self.rows:
            if row["row"] in wrong:
                row["action"] = ERROR
            else:
                counts[row["action"]] += 1
        return {
            "columns": self.columns,
            "ignored": self.ignored,
            "unknown": self.unknown,
            "rows": self.rows,
            "errors": sorted(self.errors, key=lambda e: e["row"]),
            "counts": counts,
        }


# --- cells -------------------------------------------------------------------------------------
class CellError(ValueError):
    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


blank = reader.blank


def text(value):
    """A cell as text: numbers without a trailing ".0" (a code typed as a number)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime.datetime | datetime.date):
        return cell_date(value).isoformat()
    value = str(value).strip()
    # The exports put an apostrophe before text a spreadsheet would run as a formula
    # (tracker.spreadsheets.safe_text): read back, it is the text itself.
    if value.startswith("'") and value[1:].lstrip(" ").startswith(FORMULA_PREFIXES):
        return value[1:].strip()
    return value


AMOUNT = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")


def amount(value, *, field=None):
    """万元 from a number cell or text such as "9,100.50"; CellError when it is not one, or
    when ``field`` (a model DecimalField) refuses its digits (the web form's own check)."""
    found = _amount(value)
    if found is not None and field is not None:
        try:
            field.run_validators(found)
        except ValidationError as error:
            raise CellError(" ".join(error.messages)) from None
    return found


def _amount(value):
    if blank(value):
        return None
    if isinstance(value, bool):
        raise CellError(_("Not a number: “%(value)s”.") % {"value": value})
    if isinstance(value, int | float | Decimal):
        try:
            return money.to_decimal(value)
        except ValueError:
            raise CellError(_("Not a number: “%(value)s”.") % {"value": value}) from None
    cleaned = str(value).strip().replace("，", ",").replace(" ", "")
    if not AMOUNT.match(cleaned):
        raise CellError(_("Not a number: “%(value)s”.") % {"value": str(value).strip()[:40]})
    try:
        return Decimal(cleaned.replace(",", ""))
    except InvalidOperation:
        raise CellError(_("Not a number: “%(value)s”.") % {"value": cleaned[:40]}) from None


EXCEL_EPOCH = datetime.date(1899, 12, 30)
SERIAL_DAYS = (36526, 73051)  # 2000-01-01 … 2099-12-31 as Excel day numbers
DATE_TEXT = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")


def date(value):
    """A date from a date cell or "2022-04-01", "2022/4/1", "2022年4月1日"."""
    if blank(value):
        return None
    found = cell_date(value)
    if found:
        return found
    if isinstance(value, int | float) and not isinstance(value, bool):
        # A date cell without a date format reads as Excel's day number (1900 system).
        if SERIAL_DAYS[0] <= value <= SERIAL_DAYS[1] and float(value).is_integer():
            return EXCEL_EPOCH + datetime.timedelta(days=int(value))
        raise CellError(_("Not a date: “%(value)s”; write it as 2022-04-01.") % {"value": value})
    match = DATE_TEXT.match(str(value).strip().split(" ")[0])
    if not match:
        raise CellError(
            _("Not a date: “%(value)s”; write it as 2022-04-01.") % {"value": str(value)[:40]}
        )
    try:
        return datetime.date(*(int(part) for part in match.groups()))
    except ValueError:
        raise CellError(_("No such day: “%(value)s”.") % {"value": str(value)[:40]}) from None


def reason(plan, row, header, *, by, project):
    """The row's 调减原因 (a manager's reason for lowering the cumulative figure), checked as
    the edit form and the sheet check it: a manager's only, at most ``REASON_MAX``
    characters, no control characters. Errors go to the plan; returns the text or ""."""
    text_ = text(row.values.get(header))
    if not text_:
        return ""
    if not permissions.may(by, permissions.MANAGE, project):
        plan.error(row.number, header, _("Only a city bureau manager gives this reason."))
        return ""
    try:
        for validator in [MaxLengthValidator(investment.REASON_MAX), *TEXT_VALIDATORS]:
            validator(text_)
    except ValidationError as error:
        plan.error(row.number, header, " ".join(error.messages))
        return ""
    return text_


def choice(value, labels):
    """The stored value for a label (as the exports write it, in Chinese), or the value
    itself; CellError listing what is allowed."""
    if blank(value):
        return ""
    given = text(value)
    for stored, label in labels.items():
        if given in (label, stored):
            return stored
    raise CellError(
        _("“%(value)s” is not one of: %(allowed)s.")
        % {"value": given[:40], "allowed": "、".join(labels.values())}
    )


# --- JSON for the stored plan --------------------------------------------------------------------
def encode(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if hasattr(value, "pk"):
        return value.pk
    return value


def shown(value):
    """A value as a person reads it in the preview."""
    if value is None or value == "":
        return ""
    if isinstance(value, Decimal):
        return f"{money.wan(value):,}"
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)
