"""Pure domain rules: classification thresholds, stage transitions, overdue problems.

Kept free of the ORM so that models, querysets, forms and the seed share one definition.
"""

from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .choices import CapitalSource, ProblemStatus, Stage, Tier5020


def tier_5020_thresholds(capital_source):
    """(tier-20 threshold, tier-50 threshold) in 万元 for a capital source."""
    conf = settings.TRACKER
    if capital_source == CapitalSource.FOREIGN:
        rate = conf["USD_CNY"]
        low, high = conf["TIER_5020_FOREIGN_USD"]
        return (low * rate, high * rate)
    return conf["TIER_5020_DOMESTIC"]


def tier_5020(amount, capital_source):
    if amount is None:
        return Tier5020.NONE
    low, high = tier_5020_thresholds(capital_source)
    if amount >= high:
        return Tier5020.TIER_50
    if amount >= low:
        return Tier5020.TIER_20
    return Tier5020.NONE


def billion_or_more(amount):
    return amount is not None and Decimal(amount) >= settings.TRACKER["BILLION_THRESHOLD"]


def problem_is_overdue(problem, today):
    """The Python form of ``querysets.q_problem_overdue``: open, and past its deadline
    (before ``today``) or flagged by the daily check."""
    if problem.status not in ProblemStatus.open_states():
        return False
    return bool(problem.overdue_since or (problem.deadline and problem.deadline < today))


def stage_before_stall(stage_changes):
    """The main-line stage a stalled project resumes from: the ``to_stage`` of the latest
    (effective date, then id) of ``stage_changes`` that is not a side state, or None.

    ``stage_changes``: any iterable of StageChange, e.g. a prefetched list, so a page of
    projects costs no query per project (``Project.stage_before_stall`` passes its own)."""
    main = [c for c in stage_changes if c.to_stage not in Stage.side_states()]
    return max(main, key=lambda c: (c.effective_on, c.id)).to_stage if main else None


def stage_transition_error(*, current, target, override, resume_stage=None):
    """None when ``current → target`` is allowed, else the message to show.

    ``override``: the user holds a manager's power over the project
    (``permissions.may(user, MANAGE, project)``): any move is allowed.
    """
    if target not in Stage.values:
        return _("Unknown project stage.")
    if target == current:
        return _("The project is already at this stage.")
    if override:
        return None
    if current == Stage.TERMINATED:
        return _("Only a city bureau manager can reopen a terminated project.")
    if target in Stage.side_states():
        return _("Only a city bureau manager can mark a project as stalled or terminated.")
    base = resume_stage if current == Stage.STALLED else current
    if base is not None and Stage.order(target) < Stage.order(base):
        return _("Moving a project back to an earlier stage needs a city bureau manager.")
    return None


def stage_move_error(*, current, target, override, resume_stage, on, today, signed_on, last_on):
    """None when moving a project from ``current`` to ``target`` with effect from ``on`` is
    allowed, else the message: the transition (``stage_transition_error``), and the date:
    not in the future, not before the signing date ``signed_on``, not before ``last_on``,
    the effective date of the project's last stage change (None: no change yet).
    ``Project.advance_to`` and the import's preview both ask this."""
    error = stage_transition_error(
        current=current, target=target, override=override, resume_stage=resume_stage
    )
    if error:
        return error
    if on > today:
        return _("The effective date cannot be in the future.")
    if signed_on and on < signed_on:
        return _("The effective date cannot be before the signing date.")
    if last_on and on < last_on:
        return _("The effective date cannot be before the last stage change (%(date)s).") % {
            "date": last_on.isoformat()
        }
    return None


def allowed_targets(*, current, override, resume_stage=None):
    return [
        stage
        for stage in Stage.values
        if stage_transition_error(
            current=current, target=stage, override=override, resume_stage=resume_stage
        )
        is None
    ]


def actual_date_errors(*, project, changed, target, effective_on, override, history):
    """(field, message) pairs refusing the new actual start / production dates ``changed``
    (field → new date, only those that differ from ``project``'s stored ones). The project
    form and the import's preview both ask this.

    ``target``: the stage this same save moves to ("" for none), with effect from
    ``effective_on``; ``override``: a manager's power over the project; ``history``: the
    project's stage changes as (to_stage, effective_on), oldest first.

    - Set or changed: the stage must have reached the milestone (start: 开工 or later on
      the main line, or 停滞/终止 after having started; production: 投产), and the date
      may not be after the first date the stage history (or this save's change) records
      for it: construction started no later than the day 开工 was reported.
    - A date the stage history recorded (a StageChange's effective date) is changed or
      cleared only by a manager.
    - Cleared: refused while the stage (main line) has reached the milestone; to undo a
      start, a manager moves the stage back in the same save.
    """
    errors = []
    final = target or project.stage
    side = Stage.side_states()
    if project.stage in side:
        main = [stage for stage, _on in history if stage not in side]
        before_side = main[-1] if main else None
    else:
        before_side = project.stage
    started = Stage.reached(Stage.STARTED)
    milestones = {
        "actual_start_on": (
            Stage.STARTED,
            started,
            final in started or (final in side and before_side in started),
        ),
        "actual_production_on": (Stage.PRODUCTION, [Stage.PRODUCTION], final == Stage.PRODUCTION),
    }
    for name, new in changed.items():
        milestone, stages, reached = milestones[name]
        old = getattr(project, name)
        recorded = [on for stage, on in history if stage in stages]
        label = Stage(milestone).label
        if old is not None and old in recorded and not override:
            errors.append(
                (
                    name,
                    _(
                        "This date was recorded by the stage history (“%(stage)s” effective "
                        "%(date)s). Only a city bureau manager can change or clear it; ask a "
                        "manager to correct it."
                    )
                    % {"stage": label, "date": old.isoformat()},
                )
            )
            continue
        if new is None:
            if final not in side and reached:
                errors.append(
                    (
                        name,
                        _(
                            "A project at stage “%(stage)s” needs this date. To undo the "
                            "step, a city bureau manager moves the stage back."
                        )
                        % {"stage": Stage(final).label},
                    )
                )
            continue
        if not reached:
            errors.append(
                (
                    name,
                    _(
                        "This date can only be entered once the project has reached "
                        "“%(stage)s”; change the stage in the same save."
                    )
                    % {"stage": label},
                )
            )
            continue
        bounds = list(recorded)
        if target in stages and project.stage not in stages and effective_on:
            bounds.append(effective_on)
        if bounds and new > min(bounds):
            errors.append(
                (
                    name,
                    _(
                        "This date cannot be after %(date)s, the date the stage history "
                        "records for “%(stage)s”."
                    )
                    % {"date": min(bounds).isoformat(), "stage": label},
                )
            )
    return errors
