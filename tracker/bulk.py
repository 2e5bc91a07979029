"""Bulk changes on the project list: one field set on a whole set of projects at once.

The set is either the rows the user ticked (``ids``) or "all N matching this filter"
(``query``: the list's own query string, re-run through the list page's FilterSet with the
user's scope, ``tasks.list_filterset``), never the page on screen. The confirmation page shows
the set's ``fingerprint`` (its size and a digest of its ids and versions); applying re-reads
the set inside the one transaction, locked, and refuses with :class:`SetChanged` unless it is
still exactly the set that was confirmed, so what is changed is what the user saw counted.

Each row goes through ``services.update_project`` (the same rules and history as the edit
form), marked with the bulk change's origin; a row the rules refuse (outside the user's
scope, a stage move not allowed, …) is listed with its reason and the others are applied,
or nothing is when the user asked for all or nothing.
"""

import hashlib
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from . import locking, permissions
from .choices import Stage
from .exports import describe_filters
from .models import Project, User
from .projects_service import COMMON_FIELDS
from .rules import allowed_targets
from .services import NOT_A_COMMISSIONER, update_project

STAGE = "stage"
# The fields a bulk change may set, in the order the list offers them.
FIELDS = ("commissioner", "responsible_unit", "responsible_leader", STAGE)


def field_label(name):
    return Project._meta.get_field(name).verbose_name


def offered_fields(user):
    """The fields ``user`` may set in bulk: none without the right to edit any project, the
    commissioner only with a manager's power over projects."""
    if not permissions.may(user, permissions.EDIT, "project"):
        return []
    manager = permissions.may(user, permissions.MANAGE, "project")
    # A field outside COMMON_FIELDS is a manager's (the stage's moves are the rules' own).
    common = {*COMMON_FIELDS, STAGE}
    return [name for name in FIELDS if manager or name in common]


def offered_stages(user):
    """The stages some project could be moved to by ``user`` (``rules.allowed_targets`` from
    any current stage), in their order; each row is still checked on its own."""
    override = permissions.may(user, permissions.MANAGE, "project")
    reachable = {
        target
        for current in Stage.values
        for target in allowed_targets(current=current, override=override)
    }
    return [(value, label) for value, label in Stage.choices if value in reachable]


def commissioner_choices():
    return permissions.commissioners(User.objects.all()).order_by("display_name", "pk")


class SetChanged(Exception):
    """The set is no longer the one confirmed (rows came, went or were edited meanwhile);
    nothing was changed. ``current`` is the set as it is now, to confirm again."""

    def __init__(self, current):
        self.current = current
        super().__init__(f"the set changed: now {current.count} projects")


@dataclass
class BulkSet:
    """The projects a bulk change would touch, as read now."""

    versions: dict  # project id → version
    filterset: object = None  # the list's FilterSet for "all matching", else None

    @property
    def ids(self):
        return sorted(self.versions)

    @property
    def count(self):
        return len(self.versions)

    @property
    def fingerprint(self):  # "count-sha256" (fingerprint_count reads the count back)
        digest = hashlib.sha256()
        for pk in self.ids:
            digest.update(f"{pk}:{self.versions[pk]}\n".encode())
        return f"{self.count}-{digest.hexdigest()}"

    def editable_count(self, user):
        """How many of the set ``user`` may change (the others would be refused)."""
        projects = Project.objects.filter(pk__in=self.ids)
        return permissions.restrict(projects, user, permissions.EDIT).count()

    def describe(self):
        """The set in words: the filter of "all matching", or the ticked rows."""
        if self.filterset is None:
            return _("the selected rows")
        return describe_filters(self.filterset)


def resolve_set(*, by, ids=None, query=None, lock=False):
    """The set of ``ids`` (ticked rows) or of the list filtered by ``query`` (all matching),
    within what ``by`` may see. ``lock``: read it ``select_for_update`` (inside the applying
    transaction). ValidationError for an invalid filter, ticked rows the user cannot see (or
    that are gone), an empty set, or more rows than TRACKER["BULK_MAX_ROWS"]."""
    if (ids is None) == (query is None):
        raise ValueError("give either ids or query")
    filterset = None
    if query is not None:
        # A real cycle: tracker.tasks imports the list views, and the project list imports
        # this module (which fields it offers).
        from .tasks import list_filterset

        filterset = list_filterset("projects", user=by, query=query)
        if not filterset.is_valid():
            raise ValidationError(_("The list's filter is not valid; correct it on the list."))
        members = filterset.qs.order_by().values("pk")
    else:
        members = Project.objects.visible_to(by).filter(pk__in=list(ids)).values("pk")
    rows = Project.objects.filter(pk__in=members)
    if lock:
        rows = rows.select_for_update()
    found = BulkSet(dict(rows.values_list("pk", "version")), filterset)
    if ids is not None and found.count != len(set(ids)):
        raise ValidationError(
            _(
                "%(count)s of the selected projects do not exist or are not visible to you. "
                "Nothing was changed."
            )
            % {"count": len(set(ids)) - found.count}
        )
    if not found.count:
        raise ValidationError(_("No projects are selected. Nothing was changed."))
    limit = settings.TRACKER["BULK_MAX_ROWS"]
    if found.count > limit:
        raise ValidationError(
            _(
                "This would change %(count)s projects; at most %(limit)s can be changed at "
                "once. Narrow the filter."
            )
            % {"count": found.count, "limit": limit}
        )
    return found


