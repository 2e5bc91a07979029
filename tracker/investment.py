"""Cumulative completed investment (累计完成投资): the rules every write path shares.

The project form, ``services.update_project`` (so the admin too), the model's ``clean`` and
the weekly dispatch sheet all ask this module, so the same figure gets the same answer and
the same message wherever it is entered.

The figure is cumulative, so it does not go down:

- nobody but a city bureau manager (``permissions.MANAGE`` on the project) may enter a
  figure below the project's current one — on the project form, through
  ``update_project``, or on the sheet for a week whose report sets the project's figure —
  nor, on the sheet, below the week's own report already filed, below the previous report
  or above a later week's report;
- a manager correcting a wrong figure may, but only with a reason, which the change
  history keeps (``ChangeLog.note``).

``going_down`` says which of those bounds a figure crosses; ``lowering_errors`` turns that
into the messages for the user at hand (refused, or asked for the reason);
``project_figure_errors`` is the two for a direct edit of the project's figure.
"""

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from . import permissions
from .money import wan

# What a figure would go below (or above): the project's figure edited directly (the
# project form, update_project); the project's figure when a week's report sets it; the
# week's own report already filed (a correction); the previous week's report; a later
# week's report.
PROJECT, CURRENT, OWN, PREVIOUS, LATER = "project", "current", "own", "previous", "later"
REASON_MAX = 500  # characters of a reason for lowering a figure


def cap_error(done, signed_amount):
    """The message refusing ``done`` above ``signed_amount × MAX_COMPLETED_RATIO``, or None
    (no figure, or nothing signed yet)."""
    if done is None or not signed_amount or signed_amount <= 0:
        return None
    ratio = settings.TRACKER["MAX_COMPLETED_RATIO"]
    if done <= signed_amount * ratio:
        return None
    return _(
        "Completed investment of %(done)s 万元 is more than %(ratio)s times the signed "
        "amount (%(signed)s 万元); please check the figure."
    ) % {"done": wan(done), "ratio": ratio, "signed": wan(signed_amount)}


def going_down(done, *, current=None, own=None, previous=None, later=None, kind=CURRENT):
    """[(kind, figure)] for a cumulative figure ``done`` that would go down: below the
    project's ``current`` figure (reported as ``kind``), this week's ``own`` report or the
    ``previous`` report (each only when it is a higher floor than those before it), or
    above a ``later`` report. None: no bound."""
    found = []
    highest = None
    for name, floor in ((kind, current), (OWN, own), (PREVIOUS, previous)):
        if floor is not None and done < floor and (highest is None or floor > highest):
            found.append((name, floor))
            highest = floor
    if later is not None and done > later:
        found.append((LATER, later))
    return found


def lowering_errors(going, done, *, project, by, reason=""):
    """Field → messages for the bounds ``going`` (from ``going_down``) that ``done``
    crosses: refused beside the figure for anyone but a manager; for a manager, asked
    beside ``reason`` unless one is given. Empty when the figure may be saved."""
    if not going:
        return {}
    if not permissions.may(by, permissions.MANAGE, project):
        return {"completed_investment": [_refusal(kind, bound, done) for kind, bound in going]}
    if not (reason or "").strip():
        return {"reason": [_reason_needed(kind, bound, done) for kind, bound in going]}
    return {}


def project_figure_errors(project, done, *, by, reason=""):
    """``lowering_errors`` for setting the project's own figure to ``done`` directly (the
    project form, ``update_project``): ``project`` as stored before the change."""
    if done is None or project.completed_investment is None:
        return {}
    going = going_down(done, current=project.completed_investment, kind=PROJECT)
    return lowering_errors(going, done, project=project, by=by, reason=reason)


def _refusal(kind, figure, done):
    """The message refusing a figure that goes down, with both figures."""
    values = {"figure": wan(figure), "done": wan(done)}
    if kind == PROJECT:
        return (
            _(
                "The cumulative completed investment cannot go down: the project now has "
                "%(figure)s 万元 and the new figure is %(done)s 万元. If the project's figure "
                "is wrong, ask a city bureau manager to correct it."
            )
            % values
        )
    if kind == CURRENT:
        return (
            _(
                "The cumulative completed investment cannot go down: the project now has "
                "%(figure)s 万元 and this row has %(done)s 万元. Enter at least %(figure)s "
                "万元; if the project's figure is wrong, ask a city bureau manager to correct it."
            )
            % values
        )
    if kind == OWN:
        return (
            _(
                "The cumulative completed investment cannot go down: this week's report was "
                "filed with %(figure)s 万元 and this row has %(done)s 万元. If that figure was "
                "wrong, ask a city bureau manager to correct it."
            )
            % values
        )
    if kind == PREVIOUS:
        return (
            _(
                "The cumulative completed investment cannot go down: the previous report had "
                "%(figure)s 万元 and this row has %(done)s 万元. If that figure was wrong, ask a "
                "city bureau manager to correct it."
            )
            % values
        )
    return (
        _(
            "The cumulative completed investment cannot go down: a later week's report already "
            "has %(figure)s 万元 and this row has %(done)s 万元. If that figure was wrong, ask a "
            "city bureau manager to correct it."
        )
        % values
    )


def _reason_needed(kind, figure, done):
    """A manager's version of ``_refusal``: the correction is possible with a reason."""
    values = {"figure": wan(figure), "done": wan(done)}
    if kind in (PROJECT, CURRENT):
        return (
            _(
                "This lowers the project's cumulative completed investment from %(figure)s 万元 to "
                "%(done)s 万元: give the reason for the correction (kept in the change history)."
            )
            % values
        )
    if kind == OWN:
        return (
            _(
                "This lowers this week's report from %(figure)s 万元 to %(done)s 万元: give the "
                "reason for the correction (kept in the change history)."
            )
            % values
        )
    if kind == PREVIOUS:
        return (
            _(
                "This is below the previous report's %(figure)s 万元 (this row: %(done)s 万元): "
                "give the reason for the correction (kept in the change history)."
            )
            % values
        )
    return (
        _(
            "This is above a later week's report of %(figure)s 万元 (this row: %(done)s 万元): "
            "give the reason for the correction (kept in the change history)."
        )
        % values
    )
