"""The monthly report's as-of context and its rates, defined once (see the package doc)."""

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import (
    Aggregate,
    Count,
    DateField,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils.translation import gettext_lazy as _

from ..asof import (
    FirstStop,
    FurthestReached,
    InvestmentAsOf,
    StageAsOf,
    per_row,
    reached,
    side_column,
)
from ..choices import Stage
from ..models import Problem, Project, WeeklyDispatch
from ..money import MONEY, to_decimal

CENT = Decimal("0.01")


# --- the as-of context ------------------------------------------------------------------------
@dataclass(frozen=True)
class AsOf:
    """The as-of day D a rate is computed for, and its period (the weeks of the dispatch rate).

    The monthly report's period is D's month (``start`` left out); the annual assessment's is
    the year up to D (``AsOf.year_to(...)``). The year to date always runs from 1 January of
    D's year to D.
    """

    day: datetime.date
    start: datetime.date | None = None  # the period's first day; None: the first of D's month
    # Prefixed to the names of the per-row annotations (``name``), so that the rows of two
    # as-of days can be annotated in one queryset (this month's report and last month's).
    tag: str = ""

    def name(self, key):
        """The annotation ``key`` (``report_stage`` …) of this as-of day's rows."""
        return f"{self.tag}{key}"

    @classmethod
    def year_to(cls, year, *, today):
        """The year ``year`` as of 31 December, or as of ``today`` while the year runs."""
        return cls(min(datetime.date(year, 12, 31), today), start=datetime.date(year, 1, 1))

    @property
    def year_start(self):
        return self.day.replace(month=1, day=1)

    @property
    def month_start(self):
        return self.day.replace(day=1)

    @property
    def period_start(self):
        return self.start or self.month_start

    @property
    def weeks(self):
        """ISO weeks whose dispatch deadline day falls in the period: (year, week, start, end).

        Consecutive weeks, in order."""
        weekday = int(settings.TRACKER["DISPATCH_DEADLINE_WEEKDAY"])
        result = []
        first = self.period_start
        iso_year, iso_week, _wd = (first - datetime.timedelta(days=7)).isocalendar()
        start = datetime.date.fromisocalendar(iso_year, iso_week, 1)
        while start <= self.day:
            iso_year, iso_week, _wd = start.isocalendar()
            deadline_day = datetime.date.fromisocalendar(iso_year, iso_week, weekday)
            if first <= deadline_day <= self.day:
                result.append((iso_year, iso_week, start, start + datetime.timedelta(days=6)))
            start += datetime.timedelta(days=7)
        return result


def month_end(year, month):
    """The last day of ``year``-``month``."""
    if month == 12:
        return datetime.date(year, 12, 31)
    return datetime.date(year, month + 1, 1) - datetime.timedelta(days=1)


def previous_month(year, month):
    return (year - 1, 12) if month == 1 else (year, month - 1)


def ytd(ctx):
    """Signed in the year to date: from 1 January of the as-of day's year to that day."""
    return Q(signed_on__gte=ctx.year_start, signed_on__lte=ctx.day)


def _alive(ctx):
    return ~Q(**{ctx.name("report_stage"): Stage.TERMINATED})


class _DaysFrom(Func):
    """Whole days from the date ``origin`` to a date expression (SQLite and PostgreSQL)."""

    output_field = IntegerField()

    def __init__(self, expression, origin):
        super().__init__(expression, Value(origin, output_field=DateField()))

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template="CAST(julianday(%(expressions)s) AS INTEGER)",
            arg_joiner=") - julianday(",
            **extra_context,
        )

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler, connection, template="(%(expressions)s)", arg_joiner=" - ", **extra_context
        )


def _week_index(day, ctx, *, after):
    """How many of ``ctx.weeks`` begin on or before ``day`` (a date expression), or with
    ``after`` (days) added to it; clipped to 0 … the number of weeks."""
    weeks = ctx.weeks
    days = _DaysFrom(day, weeks[0][2]) + Value(after)
    return Least(Greatest(days, Value(0)) / Value(7), Value(len(weeks)))


