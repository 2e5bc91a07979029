"""月通报: the monthly report, computed as of the month's last day, published as frozen JSON.

As of a day
    A month's report is computed as of its last day D. Stages come from the stage history
    (``StageChange.effective_on <= D``), the completed investment from the latest weekly
    dispatch of a week that began on or before D, warning lights from
    ``lights.annotate_lights(..., today=D, investment_from_dispatch=True)``. Nothing reads the
    project's current stage or current investment figure, so later edits do not change a past
    month.

Year to date (YTD)
    Projects signed from 1 January of D's year up to D. The rates below count over that set;
    "signed this month" counts those signed in the month itself.

Rates
    Each rate is defined once, in ``RATES`` (key, label, numerator and denominator as text
    and as database expressions), as of a day D (``AsOf``) and, for the dispatch rate, over a
    period: the weeks whose deadline falls in it. The monthly report's D is the month's last
    day and its period the month; the annual assessment (``tracker.assessments``) evaluates
    the same RATES through ``rate_figures`` with D at the year's end and the year as the
    period, so the December report's year-to-date rates are the assessment's. The
    computation, the footnote on the page, the definitions sheet of the XLSX and the
    assessment's page all read that list. A rate whose denominator is 0 is None
    ("—"), never 0 %. Rates are percentages rounded half-up to two decimals; the change from
    last month is in percentage points (this month's rate − last month's, both as of their
    last day; January compares with December of the year before).

Ranking
    Only regions with ``Region.ranked_in_assessment`` are ranked, by ``ranking_keys()``
    (settings.TRACKER["REPORT_RANKING"]), by default: 开工率, then 资金到位率, then 履约率
    (each higher first; a region without projects signed in the year has no rates and ranks
    last), then the region's sort order. Regions not ranked are shown after the ranked
    ones, without a rank.

Which months
    A month can be reported once it has ended (D before today) and if a project had been
    signed by D; earlier or later months, and months outside 2000–2100, are refused.

Who
    The report's figures are a city-wide document: every signed-in role may read the tables
    and rates (live or published); only managers publish (``publish_monthly_report`` refuses
    others; the view answers 403). The list of red and yellow projects names projects, so each
    reader sees only the rows of ``Project.objects.visible_to(user)`` (``warnings_for``):
    managers and county staff all of them, a commissioner their own projects, a chain office
    its chain's, with the number of rows left out. The filter is applied when the report is
    shown or exported, by project code; the frozen JSON keeps the whole list.

Lights of a past year
    The investment light measures against the project's annual plan, which is the current
    year's (``lights.invest_light_applies``): a month of a past year shows the start light and
    the stalled rule only, so its lights never depend on when the book was loaded. The footnote
    says so (``lights_note``).

Publishing
    ``publish_monthly_report`` freezes ``compute_report(...)`` as JSON (Decimals as strings,
    dates ISO, texts in Simplified Chinese, the official language of the 通报) in
    ``MonthlyReport.data`` with the next version number. A published version is rendered only
    from that JSON. A second or later version needs a reason. Two concurrent publishes of the
    same month collide on the unique (year, month, version) constraint: the loser retries with
    the next number (a few times), so both end up as distinct versions.

Queries
    A report costs a fixed number of queries whatever the number of projects: per as-of day
    one grouped query over projects per grouping (region, chain, city) and one over problems
    per grouping, for this month and last month, one for the red/yellow list and two for the
    region and chain names.  The dispatch rate's reports due and on time are two
    numbers per project computed from its week range (see ``_timeliness_aliases``), so the
    SQL does not grow with the number of weeks either.
"""

