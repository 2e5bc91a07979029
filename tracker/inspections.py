"""季督查 — quarterly inspections and their rectification items.

Who does what (scope of reading is ``Inspection.objects.visible_to(user)``):

- managers create inspections and add rectification items, verify (销号) done items and
  escalate (督办) items that are not verified yet;
- county staff of the inspected region mark an open item done, with a note and a date
  (managers may do it too);
- commissioners and chain offices read the inspections of their projects.

An item moves open → done → verified and nothing else: ``ITEM_TRANSITIONS`` is the whole
table. Escalation is a flag beside the status (an escalated item still has to be done and
verified). Every change goes through a function below: keyword-only arguments, one
transaction, the row locked, the change recorded in the ChangeLog. The front end and the
admin call the same functions, so both get the rules and the history:

- an item's deadline is not before the inspection date (``deadline_error``), whether the
  item is added, its deadline changed, or the inspection's date moved later;
- an inspection's date stays in its quarter and not in the future, its project in its
  region (``Inspection.clean``, run by ``full_clean``).

"Overdue" is computed live (deadline before today, item still open:
``RectificationItemQuerySet.overdue``); the daily check only stamps ``overdue_since``.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import permissions
from .choices import RectificationStatus
from .history import record_changes, record_creation, record_deletion, snapshot
from .models import Inspection, RectificationItem

DONE = "done"
VERIFY = "verify"
ESCALATE = "escalate"

# action → (status it starts from, status it leads to); escalation keeps the status.
ITEM_TRANSITIONS = {
    DONE: ({RectificationStatus.OPEN}, RectificationStatus.DONE),
    VERIFY: ({RectificationStatus.DONE}, RectificationStatus.VERIFIED),
    ESCALATE: ({RectificationStatus.OPEN, RectificationStatus.DONE}, None),
}


def can_manage(user):
    """Create and edit inspections, add and edit items, verify, escalate (the city bureau)."""
    return permissions.may(user, permissions.MANAGE, "inspection")


def can_mark_done(user, inspection):
    """County staff of the inspected region, and managers."""
    return permissions.may(user, permissions.MARK_DONE, inspection)


def may(user, action, inspection):
    """Whether ``user`` may take ``action`` on an item of ``inspection`` at all."""
    if action == DONE:
        return can_mark_done(user, inspection)
    return permissions.may(user, permissions.MANAGE, inspection)


def transition_error(item, action):
    """Why ``action`` cannot be taken on ``item`` now (a message), or None."""
    if action not in ITEM_TRANSITIONS:
        return _("Unknown action.")
    sources, _target = ITEM_TRANSITIONS[action]
    if item.status not in sources:
        return _("This item is %(status)s: it cannot be %(action)s.") % {
            "status": item.get_status_display(),
            "action": ACTION_LABELS[action],
        }
    if action == ESCALATE and item.escalated:
        return _("This item is already escalated.")
    return None


ACTION_LABELS = {
    DONE: _("marked done"),
    VERIFY: _("verified"),
    ESCALATE: _("escalated"),
}


def allowed_actions(user, item):
    """The actions ``user`` may take on ``item`` now (for the buttons on the page)."""
    return [
        action
        for action in ITEM_TRANSITIONS
        if may(user, action, item.inspection) and transition_error(item, action) is None
    ]


# --- services ----------------------------------------------------------------------------


DEADLINE_BEFORE_INSPECTION = _("The deadline cannot be before the inspection date.")
INSPECTION_AFTER_DEADLINES = _(
    "The inspection date cannot be after the deadline of one of its rectification items (%(date)s)."
)
# What an edit may change; the status and its dates move through the actions below.
INSPECTION_FIELDS = (
    "year",
    "quarter",
    "region",
    "project",
    "title",
    "inspected_on",
    "leader",
    "findings",
)
ITEM_FIELDS = ("description", "owner_unit", "deadline")


def deadline_error(*, inspection, deadline):
    """Why an item of ``inspection`` cannot have ``deadline`` (a message), or None."""
    if deadline and inspection.inspected_on and deadline < inspection.inspected_on:
        return DEADLINE_BEFORE_INSPECTION
    return None


def inspection_date_error(*, inspection, inspected_on):
    """Why saved ``inspection`` cannot move to ``inspected_on`` (its items' deadlines)."""
    if inspection.pk is None or inspected_on is None:
        return None
    earliest = (
        RectificationItem.objects.filter(inspection=inspection, deadline__lt=inspected_on)
        .order_by("deadline")
        .values_list("deadline", flat=True)
        .first()
    )
    if earliest is None:
        return None
    return INSPECTION_AFTER_DEADLINES % {"date": earliest.isoformat()}


def _require_manager(by, target="inspection"):
    if not permissions.may(by, permissions.MANAGE, target):
        raise PermissionDenied


def _only(data, allowed):
    unknown = set(data) - set(allowed)
    if unknown:
        raise ValidationError(
            _("These fields cannot be changed here: %(fields)s.")
            % {"fields": ", ".join(sorted(unknown))}
        )


def create_inspection(*, data, by):
    """Create an inspection from ``data`` (field name → value); managers only."""
    _require_manager(by)
    _only(data, INSPECTION_FIELDS)
    with transaction.atomic():
        inspection = Inspection(**data, created_by=by)
        inspection.full_clean(exclude=["created_by"])
        inspection.save()
        record_creation(inspection, by=by)
    return inspection


def update_inspection(*, inspection, data, by):
    """Change an inspection's fields (``data``: field name → value); managers only.

    Its date may not move after the deadline of one of its items.
    """
    _only(data, INSPECTION_FIELDS)
    with transaction.atomic():
        locked = Inspection.objects.select_for_update().get(pk=inspection.pk)
        _require_manager(by, locked)
        before = snapshot(locked, set(data))
        for name, value in data.items():
            setattr(locked, name, value)
        locked.full_clean(exclude=["created_by"])
        error = inspection_date_error(inspection=locked, inspected_on=locked.inspected_on)
        if error:
            raise ValidationError({"inspected_on": error})
        locked.save(update_fields=list(data) or None)
        record_changes(locked, before, by=by)
    return locked


def delete_inspection(*, inspection, by):
    """Delete an inspection with its items, each deletion recorded; managers only."""
    with transaction.atomic():
        locked = Inspection.objects.select_for_update().get(pk=inspection.pk)
        _require_manager(by, locked)
        for item in locked.items.all():
            record_deletion(item, by=by)
        record_deletion(locked, by=by)
        locked.delete()


def add_item(*, inspection, description, owner_unit, deadline, by):
    """Add a rectification item (open) to ``inspection``; managers only."""
    _require_manager(by, inspection)
    with transaction.atomic():
        inspection = Inspection.objects.select_for_update().get(pk=inspection.pk)
        error = deadline_error(inspection=inspection, deadline=deadline)
        if error:
            raise ValidationError({"deadline": error})
        item = RectificationItem(
            inspection=inspection,
            description=description,
            owner_unit=owner_unit,
            deadline=deadline,
        )
        item.full_clean()
        item.save()
        record_creation(item, by=by)
    return item


def update_item(*, item, data, by):
    """Change an item's description, responsible unit or deadline; managers only."""
    _only(data, ITEM_FIELDS)
    with transaction.atomic():
        locked = (
            RectificationItem.objects.select_for_update()
            .select_related("inspection")
            .get(pk=item.pk)
        )
        _require_manager(by, locked.inspection)
        fields = set(data)
        # A new deadline that is not past clears the daily check's overdue flag (as a
        # problem's extension does); the old flag stays readable in the history.
        if (
            "deadline" in data
            and locked.overdue_since
            and data["deadline"] is not None
            and data["deadline"] >= timezone.localdate()
        ):
            fields.add("overdue_since")
        before = snapshot(locked, fields)
        for name, value in data.items():
            setattr(locked, name, value)
        if "overdue_since" in fields:
            locked.overdue_since = None
        locked.full_clean()
        error = deadline_error(inspection=locked.inspection, deadline=locked.deadline)
        if error:
            raise ValidationError({"deadline": error})
        locked.save(update_fields=list(fields) or None)
        record_changes(locked, before, by=by)
    return locked


def delete_item(*, item, by):
    """Delete a rectification item, the deletion recorded; managers only."""
    with transaction.atomic():
        locked = RectificationItem.objects.select_for_update().get(pk=item.pk)
        _require_manager(by, locked.inspection)
        record_deletion(locked, by=by)
        locked.delete()


def _locked(item, action, by):
    """The item's row, locked, after checking ``by`` may take ``action`` now."""
    locked = (
        RectificationItem.objects.select_for_update().select_related("inspection").get(pk=item.pk)
    )
    if not may(by, action, locked.inspection):
        raise PermissionDenied
    error = transition_error(locked, action)
    if error:
        raise ValidationError(error)
    return locked


def _check_day(on, *, not_before, before_message):
    if on > timezone.localdate():
        raise ValidationError(_("The date cannot be in the future."))
    if on < not_before:
        raise ValidationError(before_message)


def mark_item_done(*, item, on, note, by):
    """open → done, with the date it was done and how (county staff of the region, managers)."""
    note = (note or "").strip()
    if not note:
        raise ValidationError(_("Say how the item was rectified."))
    with transaction.atomic():
        locked = _locked(item, DONE, by)
        _check_day(
            on,
            not_before=locked.inspection.inspected_on,
            before_message=_("An item cannot be done before the inspection."),
        )
        before = snapshot(locked, {"status", "done_on", "done_note"})
        locked.status = RectificationStatus.DONE
        locked.done_on = on
        locked.done_note = note
        locked.save(update_fields=["status", "done_on", "done_note"])
        record_changes(locked, before, by=by)
    return locked


def verify_item(*, item, on, by):
    """done → verified (销号); managers only."""
    with transaction.atomic():
        locked = _locked(item, VERIFY, by)
        _check_day(
            on,
            not_before=locked.done_on,
            before_message=_("An item cannot be verified before it was done."),
        )
        before = snapshot(locked, {"status", "verified_on", "verified_by"})
        locked.status = RectificationStatus.VERIFIED
        locked.verified_on = on
        locked.verified_by = by
        locked.save(update_fields=["status", "verified_on", "verified_by"])
        record_changes(locked, before, by=by)
    return locked


def escalate_item(*, item, by):
    """Flag an open or done item for 督办 (supervision by the city); managers only."""
    with transaction.atomic():
        locked = _locked(item, ESCALATE, by)
        before = snapshot(locked, {"escalated"})
        locked.escalated = True
        locked.save(update_fields=["escalated"])
        record_changes(locked, before, by=by)
    return locked


def quarter_of(day):
    return (day.month - 1) // 3 + 1
