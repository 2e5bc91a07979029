"""Work that spans several models: optimistic saves of a project, moving its problems.

The change-history helpers live in ``tracker.history``; they are re-exported here for the
modules that import them from this one.
"""

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from . import investment, locking
from .history import (
    HISTORY_EXCLUDED,
    changelog_rows,
    history_for,
    record_changes,
    record_creation,
    record_deletion,
    snapshot,
)
from .models import ChangeLog, Problem, Project

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
    *, project_id, data, expected_version, by, stage=None, stage_on=None, note="", reason=""
):
    """Save ``data`` (field name → value) onto a project if it is still at ``expected_version``.

    The field edits and the optional stage change (through ``Project.advance_to``) happen in
    one transaction: both or neither. Raises ``locking.Conflict`` (carrying the current row)
    when the row has moved on (nothing is written), and ``ValidationError`` when the stage
    change is refused. Returns the saved project.

    The cumulative completed investment does not go down (``investment``): a manager may
    lower it only with a ``reason``, kept on the history row of the figure; otherwise
    ``ValidationError`` with the message beside ``completed_investment`` or ``reason``.

    A move to another region or chain takes the project's problems (Problem.region and
    Problem.chain, copied when a problem is raised and read by the ledger's scope) along
    in the same transaction; see ``_move_problems``. Inspections stay with the region
    that was inspected.
    """
    with transaction.atomic():
        project = Project.objects.get(pk=project_id)
        locking.check(project, expected_version)
        if "completed_investment" in data:
            found = investment.project_figure_errors(
                project, data["completed_investment"], by=by, reason=reason
            )
            if found:
                raise ValidationError(found)
        moved_from = (project.region_id, project.chain_id)
        before = snapshot(project, set(data))
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
        history = changelog_rows(project, before, by=by, at=now)
        history += changelog_rows(project, figure, by=by, at=now, note=reason.strip())
        if (project.region_id, project.chain_id) != moved_from:
            history += move_problems(project, by=by, at=now)
        ChangeLog.objects.bulk_create(history)
        if stage:
            project.advance_to(stage, on=stage_on, by=by, note=note)
    return project


def move_problems(project, *, by, at):
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
        rows += changelog_rows(problem, before[problem.pk], by=by, at=at, ctype=ctype)
    return rows