import datetime
import io
import re
import zipfile
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import (
    Count,
    DateField,
    DecimalField,
    F,
    Func,
    IntegerField,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .choices import Light, Stage
from .lights import (
    INVEST_LIGHT_NOTE,
    annotate_lights,
    invest_light_applies,
    light_reasons,
)
from .models import (
    IndustryChain,
    MonthlyReport,
    Problem,
    Project,
    Region,
    StageChange,
    WeeklyDispatch,
)
from .money import to_decimal, wan, yi_file
from .querysets import investment_as_of, q_5020, q_billion, reached_stage, stage_as_of

SCHEMA = 1
MONEY = DecimalField(max_digits=20, decimal_places=2)
CENT = Decimal("0.01")
PUBLISH_RETRIES = 3
OFFICIAL_LANGUAGE = "zh-hans"
REASON_MAX_LENGTH = 500
REASON_REQUIRED = _("This month is already published: republishing needs a reason.")


class ReportMonthError(ValueError):
    """A month that cannot be reported; ``str()`` is the message to show."""


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


def _ytd(ctx):
    return Q(signed_on__gte=ctx.year_start, signed_on__lte=ctx.day)


def _alive(ctx):
    return ~Q(report_stage=Stage.TERMINATED)


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
        return qs.annotate(due_reports=Value(0), timely_reports=Value(0))
    (y0, w0, _s, _e), (y1, w1, _s1, _e1) = weeks[0], weeks[-1]
    stop = (
        StageChange.objects.filter(
            project=OuterRef("pk"), to_stage__in=[Stage.TERMINATED, Stage.PRODUCTION]
        )
        .order_by("effective_on")
        .values("effective_on")[:1]
    )
    qs = qs.alias(
        due_stop=Coalesce(Subquery(stop), Value(ctx.day), output_field=DateField()),
        due_first=_week_index(F("signed_on"), ctx, after=0),  # ⌈(signed_on − 6 − s₀) / 7⌉
        due_end=_week_index(F("due_stop"), ctx, after=7),  # ⌊(stop − s₀) / 7⌋ + 1
    )
    weeks_in_first_year = datetime.date(y0, 12, 28).isocalendar()[1]
    on_time = (
        WeeklyDispatch.objects.filter(project=OuterRef("pk"), is_late=False)
        .filter(Q(iso_year__gt=y0) | Q(iso_year=y0, iso_week__gte=w0))
        .filter(Q(iso_year__lt=y1) | Q(iso_year=y1, iso_week__lte=w1))
        .annotate(
            week_index=(F("iso_year") - y0) * weeks_in_first_year + F("iso_week") - w0,
        )
        .filter(week_index__gte=OuterRef("due_first"), week_index__lt=OuterRef("due_end"))
        .order_by()
        .values("project")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return qs.annotate(
        due_reports=Greatest(F("due_end") - F("due_first"), Value(0)),
        timely_reports=Coalesce(Subquery(on_time), Value(0)),
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
        Sum("timely_reports" if on_time else "due_reports"), Value(0), output_field=IntegerField()
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
            "pk", filter=_ytd(ctx) & Q(reached_registered=True) & _alive(ctx)
        ),
        denominator=lambda ctx: Count("pk", filter=_ytd(ctx)),
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
        numerator=lambda ctx: Count("pk", filter=_ytd(ctx) & Q(reached_started=True) & _alive(ctx)),
        denominator=lambda ctx: Count("pk", filter=_ytd(ctx)),
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
            "pk", filter=_ytd(ctx) & Q(reached_production=True) & _alive(ctx)
        ),
        denominator=lambda ctx: Count("pk", filter=_ytd(ctx)),
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
            Sum("report_investment", filter=_ytd(ctx)), Value(Decimal(0)), output_field=MONEY
        ),
        denominator=lambda ctx: Coalesce(
            Sum("signed_amount", filter=_ytd(ctx)), Value(Decimal(0)), output_field=MONEY
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


# --- the computation --------------------------------------------------------------------------
def _rate_rows(ctx):
    """Projects signed by ``ctx.day`` with every as-of annotation the RATES read."""
    qs = Project.objects.filter(signed_on__lte=ctx.day).annotate(
        report_stage=Coalesce(stage_as_of(ctx.day), Value(Stage.SIGNED.value)),
        reached_registered=reached_stage(Stage.REGISTERED, ctx.day),
        reached_started=reached_stage(Stage.STARTED, ctx.day),
        reached_production=reached_stage(Stage.PRODUCTION, ctx.day),
        report_investment=investment_as_of(ctx.day),
    )
    return _timeliness_aliases(qs, ctx)


def _project_rows(ctx):
    """``_rate_rows`` with the warning lights as of ``ctx.day`` (the report's tables)."""
    return annotate_lights(_rate_rows(ctx), today=ctx.day, investment_from_dispatch=True)


def rate_figures(ctx, keys, *, by, ids):
    """{id: {rate key: (numerator, denominator)}}: the RATES named in ``keys`` as of ``ctx``,
    grouped by ``by`` ("region_id" or "chain_id") for the groups in ``ids``.

    The same definitions as the monthly report's tables, for another period (the annual
    assessment's year). Two grouped queries at most, whatever the number of projects and groups.
    """
    rates = [RATES_BY_KEY[key] for key in keys]
    result = {pk: {rate.key: (0, 0) for rate in rates} for pk in ids}
    for source, rows in (
        ("projects", _rate_rows(ctx)),
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


def _project_aggregates(ctx):
    month = Q(signed_on__gte=ctx.month_start, signed_on__lte=ctx.day)
    aggregates = {
        "month_count": Count("pk", filter=month),
        "month_amount": Coalesce(Sum("signed_amount", filter=month), Value(Decimal(0))),
        "ytd_count": Count("pk", filter=_ytd(ctx)),
        "ytd_amount": Coalesce(Sum("signed_amount", filter=_ytd(ctx)), Value(Decimal(0))),
        "ytd_5020": Count("pk", filter=_ytd(ctx) & q_5020()),
        "ytd_billion": Count("pk", filter=_ytd(ctx) & q_billion()),
        "red": Count("pk", filter=Q(light=Light.RED)),
        "yellow": Count("pk", filter=Q(light=Light.YELLOW)),
    }
    for rate in RATES:
        if rate.source == "projects":
            aggregates[f"{rate.key}_num"] = rate.numerator(ctx)
            aggregates[f"{rate.key}_den"] = rate.denominator(ctx)
    return aggregates


def _problem_aggregates(ctx):
    aggregates = {}
    for rate in RATES:
        if rate.source == "problems":
            aggregates[f"{rate.key}_num"] = rate.numerator(ctx)
            aggregates[f"{rate.key}_den"] = rate.denominator(ctx)
    return aggregates


def _figures(ctx):
    """{"region": {id: row}, "chain": {id: row}, "city": row} of raw aggregates as of ctx.day."""
    projects = _project_rows(ctx)
    problems = Problem.objects.filter(raised_on__lte=ctx.day)
    project_aggs = _project_aggregates(ctx)
    problem_aggs = _problem_aggregates(ctx)
    result = {}
    for group, field in (("region", "region_id"), ("chain", "chain_id")):
        rows = {}
        for row in projects.order_by().values(field).annotate(**project_aggs):
            rows[row.pop(field)] = row
        for row in (
            problems.filter(**{f"{field}__isnull": False})
            .order_by()
            .values(field)
            .annotate(**problem_aggs)
        ):
            rows.setdefault(row.pop(field), {}).update(row)
        result[group] = rows
    city = projects.order_by().aggregate(**project_aggs)
    city.update(problems.order_by().aggregate(**problem_aggs))
    result["city"] = city
    return result


def _money(value):
    """万元 in the JSON: a string with two decimals (``money.wan``)."""
    return format(wan(value), "f")


def _yi(value):
    """亿元 in the JSON, a file: a string with four decimals (``money.yi_file``)."""
    return format(yi_file(value), "f")


def rate_value(numerator, denominator):
    """Percentage (Decimal, 2 places, half-up) or None when the denominator is 0."""
    den = to_decimal(denominator)
    if den == 0:
        return None
    return (Decimal(100) * to_decimal(numerator) / den).quantize(CENT, rounding=ROUND_HALF_UP)


def _number(value):
    """A count stays an int; money is a string with two decimals."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    return _money(value)


def _row(name, raw, previous, **extra):
    raw = raw or {}
    previous = previous or {}
    rates = []
    for rate in RATES:
        num, den = raw.get(f"{rate.key}_num") or 0, raw.get(f"{rate.key}_den") or 0
        value = rate_value(num, den)
        before = rate_value(previous.get(f"{rate.key}_num"), previous.get(f"{rate.key}_den"))
        change = value - before if value is not None and before is not None else None
        rates.append(
            {
                "key": rate.key,
                "numerator": _number(num),
                "denominator": _number(den),
                "value": None if value is None else format(value, "f"),
                "change": None if change is None else format(change, "f"),
            }
        )
    ytd_count = raw.get("ytd_count") or 0
    return {
        "name": name,
        **extra,
        "month_count": raw.get("month_count") or 0,
        "month_amount": _money(raw.get("month_amount")),
        "month_amount_yi": _yi(raw.get("month_amount")),
        "ytd_count": ytd_count,
        "ytd_count_change": ytd_count - (previous.get("ytd_count") or 0),
        "ytd_amount": _money(raw.get("ytd_amount")),
        "ytd_amount_yi": _yi(raw.get("ytd_amount")),
        "ytd_5020": raw.get("ytd_5020") or 0,
        "ytd_billion": raw.get("ytd_billion") or 0,
        "red": raw.get("red") or 0,
        "yellow": raw.get("yellow") or 0,
        "rates": rates,
    }


def _ranking_key(row):
    values = {r["key"]: r["value"] for r in row["rates"]}
    key = []
    for rate_key in ranking_keys():
        value = values[rate_key]
        key.append((0, -Decimal(value)) if value is not None else (1, 0))
    return (*key, row["sort_order"])


def _warnings(ctx):
    qs = (
        _project_rows(ctx)
        .filter(light__in=[Light.RED, Light.YELLOW])
        .select_related("region", "chain")
        .order_by("-light_rank", "region__sort_order", "region__name", "code")
    )
    stages = dict(Stage.choices)
    rows = []
    for project in qs:
        project.lights_stage = project.report_stage
        rows.append(
            {
                "code": project.code,
                "name": project.name,
                "region": project.region.name,
                "chain": project.chain.name,
                "stage": str(stages.get(project.report_stage, project.report_stage)),
                "light": project.light,
                "light_label": str(Light(project.light).label),
                "reasons": [str(reason) for reason in light_reasons(project)],
                "is_sample": project.is_sample,
            }
        )
    return rows


def check_month(year, month, *, today=None):
    """Refuse a month that cannot be reported (see the module doc); return its last day."""
    today = today or timezone.localdate()
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        raise ReportMonthError(_("There is no such month."))
    day = month_end(year, month)
    if day >= today:
        raise ReportMonthError(
            _("The report of %(month)s is available once the month has ended.")
            % {"month": f"{year}-{month:02d}"}
        )
    first = Project.objects.order_by("signed_on").values_list("signed_on", flat=True).first()
    if first is None or first > day:
        raise ReportMonthError(
            _("No project had been signed by the end of %(month)s: there is nothing to report.")
            % {"month": f"{year}-{month:02d}"}
        )
    return day


def reportable_months(*, today=None):
    """(year, month) from the first signing month to the last ended month, newest first."""
    today = today or timezone.localdate()
    first = Project.objects.order_by("signed_on").values_list("signed_on", flat=True).first()
    if first is None:
        return []
    months = []
    year, month = previous_month(today.year, today.month)
    while (year, month) >= (first.year, first.month):
        months.append((year, month))
        year, month = previous_month(year, month)
    return months


def compute_report(*, year, month):
    """The report of ``year``-``month`` as a JSON-ready dict (see the module doc).

    Texts (names, labels, reasons, definitions) are in the active language.
    """
    ctx = AsOf(month_end(year, month))
    prev = AsOf(month_end(*previous_month(year, month)))
    now, before = _figures(ctx), _figures(prev)
    regions = list(Region.objects.order_by("sort_order", "name"))
    chains = list(IndustryChain.objects.order_by("sort_order", "name"))
    region_rows = [
        _row(
            r.name,
            now["region"].get(r.pk),
            before["region"].get(r.pk),
            ranked=r.ranked_in_assessment,
            sort_order=r.sort_order,
        )
        for r in regions
    ]
    ranked = sorted((row for row in region_rows if row["ranked"]), key=_ranking_key)
    for position, row in enumerate(ranked, start=1):
        row["rank"] = position
    others = [row for row in region_rows if not row["ranked"]]
    for row in others:
        row["rank"] = None
    chain_rows = [
        _row(c.name, now["chain"].get(c.pk), before["chain"].get(c.pk), sort_order=c.sort_order)
        for c in chains
    ]
    return {
        "schema": SCHEMA,
        "year": year,
        "month": month,
        "as_of": ctx.day.isoformat(),
        "previous_as_of": prev.day.isoformat(),
        "weeks": [f"{y}-W{w:02d}" for y, w, _s, _e in ctx.weeks],
        "rates": [
            {
                "key": rate.key,
                "label": str(rate.label),
                "numerator": str(rate.numerator_text),
                "denominator": str(rate.denominator_text),
            }
            for rate in RATES
        ],
        "ranking": ranking_text(),
        "period": str(MONTH_PERIOD_TEXT),
        "regions": ranked + others,
        "chains": chain_rows,
        "city": _row(gettext("City total"), now["city"], before["city"]),
        "warnings": _warnings(ctx),
        "invest_light": invest_light_applies(ctx.day),
        "lights_note": str(INVEST_LIGHT_NOTE),
    }


def warnings_for(data, user):
    """``data`` (a report's JSON) as ``user`` may see it: the red and yellow list reduced to
    the projects of ``Project.objects.visible_to(user)`` (matched by code) and
    ``warnings_hidden``, the number of rows left out. ``data`` itself is not changed.

    At most one query; none for a user who sees every project or none.
    """
    warnings = data.get("warnings") or []
    scope = Project.objects.visible_to(user)
    if not warnings or (not scope.query.where and not scope.query.is_empty()):
        visible = warnings
    elif scope.query.is_empty():
        visible = []
    else:
        codes = set(
            scope.filter(code__in=[w["code"] for w in warnings]).values_list("code", flat=True)
        )
        visible = [w for w in warnings if w["code"] in codes]
    return {**data, "warnings": visible, "warnings_hidden": len(warnings) - len(visible)}


# --- publishing -------------------------------------------------------------------------------
def latest_version(year, month):
    """The highest published version of the month (0 when none)."""
    latest = MonthlyReport.objects.filter(year=year, month=month).aggregate(v=Max("version"))
    return latest["v"] or 0


def publish_monthly_report(*, year, month, by, reason=""):
    """Freeze the month's report as the next version; managers only (see the module doc)."""
    if not (by and by.is_authenticated and by.is_active and by.is_manager):
        raise PermissionDenied(_("Only city bureau managers publish the monthly report."))
    check_month(year, month)
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError(
            {"reason": _("Keep the reason under %(n)s characters.") % {"n": REASON_MAX_LENGTH}}
        )
    with transaction.atomic():  # the figures and the new row in one transaction
        with translation.override(OFFICIAL_LANGUAGE):
            data = compute_report(year=year, month=month)
        for _attempt in range(PUBLISH_RETRIES):
            version = latest_version(year, month) + 1
            if version > 1 and not reason:
                raise ValidationError({"reason": REASON_REQUIRED})
            try:
                with transaction.atomic():  # a savepoint: a collision leaves the rest usable
                    return MonthlyReport.objects.create(
                        year=year,
                        month=month,
                        version=version,
                        data=data,
                        reason=reason,
                        published_by=by,
                    )
            except IntegrityError:
                continue  # another publish took this number meanwhile: take the next one
    raise ValidationError(_("Another publication of this month is in progress; please try again."))


# --- XLSX -------------------------------------------------------------------------------------
RATE_HEADERS_ZH = {
    "performance": "履约率",
    "start": "开工率",
    "production": "投产率",
    "funds": "资金到位率",
    "timeliness": "报送及时率",
    "problems": "问题办结率",
}
PERCENT = "0.00%"
POINTS = "+0.00;-0.00;0.00"
MONEY_FORMAT = "#,##0.00"  # 万元
YI_FORMAT = "#,##0.0000"  # 亿元 in a file (tracker.money)


def _num(text):
    return None if text is None else Decimal(text)


def _rate_cell(text):
    return None if text is None else Decimal(text) / 100


def _table_rows(rows, *, with_rank):
    header = (["排名"] if with_rank else []) + [
        "名称",
        "本月签约项目数",
        "本月签约金额(万元)",
        "本月签约金额(亿元)",
        "年累计签约项目数",
        "较上月增减(个)",
        "年累计签约金额(万元)",
        "年累计签约金额(亿元)",
        "5020项目数",
        "亿元以上项目数",
    ]
    for key in RATE_HEADERS_ZH.values():
        header += [key, f"{key}较上月(百分点)"]
    header += ["红灯项目数", "黄灯项目数"]
    yield header, None
    for row in rows:
        values = ([row.get("rank")] if with_rank else []) + [
            row["name"],
            row["month_count"],
            _num(row["month_amount"]),
            yi_file(row["month_amount"]),
            row["ytd_count"],
            row["ytd_count_change"],
            _num(row["ytd_amount"]),
            yi_file(row["ytd_amount"]),
            row["ytd_5020"],
            row["ytd_billion"],
        ]
        formats = [None] * len(values)
        for i, fmt in ((3, MONEY_FORMAT), (4, YI_FORMAT), (7, MONEY_FORMAT), (8, YI_FORMAT)):
            formats[i + (1 if with_rank else 0) - 1] = fmt
        for rate in row["rates"]:
            values += [_rate_cell(rate["value"]), _num(rate["change"])]
            formats += [PERCENT, POINTS]
        values += [row["red"], row["yellow"]]
        formats += [None, None]
        yield values, formats


def report_xlsx(data, *, timestamp):
    """The report as XLSX bytes, from its JSON only; ``timestamp`` (aware) is written as the
    file's creation and modification time, so the same data give the same bytes."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    title = f"宜春市工业项目月通报 {data['year']}年{data['month']}月"
    workbook = Workbook()
    bold = Font(bold=True)

    def write(sheet, rows):
        for values, formats in rows:
            sheet.append(values)
            if formats is None:
                for cell in sheet[sheet.max_row]:
                    cell.font = bold
                continue
            for cell, fmt in zip(sheet[sheet.max_row], formats, strict=False):
                if fmt:
                    cell.number_format = fmt
        sheet.freeze_panes = "A2"

    regions = workbook.active
    regions.title = "县市区"
    write(regions, _table_rows([*data["regions"], {**data["city"], "rank": None}], with_rank=True))
    chains = workbook.create_sheet("产业链")
    write(chains, _table_rows([*data["chains"], data["city"]], with_rank=False))
    warnings = workbook.create_sheet("红黄灯项目")
    write(
        warnings,
        [
            (
                [
                    "灯色",
                    "项目编号",
                    "项目名称",
                    "县(市、区)",
                    "产业链",
                    "项目阶段",
                    "原因",
                    "示例数据",
                ],
                None,
            ),
            *(
                (
                    [
                        w["light_label"],
                        w["code"],
                        w["name"],
                        w["region"],
                        w["chain"],
                        w["stage"],
                        "；".join(w["reasons"]),
                        "是" if w["is_sample"] else "否",
                    ],
                    [],
                )
                for w in data["warnings"]
            ),
            *(
                [([f"另有{data['warnings_hidden']}个项目不在您的查看范围内，未列出。"], [])]
                if data.get("warnings_hidden")
                else []
            ),
        ],
    )
    definitions = workbook.create_sheet("指标说明")
    write(
        definitions,
        [
            (["指标", "分子", "分母"], None),
            *(([r["label"], r["numerator"], r["denominator"]], []) for r in data["rates"]),
            (["排名", data["ranking"], ""], []),
            *([(["红黄灯", data["lights_note"], ""], [])] if data.get("lights_note") else []),
            *([(["统计期间", data["period"], ""], [])] if data.get("period") else []),
            (["统计截至", data["as_of"], ""], []),
            (["标题", title, ""], []),
        ],
    )
    moment = timestamp.astimezone(datetime.UTC).replace(tzinfo=None, microsecond=0)
    workbook.properties.created = moment
    workbook.properties.title = title
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _fix_zip_times(buffer.getvalue(), moment)


def _fix_zip_times(content, moment):
    """openpyxl stamps "now" into docProps/core.xml and every zip entry: pin both."""
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>" + stamp.encode() + rb"\g<2>",
                    body,
                )
            entry = zipfile.ZipInfo(info.filename, date_time=moment.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(entry, body)
    return out.getvalue()
