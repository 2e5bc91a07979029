"""The project book's write path for creating and deleting a project.

Editing a project is ``services.update_project`` (optimistic, with an optional stage change);
moving its stage is ``Project.advance_to``. Both record their history. This module holds the
other two ends of a project's life:

- ``create_project``: every project's history starts with its signing (签约), effective on
  the signing date, so that "the stage as of a day" has an answer from that day on (reports,
  lights, the dashboard). ``signing_change`` is that first StageChange, for the seed's bulk
  load too.
- ``delete_project``: the deletion is recorded before the row goes.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import permissions
from .choices import Stage
from .history import noted, record_creation, record_deletion
from .models import Project, StageChange

# Written by the application, never given by the caller.
NOT_GIVEN = {"stage", "version", "created_at", "updated_at"}

# Everyone who may edit a project (county staff of its region, its commissioner, managers).
COMMON_FIELDS = [
    "name",
    "park",
    "planned_start_on",
    "planned_production_on",
    "actual_start_on",
    "actual_production_on",
    "annual_planned_investment",
    "completed_investment",
    "responsible_leader",
    "responsible_unit",
    "notes",
]
# Facts of the signed contract and the assignment of people: city bureau managers only.
MANAGER_FIELDS = [
    "enterprise",
    "region",
    "chain",
    "capital_source",
    "signed_on",
    "signed_amount",
    "commissioner",
]
# Any other field a caller may give (the admin's code and sample flag) is a manager's too:
# ``services.update_project`` asks ``permissions.MANAGE`` for everything not in COMMON_FIELDS.


def signing_change(project, *, by=None, recorded_at=None):
    """The unsaved first StageChange of ``project``: "" → 签约 on its signing date."""
    return StageChange(
        project=project,
        from_stage="",
        to_stage=Stage.SIGNED,
        effective_on=project.signed_on,
        changed_by=by,
        recorded_at=recorded_at or timezone.now(),
    )


def create_project(*, data, by, at=None, origin=""):
    """Create a project from ``data`` (field name → value) at 签约; managers only.

    Validates the model (``full_clean``: constraints, the park's region, dates not in the
    future), then saves the project, its signing StageChange and its creation history
    (one row per filled-in field) in one transaction. Raises ValidationError (nothing saved).
    ``origin`` (an import, say) is kept on the signing StageChange and the history rows.
    """
    if not permissions.may(by, permissions.MANAGE, "project"):
        raise PermissionDenied
    given = NOT_GIVEN & set(data)
    if given:
        raise ValidationError(
            _("These fields are set by the application, not given: %(fields)s.")
            % {"fields": ", ".join(sorted(given))}
        )
    at = at or timezone.now()
    with transaction.atomic():
        project = Project(**data, stage=Stage.SIGNED)
        project.full_clean()
        project.save()
        project.refresh_from_db()  # the stored values (decimal places) go into the history
        first = signing_change(project, by=by, recorded_at=at)
        first.note = noted(origin)
        first.save()
        record_creation(project, by=by, at=at, values=True, note=noted(origin))
    return project


def delete_project(*, project, by):
    """Delete ``project`` (its stage changes and dispatches go with it); managers only."""
    if not permissions.may(by, permissions.MANAGE, project):
        raise PermissionDenied
    with transaction.atomic():
        record_deletion(project, by=by)
        project.delete()