def clean_value(*, by, field, value, stage_on=None):
    """``value`` checked for ``field`` (what the service stores). PermissionDenied for a
    field ``by`` may not set in bulk; ValidationError for an unknown field or a bad value."""
    if field not in FIELDS:
        raise ValidationError(_("Unknown field for a bulk change."))
    if field not in offered_fields(by):
        raise PermissionDenied
    if field == "commissioner":
        pk = value.pk if isinstance(value, User) else value
        found = commissioner_choices().filter(pk=pk).first() if str(pk).isdigit() else None
        if found is None:
            raise ValidationError(NOT_A_COMMISSIONER)
        return found
    if field == STAGE:
        if value not in dict(offered_stages(by)):
            raise ValidationError(_("Unknown project stage."))
        if stage_on is None:
            raise ValidationError(_("Give the date the new stage took effect."))
        if stage_on > timezone.localdate():
            raise ValidationError(_("The effective date cannot be in the future."))
        return value
    return Project._meta.get_field(field).clean(value or "", None)


@dataclass
class BulkResult:
    count: int  # the size of the set
    applied: list = field(default_factory=list)  # ids changed
    unchanged: list = field(default_factory=list)  # ids that already had the value
    refused: list = field(default_factory=list)  # (project, reason)
    rolled_back: bool = False  # all or nothing, and something was refused


def fingerprint_count(fingerprint):
    """The set's size a fingerprint states (0 when it is not one): decides only whether the
    change runs in the background; the change itself checks the whole fingerprint."""
    head = str(fingerprint).split("-", 1)[0]
    return int(head) if head.isdigit() else 0


def set_changed_message(count):
    return _(
        "The projects of this change have changed since you confirmed (they are now "
        "%(count)s). Nothing was changed. Check and confirm again."
    ) % {"count": count}


def summary(result):
    """A ``BulkResult`` as JSON, for a background job's page: the counts and the refused
    rows as (code, name, reason)."""
    return {
        "count": result.count,
        "applied": len(result.applied),
        "unchanged": len(result.unchanged),
        "refused": [[p.code, p.name, str(reason)] for p, reason in result.refused],
        "rolled_back": result.rolled_back,
    }


def origin_for(field, count):
    """The history note of a bulk change, in the data's language (Chinese):
    "批量修改（负责单位，12个项目）"."""
    with translation.override("zh-hans"):
        return str(
            _("Bulk change (%(field)s, %(count)s projects)")
            % {"field": field_label(field), "count": count}
        )


def _reason(error):
    if isinstance(error, PermissionDenied):
        return _("You may not edit this project (outside your scope).")
    if isinstance(error, locking.Conflict):
        return _("Someone else saved this project meanwhile.")
    return " ".join(error.messages)


def apply_bulk_change(
    *,
    by,
    field,
    value,
    fingerprint,
    ids=None,
    query=None,
    stage_on=None,
    all_or_nothing=False,
    progress=None,
):
    """Set ``field`` to ``value`` (a stage: move to it, effective ``stage_on``) on the set of
    ``ids`` or of the list filtered by ``query``, if that set is still the one whose
    ``fingerprint`` was confirmed (else :class:`SetChanged`, nothing changed).

    One transaction; each row through ``services.update_project`` in its own savepoint (its
    atomic block). Rows refused by the rules are listed with their reason; with
    ``all_or_nothing`` one refusal rolls every row back. Returns a :class:`BulkResult`.
    """
    value = clean_value(by=by, field=field, value=value, stage_on=stage_on)
    stored = "commissioner_id" if field == "commissioner" else field
    wanted = value.pk if field == "commissioner" else value
    with transaction.atomic():
        current = resolve_set(by=by, ids=ids, query=query, lock=True)
        if current.fingerprint != fingerprint:
            raise SetChanged(current)
        result = BulkResult(count=current.count)
        origin = origin_for(field, current.count)
        present = dict(Project.objects.filter(pk__in=current.ids).values_list("pk", stored))
        refused = []
        for done, pk in enumerate(current.ids, start=1):
            if progress:
                progress(done, current.count)
            if present[pk] == wanted:
                result.unchanged.append(pk)
                continue
            try:
                update_project(
                    project_id=pk,
                    data={} if field == STAGE else {field: value},
                    expected_version=current.versions[pk],
                    by=by,
                    stage=value if field == STAGE else None,
                    stage_on=stage_on,
                    origin=origin,
                )
            except (PermissionDenied, ValidationError, locking.Conflict) as error:
                refused.append((pk, _reason(error)))
            else:
                result.applied.append(pk)
        if refused:
            projects = Project.objects.in_bulk([pk for pk, _reason in refused])
            result.refused = [(projects[pk], reason) for pk, reason in refused]
        if refused and all_or_nothing:
            transaction.set_rollback(True)
            result.rolled_back = True
            result.applied = []
    return result
