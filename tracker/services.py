"""Work that spans several models: optimistic saves of a project, moving its problems.

The change-history helpers live in ``tracker.history``; they are re-exported here for the
modules that import them from this one.
"""

import functools

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import CheckConstraint, Q, UniqueConstraint
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import investment, locking, permissions, projects_service
from .history import (
    HISTORY_EXCLUDED,
    changelog_rows,
    history_for,
    noted,
    record_changes,
    record_creation,
    record_deletion,
    snapshot,
)
from .models import ChangeLog, Problem, Project, User

# What a caller may give: the editable fields, not those the application writes.
EDITABLE_FIELDS = {
    f.name
    for f in Project._meta.concrete_fields
    if f.editable and not f.primary_key and f.name not in projects_service.NOT_GIVEN
}

NOT_A_COMMISSIONER = _("Choose an active commissioner account.")

__all__ = [
    "HISTORY_EXCLUDED",
    "changelog_rows",
    "history_for",
    "move_problems",
    "record_changes",
    "record_creation",
    "record_deletion",
    "snapshot",
    "update_project",
]


# --- optimistic saves of a project ---------------------------------------------------------


def update_project(
    *,
    project_id,
    data,
    expected_version,
    by,
    stage=None,
    stage_on=None,
    note="",
    reason="",
    origin="",
):
    """Save ``data`` (field name → value) onto a project if it is still at ``expected_version``.

    The field edits and the optional stage change (through ``Project.advance_to``) happen in
    one transaction: both or neither. Raises ``locking.Conflict`` (carrying the current row)
    when the row has moved on (nothing is written), and ``ValidationError`` when the stage
    change is refused. Returns the saved project.

    Every rule is checked here, beneath every caller (the project form, the admin, scripts),
    on the row as it is now, before anything is written:

    - ``PermissionDenied`` unless ``by`` may edit the project (``permissions.EDIT``), and for
      any field outside ``projects_service.COMMON_FIELDS`` (the manager-only fields) unless
      ``by`` holds a manager's power over it (``permissions.MANAGE``);
    - ``ValidationError`` (messages by field) when the edited project fails ``full_clean``
      (the completed-investment cap, dates, constraints), or when the cumulative completed
      investment goes down (``investment``): a manager may lower it only with a ``reason``,
      kept on the history row of the figure.

    A move to another region or chain takes the project's problems (Problem.region and
    Problem.chain, copied when a problem is raised and read by the ledger's scope) along
    in the same transaction; see ``_move_problems``. Inspections stay with the region
    that was inspected.

    ``origin`` says where the change came from when it is not the edit form (an import, a
    bulk change, e.g. "Excel导入 #12"); it goes on every history row this call writes,
    before the reason or stage note (``history.noted``).
    """
    unknown = set(data) - EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"not editable through update_project: {sorted(unknown)}")
    with transaction.atomic():
        project = Project.objects.get(pk=project_id)
        if not permissions.may(by, permissions.EDIT, project):
            raise PermissionDenied
        manager_only = set(data) - set(projects_service.COMMON_FIELDS)
        if manager_only and not permissions.may(by, permissions.MANAGE, project):
            raise PermissionDenied(f"manager-only fields: {sorted(manager_only)}")
        locking.check(project, expected_version)
        moved_from = (project.region_id, project.chain_id)
        before = snapshot(project, set(data))
        check_edit(project, data, by=by, reason=reason)
        # The version guard is in the UPDATE's WHERE clause: a concurrent save that got in
        # after the read above has bumped the version, so this matches no row.
        locking.update(
            Project.objects,
            pk=project_id,
            expected_version=expected_version,
            **data,
            updated_at=timezone.now(),
        )
        project.refresh_from_db()
        now = timezone.now()
        figure = {k: before.pop(k) for k in ["completed_investment"] if k in before}
        history = changelog_rows(project, before, by=by, at=now, note=noted(origin))
        history += changelog_rows(project, figure, by=by, at=now, note=noted(origin, reason))
        if (project.region_id, project.chain_id) != moved_from:
            history += move_problems(project, by=by, at=now, note=noted(origin))
        ChangeLog.objects.bulk_create(history)
        if stage:
            project.advance_to(stage, on=stage_on, by=by, note=note, origin=origin)
    return project


