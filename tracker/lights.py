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
    Expression,
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

from .asof import InvestmentAsOf, InvestmentBeforeYear, SideColumn, StageAsOf, side_column
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

    The rules are built as ORM expressions (``_lights_in_orm``) and compiled to SQL once per
    process for each key — the day, whether the investment light applies, where the figure
    comes from, the thresholds in force and the database vendor — then reused: building and
    compiling the 38 kB of SQL was a fifth of a list page (issue 10). Each annotation here is
    a ``_Compiled`` expression that writes that SQL for the aliases of the query it is in.
    """
    if not isinstance(today, datetime.date) or isinstance(today, datetime.datetime):
        raise TypeError("annotate_lights needs a date for today")
    key = (
        queryset.model._meta.label,
        today,
        bool(investment_from_dispatch),
        invest_light_applies(today, plan_year=plan_year),
        _thresholds(),
    )
    template = _template(key)
    qs, stage, baseline, done = _inputs(queryset, today, investment_from_dispatch)
    # The columns the compiled SQL reads: the project's row and the as-of joins.
    inputs = [F("pk"), _side_column(stage), _side_column(baseline)]
    inputs.append(_side_column(done) if investment_from_dispatch else F("pk"))
    return qs.annotate(
        **{
            name: _Compiled(template, name, *inputs, output_field=template.output_fields[name])
            for name in _LIGHT_VALUES
        }
    )


def _inputs(queryset, today, investment_from_dispatch):
    """The four inputs of the rules (the day, the completed figure, the stage as of the day,
    the figure before the year), as annotations: one join per as-of value."""
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
    return qs, stage, baseline, done


# The annotations compiled once per key (the four inputs above stay plain expressions).
_LIGHT_VALUES = (
    "start_days_late",
    "invest_progress",
    "invest_expected_pct",
    "invest_actual_pct",
    "start_light",
    "invest_light",
    "invest_points_behind",
    "light",
    "light_rank",
)
# Stand-ins for the aliases in the compiled SQL: the project's table, the stage-as-of join,
# the baseline join and the as-of investment join. They cannot occur in SQL otherwise.
_TOKENS = ("\x00lights-project\x00", "\x00lights-stage\x00", "\x00lights-baseline\x00")
_TOKENS += ("\x00lights-done\x00",)
_TEMPLATES = {}
_TEMPLATES_KEPT = 64  # days × options; the oldest is dropped beyond this


class _Template:
    """The lights of one key as ORM expressions on a query of their own, and their SQL per
    (vendor, annotation) once compiled. Only an optimisation: nothing outside this process
    reads it, and every input of the SQL (day, options, thresholds) is in the key."""

    def __init__(self, key):
        from django.apps import apps  # the model by its label: lights load before the models

        label, today, from_dispatch, applies, thresholds = key
        queryset = _lights_in_orm(
            models.QuerySet(model=apps.get_model(label)),
            today=today,
            investment_from_dispatch=from_dispatch,
            applies=applies,
            thresholds=thresholds,
        )
        self.query = queryset.query
        annotations = self.query.annotations
        self.output_fields = {name: annotations[name].output_field for name in _LIGHT_VALUES}
        aliases = [self.query.get_initial_alias()]
        aliases += [
            _side_column(annotations["lights_stage"]).alias,
            _side_column(annotations["lights_baseline"]).alias,
        ]
        if from_dispatch:
            aliases.append(_side_column(annotations["lights_done"]).alias)
        self.tokens = dict(zip(aliases, _TOKENS, strict=False))
        self.sql = {}

    def compiled(self, name, connection):
        found = self.sql.get((connection.vendor, name))
        if found is None:
            compiler = self.query.get_compiler(connection=connection)
            quote, tokens = compiler.quote_name_unless_alias, self.tokens
            compiler.quote_name_unless_alias = lambda alias: tokens.get(alias) or quote(alias)
            sql, params = compiler.compile(self.query.annotations[name])
            found = self.sql[(connection.vendor, name)] = (sql, tuple(params))
        return found


def _template(key):
    template = _TEMPLATES.get(key)
    if template is None:
        while len(_TEMPLATES) >= _TEMPLATES_KEPT:
            _TEMPLATES.pop(next(iter(_TEMPLATES)))
        template = _TEMPLATES[key] = _Template(key)
    return template


def _side_column(expression):
    """The ``SideColumn`` an as-of value is read from (inside its ``Coalesce``, if any)."""
    stack = [expression]
    while stack:
        node = stack.pop()
        if isinstance(node, SideColumn):
            return node
        stack += node.get_source_expressions()
    raise ValueError(f"no as-of column in {expression!r}")


class _Compiled(Expression):
    """One light annotation: the template's SQL for ``name`` with the aliases of this query.

    Its source expressions are the columns that SQL reads (the project's primary key and
    the as-of join columns), so the query keeps those joins (``asof._used``) and relabelling
    (a subquery's U0) moves them; ``as_sql`` writes the current aliases for the stand-ins."""

    def __init__(self, template, name, *inputs, output_field):
        super().__init__(output_field=output_field)
        self.template, self.name, self.inputs = template, name, list(inputs)

    def __repr__(self):
        return f"{self.__class__.__name__}({self.name})"

    def get_source_expressions(self):
        return self.inputs

    def set_source_expressions(self, exprs):
        self.inputs = list(exprs)

    @property
    def identity(self):
        return (self.__class__, id(self.template), self.name, *(e.identity for e in self.inputs))

    def __eq__(self, other):
        return isinstance(other, _Compiled) and self.identity == other.identity

    def __hash__(self):
        return hash(self.identity)

    def as_sql(self, compiler, connection):
        sql, params = self.template.compiled(self.name, connection)
        for token, column in zip(_TOKENS, self.inputs, strict=False):
            sql = sql.replace(token, compiler.quote_name_unless_alias(column.alias))
        return sql, list(params)


def _lights_in_orm(queryset, *, today, investment_from_dispatch, applies, thresholds):
    """The rules of the module doc as ORM expressions: ``queryset`` annotated with every
    light value (``_LIGHT_VALUES`` and the four inputs). The one definition of the rules;
    ``annotate_lights`` compiles it once per key (``_Compiled``)."""
    yellow_days, red_days, yellow_points, red_points = thresholds
    expected = expected_percent(today)

    not_started = Q(actual_start_on__isnull=True) | Q(actual_start_on__gt=today)
    not_producing = Q(actual_production_on__isnull=True) | Q(actual_production_on__gt=today)

    # Each as-of value is one join of the query (tracker/asof.py), computed once per row
    # however many of the rules below refer to it.
    qs, *_ = _inputs(queryset, today, investment_from_dispatch)
    start_applies = (
        Q(planned_start_on__isnull=False, planned_start_on__lt=today)
        & not_started
        & ~Q(lights_stage=Stage.TERMINATED)
    )
    if applies:
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