def _timeliness_aliases(qs, ctx):
    """Per project: the reports due in ``ctx.weeks`` and those filed on time, two numbers.

    Week k of the period (``ctx.weeks`` are consecutive) is due from a project signed by its
    end (start + 6 days) and neither terminated nor in production before its start. With
    ``stop`` the project's first change to terminated or production (per the history), the due
    weeks are those k with ``signed_on − 6 ≤ start_k ≤ stop``: the indices ``due_first`` ≤ k <
    ``due_end``, found by arithmetic on the days from the first week's start, so the cost does
    not grow with the number of weeks (a month's four or five, a year's 52).
    """
    weeks = ctx.weeks
    if not weeks:
        return qs.annotate(
            **{ctx.name("due_reports"): Value(0), ctx.name("timely_reports"): Value(0)}
        )
    (y0, w0, _s, _e), (y1, w1, _s1, _e1) = weeks[0], weeks[-1]
    # one join, however often due_end is read, shared by the as-of days of one queryset
    qs, stop = side_column(qs, FirstStop())
    due_stop, due_first, due_end = (ctx.name(key) for key in ("due_stop", "due_first", "due_end"))
    qs = qs.alias(**{due_stop: Coalesce(stop, Value(ctx.day), output_field=DateField())})
    qs = qs.alias(
        **{
            due_first: _week_index(F("signed_on"), ctx, after=0),  # ⌈(signed_on − 6 − s₀) / 7⌉
            due_end: _week_index(F(due_stop), ctx, after=7),  # ⌊(stop − s₀) / 7⌋ + 1
        }
    )
    weeks_in_first_year = datetime.date(y0, 12, 28).isocalendar()[1]
    on_time = (
        WeeklyDispatch.objects.filter(project=OuterRef("pk"), is_late=False)
        .filter(Q(iso_year__gt=y0) | Q(iso_year=y0, iso_week__gte=w0))
        .filter(Q(iso_year__lt=y1) | Q(iso_year=y1, iso_week__lte=w1))
        .annotate(
            week_index=(F("iso_year") - y0) * weeks_in_first_year + F("iso_week") - w0,
        )
        .filter(week_index__gte=OuterRef(due_first), week_index__lt=OuterRef(due_end))
        .order_by()
        .values("project")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return qs.annotate(
        **{
            ctx.name("due_reports"): Greatest(F(due_end) - F(due_first), Value(0)),
            ctx.name("timely_reports"): Coalesce(Subquery(on_time), Value(0)),
        }
    )


# --- the rates: defined once ------------------------------------------------------------------
@dataclass(frozen=True)
class Rate:
    key: str
    label: object  # lazy text
    numerator_text: object
    denominator_text: object
    source: str  # "projects" or "problems"
    numerator: object  # ctx → aggregate expression
    denominator: object


def _timeliness(ctx, *, on_time):
    return Coalesce(
        Sum(ctx.name("timely_reports" if on_time else "due_reports")),
        Value(0),
        output_field=IntegerField(),
    )


def _problems_raised(ctx):
    return Q(raised_on__gte=ctx.year_start, raised_on__lte=ctx.day)


RATES = [
    Rate(
        key="performance",
        label=_("performance rate (履约率)"),
        numerator_text=_(
            "projects signed in the year to date that had reached 注册 (company registered) "
            "or a later stage by the as-of day, per the stage history, and were not "
            "terminated on that day"
        ),
        denominator_text=_("projects signed from 1 January to the as-of day"),
        source="projects",
        numerator=lambda ctx: Count(
            "pk",
            filter=ytd(ctx) & reached(ctx.name("report_furthest"), Stage.REGISTERED) & _alive(ctx),
        ),
        denominator=lambda ctx: Count("pk", filter=ytd(ctx)),
    ),
    Rate(
        key="start",
        label=_("start rate (开工率)"),
        numerator_text=_(
            "projects signed in the year to date that had started construction (开工 or a "
            "later stage) by the as-of day and were not terminated on that day"
        ),
        denominator_text=_("projects signed from 1 January to the as-of day"),
        source="projects",
        numerator=lambda ctx: Count(
            "pk",
            filter=ytd(ctx) & reached(ctx.name("report_furthest"), Stage.STARTED) & _alive(ctx),
        ),
        denominator=lambda ctx: Count("pk", filter=ytd(ctx)),
    ),
    Rate(
        key="production",
        label=_("production rate (投产率)"),
        numerator_text=_(
            "projects signed in the year to date that were in production (投产) by the as-of "
            "day and not terminated on that day"
        ),
        denominator_text=_("projects signed from 1 January to the as-of day"),
        source="projects",
        numerator=lambda ctx: Count(
            "pk",
            filter=ytd(ctx) & reached(ctx.name("report_furthest"), Stage.PRODUCTION) & _alive(ctx),
        ),
        denominator=lambda ctx: Count("pk", filter=ytd(ctx)),
    ),
    Rate(
        key="funds",
        label=_("funds-in-place rate (资金到位率)"),
        numerator_text=_(
            "sum of the cumulative completed investment of the projects signed in the year to "
            "date, each from its latest weekly dispatch of a week that began on or before the "
            "as-of day (0 without one)"
        ),
        denominator_text=_("sum of the signed amounts of the same projects"),
        source="projects",
        numerator=lambda ctx: Coalesce(
            Sum(ctx.name("report_investment"), filter=ytd(ctx)),
            Value(Decimal(0)),
            output_field=MONEY,
        ),
        denominator=lambda ctx: Coalesce(
            Sum("signed_amount", filter=ytd(ctx)), Value(Decimal(0)), output_field=MONEY
        ),
    ),
    Rate(
        key="timeliness",
        label=_("dispatch timeliness (报送及时率)"),
        numerator_text=_(
            "weekly reports filed by the deadline (not late) for the weeks whose deadline falls "
            "in the period, counted only for projects that had to report that week"
        ),
        denominator_text=_(
            "reports due in the period: for each ISO week whose deadline falls in the period, "
            "the projects signed by the end of that week and neither terminated nor in production "
            "before the week began (per the stage history), whatever their signing year"
        ),
        source="projects",
        numerator=lambda ctx: _timeliness(ctx, on_time=True),
        denominator=lambda ctx: _timeliness(ctx, on_time=False),
    ),
    Rate(
        key="problems",
        label=_("problem resolution rate (问题办结率)"),
        numerator_text=_(
            "chain-ledger problems raised from 1 January to the as-of day that were resolved or "
            "closed by that day"
        ),
        denominator_text=_(
            "chain-ledger problems raised from 1 January to the as-of day; with none raised the "
            "rate is shown as —"
        ),
        source="problems",
        numerator=lambda ctx: Count(
            "pk",
            filter=_problems_raised(ctx)
            & (Q(resolved_on__lte=ctx.day) | Q(closed_on__lte=ctx.day)),
        ),
        denominator=lambda ctx: Count("pk", filter=_problems_raised(ctx)),
    ),
]
RATES_BY_KEY = {rate.key: rate for rate in RATES}
MONTH_PERIOD_TEXT = _(
    "The as-of day is the last day of the month; the period of the dispatch rate is the month."
)
RANKING_TEXT = _(
    "Ranked regions are ordered by %(rates)s, each higher first; a region without projects "
    "signed in the year ranks last."
)


def ranking_keys():
    """The rates that order the region ranking, first decisive first (a setting [A])."""
    keys = settings.TRACKER["REPORT_RANKING"]
    unknown = [key for key in keys if key not in RATES_BY_KEY]
    if unknown:
        raise ImproperlyConfigured(f"TRACKER_REPORT_RANKING names unknown rates: {unknown}")
    return keys


def ranking_text():
    labels = [str(RATES_BY_KEY[key].label) for key in ranking_keys()]
    return RANKING_TEXT % {"rates": " → ".join(labels)}


# --- evaluating them ------------------------------------------------------------------------
def rate_rows(ctx, queryset=None):
    """Projects signed by ``ctx.day`` with every as-of annotation the RATES read:
    ``report_stage`` (the stage as of the day, signed without history), ``report_furthest``
    (the furthest main-line stage reached by then, ``asof.FurthestReached``: the reached-stage
    tests), ``report_investment`` and the dispatch rate's two numbers, each name prefixed with
    ``ctx.tag`` (``AsOf.name``). Each as-of value is one join (tracker/asof.py), computed once
    per row.

    ``queryset`` (default: the projects signed by ``ctx.day``) is the rows to annotate: the
    rows of a later day annotated for an earlier one too (``tag`` apart) share the joins that
    do not depend on the day, and ``within`` counts an aggregate over the earlier day's rows.
    """
    if queryset is None:
        queryset = Project.objects.filter(signed_on__lte=ctx.day)
    qs = per_row(
        queryset,
        **{
            ctx.name("report_furthest"): FurthestReached(ctx.day),
            ctx.name("report_investment"): InvestmentAsOf(ctx.day),
        },
    )
    return _timeliness_aliases(with_report_stage(qs, ctx), ctx)


def with_report_stage(queryset, ctx):
    """``queryset`` annotated with ``report_stage`` (``ctx.tag`` first): the stage as of
    ``ctx.day`` per the history, signed for a project without one."""
    qs, stage = side_column(queryset, StageAsOf(ctx.day))
    return qs.annotate(**{ctx.name("report_stage"): Coalesce(stage, Value(Stage.SIGNED.value))})


def within(expression, condition):
    """``expression`` (an aggregate, or one wrapped in ``Coalesce`` …) counting only the rows
    that match ``condition`` (a Q), in addition to its own filter: one day's figures among
    the rows of a later day. A new expression; ``expression`` is not changed."""
    expression = expression.copy()
    if isinstance(expression, Aggregate):
        expression.filter = (
            condition if expression.filter is None else condition & expression.filter
        )
        return expression
    expression.set_source_expressions(
        [
            None if child is None else within(child, condition)
            for child in expression.get_source_expressions()
        ]
    )
    return expression


def rate_figures(ctx, keys, *, by, ids):
    """{id: {rate key: (numerator, denominator)}}: the RATES named in ``keys`` as of ``ctx``,
    grouped by ``by`` ("region_id" or "chain_id") for the groups in ``ids``.

    The same definitions as the monthly report's tables, for another period (the annual
    assessment's year). Two grouped queries at most, whatever the number of projects and groups.
    """
    rates = [RATES_BY_KEY[key] for key in keys]
    result = {pk: {rate.key: (0, 0) for rate in rates} for pk in ids}
    for source, rows in (
        ("projects", rate_rows(ctx)),
        ("problems", Problem.objects.filter(raised_on__lte=ctx.day)),
    ):
        chosen = [rate for rate in rates if rate.source == source]
        if not chosen:
            continue
        aggregates = {}
        for rate in chosen:
            aggregates[f"{rate.key}_num"] = rate.numerator(ctx)
            aggregates[f"{rate.key}_den"] = rate.denominator(ctx)
        grouped = rows.filter(**{f"{by}__in": ids}).order_by().values(by).annotate(**aggregates)
        for row in grouped:
            for rate in chosen:
                num, den = row[f"{rate.key}_num"] or 0, row[f"{rate.key}_den"] or 0
                result[row[by]][rate.key] = (num, den)
    return result


def rate_value(numerator, denominator):
    """Percentage (Decimal, 2 places, half-up) or None when the denominator is 0."""
    den = to_decimal(denominator)
    if den == 0:
        return None
    return (Decimal(100) * to_decimal(numerator) / den).quantize(CENT, rounding=ROUND_HALF_UP)
