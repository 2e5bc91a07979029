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


def allowed_targets(*, current, override, resume_stage=None):
    return [
        stage
        for stage in Stage.values
        if stage_transition_error(
            current=current, target=stage, override=override, resume_stage=resume_stage
        )
        is None
    ]
