"""Change history (ChangeLog): who changed what, when, old → new.

The helpers every service uses to write history beneath its callers. This module imports
no model: the models import it (``Project.advance_to`` records its changes here), so the
ChangeLog model is looked up in the app registry when a row is written.
"""

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from .choices import ChangeAction

# Bookkeeping fields, and secrets that must never be copied into the history.
HISTORY_EXCLUDED = {"id", "version", "created_at", "updated_at", "password", "last_login"}


def _changelog_model():
    return apps.get_model("tracker", "ChangeLog")


def _display(obj, field):
    """A field's value as a person reads it (choice labels, related names, ISO dates)."""
    value = getattr(obj, field.attname)
    if value is None or value == "":
        return ""
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(field, models.ForeignKey):
        related = getattr(obj, field.name)
        return str(related)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def snapshot(obj, fields=None):
    """Field name → display value, for later comparison by ``record_changes``."""
    return {
        f.name: _display(obj, f)
        for f in obj._meta.concrete_fields
        if f.name not in HISTORY_EXCLUDED and (fields is None or f.name in fields)
    }


def snapshot_m2m(obj):
    """Many-to-many field name → the related rows' names, sorted (one query per field)."""
    return {
        f.name: "; ".join(sorted(str(related) for related in getattr(obj, f.name).all()))
        for f in obj._meta.many_to_many
        if f.name not in HISTORY_EXCLUDED
    }


def _ctype(obj):
    return ContentType.objects.get_for_model(obj, for_concrete_model=True)


def noted(origin, note=""):
    """The note kept on a history row: where a change came from (an import, a bulk change:
    ``origin``) before the reason a person gave for it (``note``)."""
    origin, note = (origin or "").strip(), (note or "").strip()
    if origin and note:
        return f"{origin}：{note}"
    return origin or note


def changelog_rows(
    obj, before, *, by, at, ctype=None, after=None, action=ChangeAction.UPDATE, note=""
):
    """Unsaved ChangeLog rows, one per field that differs from ``before`` (a ``snapshot``).

    For callers that write many objects' history in one ``bulk_create``. ``after`` defaults
    to a fresh ``snapshot`` of ``obj``. ``note``: the reason given for the change, kept on
    each row.
    """
    ChangeLog = _changelog_model()
    ctype = ctype or _ctype(obj)
    after = snapshot(obj, set(before)) if after is None else after
    return [
        ChangeLog(
            content_type=ctype,
            object_id=obj.pk,
            object_repr=str(obj)[:200],
            action=action,
            field=name,
            old_value=old,
            new_value=after.get(name, ""),
            changed_by=by,
            changed_at=at,
            note=note,
        )
        for name, old in before.items()
        if after.get(name, "") != old
    ]


def record_changes(obj, before, *, by, at=None, after=None, note=""):
    """Write one ChangeLog row per field that differs from ``before``.

    ``before`` is what ``snapshot`` returned before the change.
    """
    rows = changelog_rows(obj, before, by=by, at=at or timezone.now(), after=after, note=note)
    _changelog_model().objects.bulk_create(rows)
    return rows


def record_creation(obj, *, by, at=None, values=False, note=""):
    """The CREATE row of ``obj``; with ``values``, also one row per filled-in field
    ("" → value), so that the history shows what the record started as. ``note`` (where
    the record came from, e.g. an import) is kept on each row."""
    ChangeLog = _changelog_model()
    at = at or timezone.now()
    ctype = _ctype(obj)
    entry = ChangeLog.objects.create(
        content_type=ctype,
        object_id=obj.pk,
        object_repr=str(obj)[:200],
        action=ChangeAction.CREATE,
        changed_by=by,
        changed_at=at,
        note=note,
    )
    if values:
        initial = {name: "" for name in snapshot(obj)}
        rows = changelog_rows(
            obj, initial, by=by, at=at, ctype=ctype, action=ChangeAction.CREATE, note=note
        )
        ChangeLog.objects.bulk_create(rows)
    return entry


def record_deletion(obj, *, by, at=None):
    return _changelog_model().objects.create(
        content_type=_ctype(obj),
        object_id=obj.pk,
        object_repr=str(obj)[:200],
        action=ChangeAction.DELETE,
        changed_by=by,
        changed_at=at or timezone.now(),
    )


def history_for(obj):
    ChangeLog = _changelog_model()
    return ChangeLog.objects.filter(content_type=_ctype(obj), object_id=obj.pk).select_related(
        # changed_by's region and chain: an account without a name is shown by them
        "changed_by__region",
        "changed_by__chain",
    )
