"""链长制 problem ledger: who may do what, and the steps of a problem's life.

Decisions (the views, the forms and the tests rely on them):

Raising
    County staff raise problems against a project of their region; a commissioner against a
    project assigned to them; the chain office against a project of its chain or against the
    chain as a whole; a manager against any project or chain. A project's problem takes the
    chain and the region from the project; a chain-wide problem has no region.

Steps (status raised → assigned → resolved → closed)
    assign    raised → assigned      chain office of the chain, manager. A responsible unit and
                                     a deadline (not before the raising date, not in the past).
    extend    assigned → assigned    chain office, manager. A new, later deadline (not in the
                                     past) and a reason. An extension clears the overdue flag:
                                     the old flag stays readable in the change history.
    resolve   assigned → resolved    chain office, manager, and county staff of the problem's
                                     region (they handle it on the ground). A resolution text.
    close     resolved → closed      chain office, manager (销号 after checking the resolution).
    reopen    resolved → assigned    chain office, manager, with a reason; an optional new
                                     deadline. The resolution and its date are cleared (kept in
                                     the change history).
    escalate  raised/assigned        chain office, manager, with a reason: marks 督办. A human
                                     decision; the daily check never escalates.
    A commissioner raises and reads; all other steps are refused to them (403).

Every step is one transaction: the problem row is updated only if it still has the version
the form was opened with (the optimistic lock of ``tracker.locking``: ``Conflict``
otherwise), a ProblemEvent and ChangeLog rows are written. Bad input raises
``ValidationError`` with field → message, and nothing is saved. A step the user may never
take on this problem raises PermissionDenied; a step that is not possible in the current
status raises ValidationError (non-field).

Overdue
    ``manage.py flag_overdue`` (daily) sets ``overdue_since`` = the day after the deadline
    for problems still raised/assigned; a resolved or closed problem keeps its flag as a
    record that it went overdue. Lists count as overdue the open problems that are flagged
    or whose deadline has passed (so the count is right even before the daily run).
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import locking, permissions
from .choices import ProblemAction, ProblemStatus
from .models import IndustryChain, Problem, ProblemEvent, Project
from .services import record_changes, record_creation, snapshot
from .validators import control_characters_error, date_range_error

TITLE_MAX = 200
TEXT_MAX = 4000
NOTE_MAX = 2000
UNIT_MAX = 128

ASSIGN = ProblemAction.ASSIGN
EXTEND = ProblemAction.EXTEND
RESOLVE = ProblemAction.RESOLVE
CLOSE = ProblemAction.CLOSE
REOPEN = ProblemAction.REOPEN
ESCALATE = ProblemAction.ESCALATE

# The steps offered on a problem's page, in the order they are shown.
STEPS = (ASSIGN, EXTEND, RESOLVE, CLOSE, REOPEN, ESCALATE)

# action → statuses it may start from
FROM_STATUSES = {
    ASSIGN: {ProblemStatus.RAISED},
    EXTEND: {ProblemStatus.ASSIGNED},
    RESOLVE: {ProblemStatus.ASSIGNED},
    CLOSE: {ProblemStatus.RESOLVED},
    REOPEN: {ProblemStatus.RESOLVED},
    ESCALATE: {ProblemStatus.RAISED, ProblemStatus.ASSIGNED},
}


CONFLICT_MESSAGE = _(
    "Someone else changed this problem after you opened the page. Nothing was saved; "
    "the page now shows the current state, please check it and try again."
)


# --- who may do what (the rules are tracker.permissions.RULES) ------------------------------
# Each step asks one action of the permission module: resolving is ``RESOLVE`` (the chain
# side and county staff of the problem's region), every other step is ``ACT``.
STEP_PERMISSION = {action: permissions.ACT for action in STEPS} | {RESOLVE: permissions.RESOLVE}


def may_take(user, problem, action):
    """Whether ``user`` may take ``action`` on this problem (any status)."""
    return permissions.may(user, STEP_PERMISSION[action], problem)


def allowed_steps(user, problem):
    """The steps ``user`` may take on ``problem`` now (role and current status)."""
    return [
        action
        for action in STEPS
        if problem.status in FROM_STATUSES[action]
        and may_take(user, problem, action)
        and not (action == ESCALATE and problem.escalated)
    ]


def raisable_projects(user):
    """Projects ``user`` may raise a problem against."""
    return Project.objects.restrict(user, permissions.RAISE)


def raisable_chains(user):
    """Chains ``user`` may raise a chain-wide problem against."""
    return IndustryChain.objects.restrict(user, permissions.RAISE)


def may_raise(user):
    return raisable_projects(user).exists() or raisable_chains(user).exists()


# --- checks on input -------------------------------------------------------------------------
def _text(value, *, field, required_message=None, maximum=TEXT_MAX, errors):
    value = (value or "").strip()
    if not value and required_message:
        errors[field] = required_message
    elif control_characters_error(value):
        errors[field] = control_characters_error(value)
    elif len(value) > maximum:
        errors[field] = _("At most %(max)s characters (this text has %(n)s).") % {
            "max": maximum,
            "n": len(value),
        }
    return value


def _deadline(value, *, raised_on, today, field, errors, required=True):
    if value is None:
        if required:
            errors[field] = _("Give a deadline.")
        return value
    if date_range_error(value):
        errors[field] = date_range_error(value)
    elif value < raised_on:
        errors[field] = _("The deadline cannot be before the problem was raised (%(raised)s).") % {
            "raised": raised_on.isoformat()
        }
    elif value < today:
        errors[field] = _("The deadline cannot be in the past.")
    return value


def _raise_errors(errors):
    if errors:
        raise ValidationError(errors)


# --- raising -----------------------------------------------------------------------------------
def raise_problem(*, by, title, description="", project=None, chain=None, today=None):
    """Record a new problem (status raised) against ``project`` or, chain-wide, ``chain``."""
    today = today or timezone.localdate()
    errors = {}
    title = _text(
        title,
        field="title",
        required_message=_("Say what the problem is."),
        maximum=TITLE_MAX,
        errors=errors,
    )
    description = _text(description, field="description", errors=errors)
    if project is not None and chain is not None and project.chain_id != chain.pk:
        errors["project"] = _("This project belongs to another chain.")
    elif project is None and chain is None:
        errors["project"] = _("Choose the project, or the chain for a chain-wide problem.")
    if project is not None and not permissions.may(by, permissions.RAISE, project):
        errors["project"] = _("You cannot raise a problem for this project.")
    if project is None and chain is not None:
        if not permissions.may(by, permissions.RAISE, chain):
            errors["chain"] = _("You cannot raise a chain-wide problem for this chain.")
    _raise_errors(errors)
    with transaction.atomic():
        problem = Problem.objects.create(
            chain_id=project.chain_id if project is not None else chain.pk,
            project=project,
            region_id=project.region_id if project is not None else None,
            title=title,
            description=description,
            raised_by=by,
            raised_on=today,
        )
        ProblemEvent.objects.create(
            problem=problem,
            action=ProblemAction.RAISE,
            to_status=ProblemStatus.RAISED,
            by=by,
        )
        record_creation(problem, by=by)
    return problem


# --- the steps ---------------------------------------------------------------------------------
def _step(*, problem_id, expected_version, by, action, check):
    """Common frame of every step.

    The row is re-read inside the transaction and checked in this order: the user's role
    (PermissionDenied), the version (``locking.Conflict``), the status (ValidationError), then the
    input: ``check(problem, errors)`` returns ``(changes, note)`` or fills ``errors``
    (field → message). The UPDATE only matches if the version is still ``expected_version``.
    """
    with transaction.atomic():
        problem = Problem.objects.select_related("chain", "project", "region").get(pk=problem_id)
        if not may_take(by, problem, action):
            raise PermissionDenied(_("You cannot do this on this problem."))
        locking.check(problem, expected_version)
        if problem.status not in FROM_STATUSES[action] or (
            action == ESCALATE and problem.escalated
        ):
            raise ValidationError(
                _("This step is not possible while the problem is “%(status)s”.")
                % {"status": problem.get_status_display()}
            )
        errors = {}
        changes, note = check(problem, errors)
        _raise_errors(errors)
        before = snapshot(problem, set(changes))
        old_status, old_deadline = problem.status, problem.deadline
        locking.update(Problem.objects, pk=problem.pk, expected_version=expected_version, **changes)
        problem.refresh_from_db()
        now = timezone.now()
        record_changes(problem, before, by=by, at=now)
        moved = problem.deadline != old_deadline
        ProblemEvent.objects.create(
            problem=problem,
            action=action,
            from_status=old_status,
            to_status=problem.status,
            old_deadline=old_deadline if moved else None,
            new_deadline=problem.deadline if moved else None,
            note=note,
            by=by,
            at=now,
        )
    return problem


def _note(value, errors, *, required_message=None):
    return _text(
        value, field="note", required_message=required_message, maximum=NOTE_MAX, errors=errors
    )


def assign_problem(*, problem_id, expected_version, by, unit, deadline, note="", today=None):
    """raised → assigned: a responsible unit and a deadline."""
    today = today or timezone.localdate()

    def check(problem, errors):
        clean_unit = _text(
            unit,
            field="assigned_unit",
            required_message=_("Name the responsible unit."),
            maximum=UNIT_MAX,
            errors=errors,
        )
        _deadline(
            deadline, raised_on=problem.raised_on, today=today, field="deadline", errors=errors
        )
        changes = {
            "status": ProblemStatus.ASSIGNED,
            "assigned_unit": clean_unit,
            "deadline": deadline,
        }
        return changes, _note(note, errors)

    return _step(
        problem_id=problem_id, expected_version=expected_version, by=by, action=ASSIGN, check=check
    )


def extend_deadline(*, problem_id, expected_version, by, deadline, reason, today=None):
    """A new, later deadline with a reason; clears the overdue flag."""
    today = today or timezone.localdate()

    def check(problem, errors):
        clean = _note(reason, errors, required_message=_("An extension needs a reason."))
        if deadline is None:
            errors["deadline"] = _("Give the new deadline.")
        elif deadline <= problem.deadline:
            errors["deadline"] = _(
                "The new deadline must be later than the current one (%(current)s)."
            ) % {"current": problem.deadline.isoformat()}
        else:
            _deadline(
                deadline, raised_on=problem.raised_on, today=today, field="deadline", errors=errors
            )
        return {"deadline": deadline, "overdue_since": None}, clean

    return _step(
        problem_id=problem_id, expected_version=expected_version, by=by, action=EXTEND, check=check
    )


def resolve_problem(*, problem_id, expected_version, by, resolution, today=None):
    """assigned → resolved, with the resolution text."""
    today = today or timezone.localdate()

    def check(problem, errors):
        clean = _text(
            resolution,
            field="resolution",
            required_message=_("Describe how the problem was resolved."),
            errors=errors,
        )
        return {"status": ProblemStatus.RESOLVED, "resolution": clean, "resolved_on": today}, ""

    return _step(
        problem_id=problem_id, expected_version=expected_version, by=by, action=RESOLVE, check=check
    )


def close_problem(*, problem_id, expected_version, by, note="", today=None):
    """resolved → closed (销号)."""
    today = today or timezone.localdate()

    def check(problem, errors):
        return {"status": ProblemStatus.CLOSED, "closed_on": today}, _note(note, errors)

    return _step(
        problem_id=problem_id, expected_version=expected_version, by=by, action=CLOSE, check=check
    )


def reopen_problem(*, problem_id, expected_version, by, reason, deadline=None, today=None):
    """resolved → assigned, with a reason and optionally a new deadline."""
    today = today or timezone.localdate()

    def check(problem, errors):
        clean = _note(reason, errors, required_message=_("Reopening needs a reason."))
        changes = {"status": ProblemStatus.ASSIGNED, "resolution": "", "resolved_on": None}
        if deadline is not None:
            _deadline(
                deadline, raised_on=problem.raised_on, today=today, field="deadline", errors=errors
            )
            changes.update(deadline=deadline, overdue_since=None)
        return changes, clean

    return _step(
        problem_id=problem_id, expected_version=expected_version, by=by, action=REOPEN, check=check
    )


def escalate_problem(*, problem_id, expected_version, by, reason, today=None):
    """Mark the problem 督办 (escalated), with a reason."""

    def check(problem, errors):
        clean = _note(reason, errors, required_message=_("Escalation (督办) needs a reason."))
        return {"escalated": True}, clean

    return _step(
        problem_id=problem_id,
        expected_version=expected_version,
        by=by,
        action=ESCALATE,
        check=check,
    )


SERVICES = {
    ASSIGN: assign_problem,
    EXTEND: extend_deadline,
    RESOLVE: resolve_problem,
    CLOSE: close_problem,
    REOPEN: reopen_problem,
    ESCALATE: escalate_problem,
}
