"""Warning lights (红黄绿灯) for projects, computed in the database as of a given day.

Every rule takes ``today`` (the as-of date) as a parameter, so the monthly report can ask
"what were the lights on 30 June" and tests can pin the calendar. Thresholds come from
``settings.TRACKER`` (city rules differ; see DOMAIN.md):

``WARN_START_YELLOW_DAYS`` (30), ``WARN_START_RED_DAYS`` (90),
``WARN_INVEST_YELLOW_POINTS`` (10), ``WARN_INVEST_RED_POINTS`` (30).

Rules
-----
Start light (开工灯)
    Applies to a project that has a planned start date and had not started by ``today``
    (``actual_start_on`` empty or after ``today``) and was not terminated as of ``today``.
    ``days late = today − planned_start_on``.
    days late > RED days → red; days late > YELLOW days → yellow; otherwise green.
    So exactly 30 days late is still green, 31 is yellow; exactly 90 is yellow, 91 is red.

Investment light (投资灯)
    Applies only when ``today`` is in the year the annual plan is for: the project carries one
    ``annual_planned_investment``, the plan of the current year (``timezone.localdate().year``,
    or ``plan_year`` when given). For a day of a past year there is no plan of that year to
    measure against, so only the start light (and the stalled rule) apply: the lights of a
    past year never depend on the day the book was loaded (``INVEST_LIGHT_NOTE``).
    Within that year it applies to a project that had started by ``today``, was not in
    production by ``today`` (``actual_production_on`` empty or after ``today``), was neither
    terminated nor stalled as of ``today``, and has an annual planned investment > 0.

    * expected % (序时进度) = elapsed fraction of the calendar year of ``today``:
      ``100 × day-of-year(today) / days-in-year`` (31 Dec = 100 %).
    * baseline = the cumulative completed investment of the project's last weekly dispatch
      of ISO year ``today.year − 1`` (0 when there is none).
    * actual % = ``100 × (project.completed_investment − baseline) / annual plan``.
      The investment figure is the project's current cumulative figure (kept up to date by
      every dispatch); the as-of date moves the calendar, the baseline and the stage tests.
      The monthly report passes ``investment_from_dispatch=True``: the figure of the latest
      dispatch of a week that began on or before ``today`` instead (a true as-of figure).
    * points behind = expected % − actual %.
      points behind > RED points → red; points behind ≥ YELLOW points → yellow (the 10–30
      band includes both ends: exactly 10 and exactly 30 are yellow, 30.01 is red);
      otherwise green. Being ahead of schedule gives a negative number and green.

Stalled (停滞)
    A project whose stage as of ``today`` is stalled is red, whatever the two lights say.

Overall light
    The worst of start light, investment light and the stalled rule.
    Terminated projects are green with no reasons (they no longer count).

``annotate_lights(qs, today=...)`` adds, in one SQL query and without per-row queries:
``lights_as_of`` (the date), ``lights_stage`` (stage as of the date), ``start_days_late``
(int or None), ``invest_expected_pct``, ``invest_actual_pct``, ``invest_points_behind``
(Decimal or None), ``start_light``, ``invest_light``, ``light`` ("red"/"yellow"/"green")
and ``light_rank`` (2/1/0, for ordering worst first).
``light_reasons(project)`` turns those annotations into translated sentences.
"""

import calendar
import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import models
from django.db.models import (
    Case,
    DecimalField,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Q,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .asof import InvestmentAsOf, InvestmentBeforeYear, StageAsOf, side_column
from .choices import Light, Stage
from .money import MONEY

PCT = DecimalField(max_digits=20, decimal_places=6)


class _Real(Func):
    """Its argument, as a non-integer on SQLite (where 30100 / 1000 would be 30)."""

    template = "%(expressions)s"
    output_field = PCT

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, template="CAST(%(expressions)s AS REAL)")


RANK = {Light.GREEN: 0, Light.YELLOW: 1, Light.RED: 2}
INVEST_LIGHT_NOTE = _(
    "The investment light (pro-rata schedule, 序时进度) applies only to the current year's "
    "plan (投资进度灯仅适用于当年计划): for a past year only the start light is shown."
)


def invest_light_applies(day, *, plan_year=None):
    """Whether the investment light applies as of ``day``: ``day`` is in the plan's year
    (the current year unless ``plan_year`` is given)."""
    return day.year == (timezone.localdate().year if plan_year is None else plan_year)


def expected_percent(today):
    """序时进度: the elapsed share of ``today``'s calendar year, in percent (Decimal)."""
    day_of_year = today.timetuple().tm_yday
    days = 366 if calendar.isleap(today.year) else 365
    return Decimal(100) * Decimal(day_of_year) / Decimal(days)


def _thresholds():
    conf = settings.TRACKER
    return (
        int(conf["WARN_START_YELLOW_DAYS"]),
        int(conf["WARN_START_RED_DAYS"]),
        Decimal(conf["WARN_INVEST_YELLOW_POINTS"]),
        Decimal(conf["WARN_INVEST_RED_POINTS"]),
    )