def check_edit(project, data, *, by, reason=""):
    """``ValidationError`` unless ``data`` is a valid edit of ``project`` (as stored): the
    figure does not go down, and the edited project passes ``full_clean``: its edited
    fields, and every constraint that reads one of them (also those pairing an edited date
    with one left as it was). Leaves ``project`` holding the edited values. The import's
    preview asks it row by row, ``update_project`` before it writes."""
    errors = {}
    if "completed_investment" in data:
        errors = investment.project_figure_errors(
            project, data["completed_investment"], by=by, reason=reason
        )
    commissioner = data.get("commissioner")
    if commissioner is not None and not permissions.commissioners(
        User.objects.filter(pk=commissioner.pk)
    ):
        # The forms offer only these; an import or a bulk change confirmed after the
        # account was deactivated (or changed role) meets the same rule here.
        errors.setdefault("commissioner", []).append(NOT_A_COMMISSIONER)
    for name, value in data.items():
        setattr(project, name, value)
    untouched = [f.name for f in Project._meta.concrete_fields if f.name not in data]
    try:
        project.full_clean(exclude=untouched, validate_constraints=False)
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            errors.setdefault(name, []).extend(messages)
        raise ValidationError(errors) from None
    for constraint in _constraints_reading(frozenset(data)):
        try:
            constraint.validate(Project, project)
        except ValidationError as error:
            errors.setdefault(NON_FIELD_ERRORS, []).extend(error.messages)
    if errors:
        raise ValidationError(errors)


def _reads(constraint):
    """The fields a constraint reads, or None when that cannot be told (always checked)."""
    if isinstance(constraint, CheckConstraint) and isinstance(constraint.condition, Q):
        return constraint.condition.referenced_base_fields
    if isinstance(constraint, UniqueConstraint) and constraint.fields:
        return set(constraint.fields)
    return None


@functools.cache
def _constraints_reading(edited):
    """The constraints of Project that read one of the fields ``edited`` (names), also those
    pairing it with a field left as it was. One that reads only untouched fields holds
    already (the database enforces it on the stored row); asking it again cost a query
    each, 16 a row: most of a bulk change's or an import preview's time."""
    edited = set(edited) | {Project._meta.get_field(name).attname for name in edited}
    return [c for c in Project._meta.constraints if _reads(c) is None or _reads(c) & edited]


def move_problems(project, *, by, at, note=""):
    """Give the project's problems its (new) region and chain; their unsaved history rows.

    The ledger's scope (``permissions.RULES`` on ``Problem``) reads the copies
    on the problem, so without this the old region's staff and the old chain's office keep
    a moved project's problems and the new ones never see them. Every problem of the
    project moves, open or closed: the ledger of a region is the problems of its projects.
    Queries do not grow with the number of problems: one SELECT, one UPDATE, and the
    history goes into the caller's single bulk insert. The problem's version is not
    bumped (as for the daily overdue check): the problem itself was not edited, and every
    step re-checks the user's scope on the current row, so a form opened before the move
    cannot act outside the new scope.
    """
    problems = list(
        Problem.objects.filter(project=project)
        .exclude(region=project.region_id, chain=project.chain_id)
        .select_related("region", "chain")
        .order_by("pk")
    )
    if not problems:
        return []
    fields = {"region", "chain"}
    before = {problem.pk: snapshot(problem, fields) for problem in problems}
    Problem.objects.filter(pk__in=[problem.pk for problem in problems]).update(
        region=project.region_id, chain=project.chain_id
    )
    ctype = ContentType.objects.get_for_model(Problem)
    rows = []
    for problem in problems:
        problem.region, problem.chain = project.region, project.chain
        rows += changelog_rows(problem, before[problem.pk], by=by, at=at, ctype=ctype, note=note)
    return rows
