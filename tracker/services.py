"""Work that spans several models: change history, optimistic saves, dispatch filing."""

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone

from . import locking
from .choices import ChangeAction

HISTORY_EXCLUDED = {"id", "version", "created_at", "updated_at"}


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


def changelog_rows(obj, before, *, by, at, ctype=None, note=""):
    """Unsaved ChangeLog rows, one per field that differs from ``before`` (a ``snapshot``).

    For callers that write many objects' history in one ``bulk_create``. ``note``: the
    reason given for the change, kept on each row.
    """
    from .models import ChangeLog

    ctype = ctype or ContentType.objects.get_for_model(obj, for_concrete_model=True)
    after = snapshot(obj, set(before))
    return [
        ChangeLog(
            content_type=ctype,
            object_id=obj.pk,
            object_repr=str(obj)[:200],
            action=ChangeAction.UPDATE,
            field=name,
            old_value=old,
            new_value=after[name],
            changed_by=by,
            changed_at=at,
            note=note,
        )
        for name, old in before.items()
        if after[name] != old
    ]


def record_changes(obj, before, *, by, at=None):
    """Write one ChangeLog row per field that differs from ``before``.

    ``before`` is what ``snapshot`` returned before the change.
    """
    from .models import ChangeLog

    rows = changelog_rows(obj, before, by=by, at=at or timezone.now())
    ChangeLog.objects.bulk_create(rows)
    return rows


def record_creation(obj, *, by, at=None):
    from .models import ChangeLog

    return ChangeLog.objects.create(
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=True),
        object_id=obj.pk,
        object_repr=str(obj)[:200],
        action=ChangeAction.CREATE,
        changed_by=by,
        changed_at=at or timezone.now(),
    )


def history_for(obj):
    from .models import ChangeLog

    ctype = ContentType.objects.get_for_model(obj, for_concrete_model=True)
    return ChangeLog.objects.filter(content_type=ctype, object_id=obj.pk).select_related(
        "changed_by"
    )


# --- saves of a project from its form ------------------------------------------------------


def update_project(*, project_id, data, expected_version, by, stage=None, stage_on=None, note=""):
    """Save ``data`` (field name → value) onto a project if it is still at ``expected_version``.

    The field edits and the optional stage change (through ``Project.advance_to``) happen in
    one transaction: both or neither. Raises ``locking.Conflict`` (carrying the current row)
    when the row has moved on (nothing is written), and ``ValidationError`` when the stage
    change is refused. Returns the saved project.

    A move to another region or chain takes the project's problems (Problem.region and
    Problem.chain, copied when a problem is raised and read by the ledger's scope) along
    in the same transaction; see ``_move_problems``. Inspections stay with the region
    that was inspected.
    """
    from .models import ChangeLog, Project

    with transaction.atomic():
        project = Project.objects.get(pk=project_id)
        locking.check(project, expected_version)
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
        history = changelog_rows(project, before, by=by, at=now)
        if (project.region_id, project.chain_id) != moved_from:
            history += move_problems(project, by=by, at=now)
        ChangeLog.objects.bulk_create(history)
        if stage:
            project.advance_to(stage, on=stage_on, by=by, note=note)
    return project


def move_problems(project, *, by, at):
    """Give the project's problems its (new) region and chain; their unsaved history rows.

    The ledger's scope (``ProblemQuerySet.visible_to`` / ``actionable_by``) reads the copies
    on the problem, so without this the old region's staff and the old chain's office keep
    a moved project's problems and the new ones never see them. Every problem of the
    project moves, open or closed: the ledger of a region is the problems of its projects.
    Queries do not grow with the number of problems: one SELECT, one UPDATE, and the
    history goes into the caller's single bulk insert. The problem's version is not
    bumped (as for the daily overdue check): the problem itself was not edited, and every
    step re-checks the user's scope on the current row, so a form opened before the move
    cannot act outside the new scope.
    """
    from .models import Problem

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
