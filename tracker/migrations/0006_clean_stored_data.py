"""Clean what is already stored, so that the rules of 0005 hold for every row and the
constraints of 0007 can be added.

1. Control characters (C0 other than tab, newline and carriage return, and DEL) in every
   text column of the tracker tables become a space each: the usual one is a line or page
   break pasted from a word processor between two words or figures, which a space keeps
   apart where removing it would join them ("12\x0b34" must not become "1234").
2. Dates, timestamps and years before 2000 or after 2100 move to the nearest bound
   (2000-01-01 / 2100-12-31, the first / last moment of those years): the row stays, the
   cross-column rules (production not before start …) still hold because the move keeps the
   order of a row's dates, and the change history says what it was, so that someone can
   correct it. All the out-of-range columns of a row change in one UPDATE. So does an
   annual indicator's value beyond ±99,999,999,999.9999 (more digits than SQLite reads
   back; 0007 bounds it too).

Each changed value of a row other than the change history itself is recorded in the change
history (no user, with the reason) with the old value as it was: control characters are
written as <U+000B> there, dates in ISO form. Passwords are never read or written.

Only the rows that need it are read (one query per table, filtered in the database) and
written (one UPDATE per row), in the migration's transaction: row locks on the changed rows
only, nothing else is locked. The published monthly reports' frozen JSON stays as it was
published: every file writer cleans text on the way out (tracker.exports.safe_text).

The rule and the bounds are copied here on purpose (a migration keeps its meaning when the
code moves on): tracker.validators holds the live ones.
"""

import datetime
import re
from decimal import Decimal

from django.db import migrations, models
from django.db.models import Q

CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
CONTROL_RE = re.compile(CONTROL)
# PostgreSQL keeps no NUL in text (and refuses it in a pattern).
CONTROL_WITHOUT_NUL = r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]"
FIRST_DAY, LAST_DAY = datetime.date(2000, 1, 1), datetime.date(2100, 12, 31)
FIRST_MOMENT = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
LAST_MOMENT = datetime.datetime(2100, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.timezone.utc)
FIRST_YEAR, LAST_YEAR = 2000, 2100
INDICATOR_VALUE_LIMIT = Decimal("99999999999.9999")
YEAR_FIELDS = {"year", "iso_year"}
NEVER_TOUCHED = {"password"}
NOT_IN_HISTORY = {"created_at", "updated_at", "last_login", "version"}
NOTE = (
    "数据迁移 0006：清除了不可见的控制字符（替换为空格），超出 2000–2100 年范围的日期和年份"
    "移至最近的边界，请核对。"
)
NAME_FIELDS = ("code", "name", "title", "username")


def _visible(value):
    if isinstance(value, str):
        return CONTROL_RE.sub(lambda m: f"<U+{ord(m.group()):04X}>", value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return "" if value is None else str(value)


def _columns(model):
    texts, dates, moments, years = [], [], [], []
    for field in model._meta.concrete_fields:
        if field.name in NEVER_TOUCHED:
            continue
        if isinstance(field, models.CharField | models.TextField):
            texts.append(field.attname)
        elif isinstance(field, models.DateTimeField):
            moments.append(field.attname)
        elif isinstance(field, models.DateField):
            dates.append(field.attname)
        elif field.name in YEAR_FIELDS:
            years.append(field.attname)
    return texts, dates, moments, years


def _bounds(model, dates, moments, years):
    bounds = {name: (FIRST_DAY, LAST_DAY) for name in dates}
    bounds.update({name: (FIRST_MOMENT, LAST_MOMENT) for name in moments})
    bounds.update({name: (FIRST_YEAR, LAST_YEAR) for name in years})
    if model._meta.model_name == "annualindicator":
        bounds["value"] = (-INDICATOR_VALUE_LIMIT, INDICATOR_VALUE_LIMIT)
    return bounds


def _cleaned(row, texts, bounds):
    changes = {}
    for name in texts:
        value = row[name]
        if value and CONTROL_RE.search(value):
            changes[name] = CONTROL_RE.sub(" ", value)
    for name, (low, high) in bounds.items():
        value = row[name]
        if value is not None and not low <= value <= high:
            changes[name] = min(max(value, low), high)
    return changes


def clean_stored_data(apps, schema_editor):
    db = schema_editor.connection.alias
    pattern = CONTROL if schema_editor.connection.vendor == "sqlite" else CONTROL_WITHOUT_NUL
    ChangeLog = apps.get_model("tracker", "ChangeLog")
    ContentType = apps.get_model("contenttypes", "ContentType")
    now = datetime.datetime.now(datetime.timezone.utc)
    for model in apps.get_app_config("tracker").get_models():
        texts, dates, moments, years = _columns(model)
        bounds = _bounds(model, dates, moments, years)
        wrong = Q(pk__in=[])
        for name in texts:
            wrong |= Q(**{f"{name}__regex": pattern})
        for name, (low, high) in bounds.items():
            wrong |= Q(**{f"{name}__lt": low}) | Q(**{f"{name}__gt": high})
        manager = model._base_manager.using(db)
        history = []
        for row in list(manager.filter(wrong).values("pk", *texts, *bounds)):
            changes = _cleaned(row, texts, bounds)
            if not changes:
                continue
            manager.filter(pk=row["pk"]).update(**changes)
            if model is ChangeLog:
                continue
            names = [row[f] for f in NAME_FIELDS if f in row and row[f]]
            label = CONTROL_RE.sub(" ", " ".join(names))[:200] or f"#{row['pk']}"
            for name, value in changes.items():
                if name in NOT_IN_HISTORY:
                    continue
                history.append((row["pk"], label, name, _visible(row[name]), _visible(value)))
        if history:
            ctype, _created = ContentType.objects.using(db).get_or_create(
                app_label="tracker", model=model._meta.model_name
            )
            ChangeLog.objects.using(db).bulk_create(
                ChangeLog(
                    content_type_id=ctype.pk,
                    object_id=pk,
                    object_repr=label,
                    action="update",
                    field=field.removesuffix("_id"),
                    old_value=old,
                    new_value=new,
                    changed_by=None,
                    changed_at=now,
                    note=NOTE,
                )
                for pk, label, field, old, new in history
            )


class Migration(migrations.Migration):
    dependencies = [
        ("tracker", "0005_text_and_date_validators"),
    ]

    operations = [
        migrations.RunPython(clean_stored_data, migrations.RunPython.noop, elidable=True),
    ]