def annotate_lights(queryset, *, today, investment_from_dispatch=False, plan_year=None):
    """Annotate a Project queryset with its warning lights as of ``today`` (see module doc).

    ``plan_year``: the year the projects' annual planned investment is for (default: the
    current year); the investment light applies only when ``today`` is in that year.

    ``investment_from_dispatch=True`` (the monthly report) takes the completed investment
    from the latest weekly dispatch of a week that began on or before ``today`` (0 when
    none) instead of the project's current figure, so a past day's lights stay as they were
    whatever is reported later.
    """
    if not isinstance(today, datetime.date) or isinstance(today, datetime.datetime):
        raise TypeError("annotate_lights needs a date for today")
    yellow_days, red_days, yellow_points, red_points = _thresholds()
    expected = expected_percent(today)

    not_started = Q(actual_start_on__isnull=True) | Q(actual_start_on__gt=today)
    not_producing = Q(actual_production_on__isnull=True) | Q(actual_production_on__gt=today)

    # Each as-of value is one join of the query (tracker/asof.py), computed once per row
    # however many of the rules below refer to it.
    qs, stage = side_column(queryset, StageAsOf(today))
    qs, baseline = side_column(qs, InvestmentBeforeYear(today.year))
    if investment_from_dispatch:
        qs, done = side_column(qs, InvestmentAsOf(today))
    else:
        done = F("completed_investment")
    qs = qs.annotate(
        lights_as_of=Value(today, output_field=models.DateField()),
        lights_done=ExpressionWrapper(done, output_field=MONEY),
        lights_stage=Coalesce(stage, F("stage"), output_field=models.CharField()),
        lights_baseline=baseline,
    )
    start_applies = (
        Q(planned_start_on__isnull=False, planned_start_on__lt=today)
        & not_started
        & ~Q(lights_stage=Stage.TERMINATED)
    )
    if invest_light_applies(today, plan_year=plan_year):
        invest_applies = (
            Q(actual_start_on__lte=today, annual_planned_investment__gt=0)
            & not_producing
            & ~Q(lights_stage__in=Stage.side_states())
        )
    else:  # a past (or future) year: no plan of that year to measure against
        invest_applies = Q(pk__in=[])
    # points behind = expected − 100 (done − baseline) / plan; the comparisons below are
    # multiplied out by the (positive) plan so they stay exact decimals on both backends.
    progress = ExpressionWrapper(
        Value(Decimal(100)) * (F("lights_done") - F("lights_baseline")), output_field=PCT
    )

    def behind_at_least(points):
        return Q(
            invest_progress__lte=ExpressionWrapper(
                Value(expected - points) * F("annual_planned_investment"), output_field=PCT
            )
        )

    def behind_more_than(points):
        return Q(
            invest_progress__lt=ExpressionWrapper(
                Value(expected - points) * F("annual_planned_investment"), output_field=PCT
            )
        )

    qs = qs.annotate(
        start_days_late=Case(
            When(
                start_applies,
                then=ExpressionWrapper(
                    Value(today, output_field=models.DateField()) - F("planned_start_on"),
                    output_field=models.DurationField(),
                ),
            ),
            default=None,
            output_field=models.DurationField(),
        ),
        invest_progress=Case(When(invest_applies, then=progress), default=None, output_field=PCT),
        invest_expected_pct=Case(
            When(invest_applies, then=Value(expected, output_field=PCT)),
            default=None,
            output_field=PCT,
        ),
    )
    qs = qs.annotate(
        invest_actual_pct=Case(
            When(
                invest_applies,
                then=ExpressionWrapper(
                    _Real(F("invest_progress")) / F("annual_planned_investment"),
                    output_field=PCT,
                ),
            ),
            default=None,
            output_field=PCT,
        ),
        start_light=Case(
            When(
                start_applies & Q(planned_start_on__lt=today - _days(red_days)), then=Value("red")
            ),
            When(
                start_applies & Q(planned_start_on__lt=today - _days(yellow_days)),
                then=Value("yellow"),
            ),
            default=Value("green"),
            output_field=models.CharField(),
        ),
        invest_light=Case(
            When(invest_applies & behind_more_than(red_points), then=Value("red")),
            When(invest_applies & behind_at_least(yellow_points), then=Value("yellow")),
            default=Value("green"),
            output_field=models.CharField(),
        ),
    )
    qs = qs.annotate(
        invest_points_behind=Case(
            When(
                invest_applies,
                then=ExpressionWrapper(
                    Value(expected, output_field=PCT) - F("invest_actual_pct"), output_field=PCT
                ),
            ),
            default=None,
            output_field=PCT,
        ),
        light=Case(
            When(
                Q(lights_stage=Stage.STALLED) | Q(start_light="red") | Q(invest_light="red"),
                then=Value("red"),
            ),
            When(Q(start_light="yellow") | Q(invest_light="yellow"), then=Value("yellow")),
            default=Value("green"),
            output_field=models.CharField(),
        ),
    )
    return qs.annotate(
        light_rank=Case(
            When(light="red", then=Value(2)),
            When(light="yellow", then=Value(1)),
            default=Value(0),
            output_field=IntegerField(),
        )
    )


def _days(n):
    return datetime.timedelta(days=n)


def _one_decimal(value):
    return Decimal(value).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def days_late(project):
    """Whole days the start is late (from the ``start_days_late`` annotation), or None."""
    value = getattr(project, "start_days_late", None)
    if value is None:
        return None
    if isinstance(value, datetime.timedelta):
        return value.days
    return int(value)


def light_reasons(project):
    """Human-readable reasons for a red or yellow light, from ``annotate_lights`` values."""
    reasons = []
    if getattr(project, "lights_stage", None) == Stage.STALLED:
        reasons.append(_("Project stalled"))
    if getattr(project, "start_light", Light.GREEN) != Light.GREEN:
        reasons.append(
            _("Construction start %(days)s days behind plan") % {"days": days_late(project)}
        )
    if getattr(project, "invest_light", Light.GREEN) != Light.GREEN:
        reasons.append(
            _("Investment %(points)s points behind the pro-rata schedule")
            % {"points": _one_decimal(project.invest_points_behind)}
        )
    return reasons
