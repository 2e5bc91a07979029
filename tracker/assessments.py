"""年考核 — the annual assessment of the ranked regions (``Region.ranked_in_assessment``).

Indicators
----------
Each is computed by the database for the year (GROUP BY region, conditional aggregation;
a fixed number of queries whatever the number of projects or regions). "The year's end"
is 31 December, or today while the year is still running.

The four rates are the monthly report's: the same ``tracker.reports.rates.RATES`` (texts and
database expressions), evaluated by ``reports.rate_figures`` with the as-of day at the year's
end and the year as the period (``reports.AsOf.year_to``). The December report's year-to-date
rates are therefore the assessment's; only the dispatch rate differs, being the month's
weeks in the report and the year's here. Their definitions live in ``reports.RATES`` only:

``start_rate``            开工率 (``RATES["start"]``).
``production_rate``       投产率 (``RATES["production"]``).
``dispatch_timeliness``   报送及时率 (``RATES["timeliness"]``) over the weeks whose deadline falls
                          in the year.
``problem_resolution``    问题办结率 (``RATES["problems"]``).

The other indicators are the assessment's own, defined here:

``signed_amount``         signed amount of the projects signed in the year, in 亿元.
``count_5020``            number of "5020" projects (≥ 20 亿元) signed in the year.
``completed_investment``  completed investment in the year, in 亿元: for every project of
                          the region, the cumulative figure of its latest weekly dispatch of a
                          week beginning on or before the year's end, minus that of its last
                          dispatch of the previous ISO year (0 when none), summed.

Scoring
-------
For each indicator with weight *w*, the best region's value is the yardstick:
``points = w × value / best`` (clipped to 0 … w). A region's computed score is the sum of its
points. A rate with nothing to count (no projects signed, no reports, no problems raised)
is "no data" for that region, not 0: the indicator is left out and the region's other
points are scaled up to the full total (``sum × 100 / weights with data``), so a region is
neither punished nor rewarded for, say, having had no problems raised. When no region has
a positive value for an indicator, the indicator is left out for everyone.

Final score = computed score + the managers' adjustments (each with its reason, who, when),
rounded to 0.01 point. Regions are ranked by final score; equal final scores share a rank
(1, 2, 2, 4) and are listed by computed score, then in the regions' usual order.

Awards
------
``AWARDS`` (overridable with ``settings.TRACKER["ASSESSMENT_AWARDS"]``): the overall award
goes to the regions ranked within the top ``ASSESSMENT_TOP_N`` (default 3, ties at the
boundary included); the leading-industry award to the region(s) with the highest signed
amount in the year in the chain marked ``IndustryChain.is_leading`` (锂电新能源).

Weights
-------
``AssessmentWeight`` rows per year, edited by managers; each 0–100, together exactly 100.
``ensure_default_weights(year)`` creates ``INDICATORS``' defaults for a year that has none.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, F, Max, Min, Q, Sum
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from . import permissions
from .asof import InvestmentAsOf, InvestmentBeforeYear, per_row  # once per row
from .history import record_changes, record_creation, snapshot
from .models import AssessmentAdjustment, AssessmentWeight, Project, Region
from .money import MONEY, half_up, yi_exact
from .querysets import q_5020  # the one definition of each
from .reports.rates import RATES_BY_KEY, AsOf, rate_figures, rate_value
from .validators import year_in_range

TOTAL_WEIGHT = Decimal(100)
HUNDRED = Decimal(100)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Indicator:
    key: str
    name: str
    default_weight: Decimal
    unit: str
    own_definition: str = ""  # the assessment's own indicators
    rate_key: str = ""  # a rate of the monthly report (``reports.RATES``)

    @property
    def rate(self):
        return RATES_BY_KEY[self.rate_key] if self.rate_key else None

    @property
    def definition(self):
        if self.rate is None:
            return self.own_definition
        return format_lazy("{} ÷ {}", self.rate.numerator_text, self.rate.denominator_text)


INDICATORS = [
    Indicator(
        "signed_amount",
        _("Signed amount"),
        Decimal(25),
        "亿元",
        own_definition=_("Signed amount of the projects signed in the year (亿元)."),
    ),
    Indicator(
        "count_5020",
        _('"5020" projects'),
        Decimal(15),
        "",
        own_definition=_('Number of "5020" projects (≥ 20 亿元) signed in the year.'),
    ),
    Indicator("start_rate", _("Start rate (开工率)"), Decimal(15), "%", rate_key="start"),
    Indicator(
        "production_rate", _("Production rate (投产率)"), Decimal(10), "%", rate_key="production"
    ),
    Indicator(
        "completed_investment",
        _("Completed investment"),
        Decimal(15),
        "亿元",
        own_definition=_(
            "Investment completed in the year by the region's projects (亿元), from the weekly "
            "dispatch: the cumulative figure at the year's end minus that at the previous "
            "year's end."
        ),
    ),
    Indicator(
        "dispatch_timeliness",
        _("Dispatch timeliness (报送及时率)"),
        Decimal(10),
        "%",
        rate_key="timeliness",
    ),
    Indicator(
        "problem_resolution",
        _("Problem resolution (问题办结率)"),
        Decimal(10),
        "%",
        rate_key="problems",
    ),
]
INDICATOR_BY_KEY = {i.key: i for i in INDICATORS}
SHARED_RATES = {i.key: i.rate_key for i in INDICATORS if i.rate_key}
YEAR_PERIOD_TEXT = _(
    "For the rates, the as-of day is 31 December (or today while the year runs) and the "
    "period of the dispatch rate is the year."
)

DEFAULT_TOP_N = 3
OVERALL, LEADING = "overall", "leading_chain"
DEFAULT_AWARDS = [
    {"key": "overall", "name": "工业发展综合先进县(市、区)", "rule": OVERALL, "top": None},
    {"key": "leading", "name": "首位产业发展先进县(市、区)", "rule": LEADING, "top": 1},
]


def top_n():
    return int(getattr(settings, "TRACKER", {}).get("ASSESSMENT_TOP_N", DEFAULT_TOP_N))


def awards_config():
    """The award list: settings.TRACKER["ASSESSMENT_AWARDS"] or ``DEFAULT_AWARDS``.

    Each award: ``name``, ``rule`` ("overall": by rank; "leading_chain": by the leading
    chain's signed amount) and ``top`` (how many places win; None = ``top_n()``).
    """
    awards = getattr(settings, "TRACKER", {}).get("ASSESSMENT_AWARDS") or DEFAULT_AWARDS
    return [{**a, "top": a.get("top") or top_n()} for a in awards]


# --- years and weights -----------------------------------------------------------------


def year_range(today=None):
    """(first, last) year with an assessment: first signing year … this year, or None."""
    today = today or timezone.localdate()
    bounds = Project.objects.filter(signed_on__lte=today).aggregate(
        first=Min("signed_on"), last=Max("signed_on")
    )
    if bounds["first"] is None:
        return None
    return bounds["first"].year, bounds["last"].year


def year_error(year, *, today=None):
    """Why there is no assessment for ``year`` (a message), or None."""
    today = today or timezone.localdate()
    if not year_in_range(year):
        return _("There is no assessment for %(year)s: the app covers the years 2000 to 2100.") % {
            "year": year
        }
    bounds = year_range(today)
    if bounds is None:
        return _("There are no projects yet, so there is no assessment.")
    first, _last = bounds
    if year > today.year:
        return _("The year %(year)s has not begun: there is no assessment for it.") % {"year": year}
    if year < first:
        return _("There are no projects before %(first)s: there is no assessment for %(year)s.") % {
            "first": first,
            "year": year,
        }
    return None


def _default_rows(year):
    return [
        AssessmentWeight(
            year=year,
            key=ind.key,
            name=str(ind.name),
            weight=ind.default_weight,
            definition=str(ind.definition)[:500],
            sort_order=n,
        )
        for n, ind in enumerate(INDICATORS)
    ]


def weights_for(year):
    """The year's weight rows, or the defaults (unsaved) when the year has none."""
    rows = [w for w in AssessmentWeight.objects.filter(year=year) if w.key in INDICATOR_BY_KEY]
    for row in rows:  # the definition in force (a saved row keeps the text of its creation)
        row.definition = str(INDICATOR_BY_KEY[row.key].definition)[:500]
    return rows or _default_rows(year)


def ensure_default_weights(year):
    """Create the default weights for ``year`` if it has none; returns the year's rows."""
    with transaction.atomic():
        if not AssessmentWeight.objects.filter(year=year).exists():
            AssessmentWeight.objects.bulk_create(_default_rows(year))
    return list(AssessmentWeight.objects.filter(year=year))


def _require_adjuster(by):
    if not permissions.may(by, permissions.ADJUST, "assessment"):
        raise PermissionDenied


def set_weights(*, year, values, by):
    """Save the weights of ``year`` (key → points). Managers only; each 0–100, total 100.

    The one write path of the weights (the assessment page and the admin call it). Nothing
    is saved when a check fails (ValidationError). Default rows it creates for a year that
    had none are recorded as created by ``by``; each changed weight is recorded old → new.
    """
    _require_adjuster(by)
    unknown = set(values) - set(INDICATOR_BY_KEY)
    if unknown:
        raise ValidationError(_("Unknown indicator: %(keys)s.") % {"keys": ", ".join(unknown)})
    for key, points in values.items():
        if points is None or not (0 <= points <= TOTAL_WEIGHT):
            raise ValidationError(
                _("The weight of %(name)s must be between 0 and 100 points.")
                % {"name": INDICATOR_BY_KEY[key].name}
            )
    now = timezone.now()
    with transaction.atomic():
        rows = {w.key: w for w in AssessmentWeight.objects.select_for_update().filter(year=year)}
        if not rows:
            for row in _default_rows(year):
                row.save()
                row.refresh_from_db(fields=["weight"])  # as stored, for the history
                record_creation(row, by=by, at=now)
                rows[row.key] = row
        keys = (set(rows) | set(values)) & set(INDICATOR_BY_KEY)
        total = sum((values[k] if k in values else rows[k].weight for k in keys), Decimal(0))
        if total != TOTAL_WEIGHT:
            raise ValidationError(
                _("The weights add up to %(total)s points; they must add up to %(required)s.")
                # "f": 110, not 1.1E+2 (what normalize() alone gives for 110.00)
                % {"total": format(total.normalize(), "f"), "required": TOTAL_WEIGHT}
            )
        for key, points in values.items():
            row = rows.get(key)
            if row is None:  # an indicator added after the year's rows were made
                row = next(r for r in _default_rows(year) if r.key == key)
                row.weight = points
                row.save()
                record_creation(row, by=by, at=now, values=True)
                continue
            if row.weight != points:
                before = snapshot(row, {"weight"})
                row.weight = points
                row.save(update_fields=["weight"])
                row.refresh_from_db(fields=["weight"])
                record_changes(row, before, by=by, at=now)
    return weights_for(year)


def add_adjustment(*, year, region, points, reason, by):
    """A manager's ± adjustment of a region's score; the reason is required."""
    _require_adjuster(by)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("An adjustment needs a reason.")})
    if not region.ranked_in_assessment:
        raise ValidationError({"region": _("This region is not ranked in the assessment.")})
    with transaction.atomic():
        adjustment = AssessmentAdjustment(
            year=year, region=region, points=points, reason=reason, adjusted_by=by
        )
        adjustment.full_clean()
        adjustment.save()
        record_creation(adjustment, by=by)
    return adjustment


# --- computation ------------------------------------------------------------------------


@dataclass
class Cell:
    indicator: Indicator
    weight: Decimal
    value: Decimal | None  # None: no data
    points: Decimal | None


@dataclass
class RegionScore:
    region: object
    cells: list = field(default_factory=list)
    computed: Decimal = Decimal(0)
    adjustments: list = field(default_factory=list)
    adjustment_total: Decimal = Decimal(0)
    final: Decimal = Decimal(0)
    rank: int = 0
    awards: list = field(default_factory=list)
    leading_amount: Decimal = Decimal(0)
    projects: int = 0


@dataclass
class Assessment:
    year: int
    as_of: datetime.date
    weights: list
    rows: list
    awards: list  # (award dict, [region names])

    @property
    def indicators(self):
        return [INDICATOR_BY_KEY[w.key] for w in self.weights]

    @property
    def period_text(self):
        return YEAR_PERIOD_TEXT


def indicator_values(year, region_ids, *, as_of):
    """region id → {indicator key → Decimal or None}, plus ``leading`` and ``projects``.

    Four grouped queries, whatever the number of projects and regions: the year's signings,
    the completed investment, and the report's rates (projects, problems).
    """
    signed = (
        Project.objects.filter(region_id__in=region_ids, signed_on__year=year)
        .order_by()
        .values("region_id")
        .annotate(
            count=Count("pk"),
            amount=Sum("signed_amount"),
            count_5020=Count("pk", filter=q_5020()),
            leading=Sum("signed_amount", filter=Q(chain__is_leading=True)),
        )
    )
    invested = (
        per_row(
            Project.objects.filter(region_id__in=region_ids, signed_on__lte=as_of).order_by(),
            end_figure=InvestmentAsOf(as_of),
            start_figure=InvestmentBeforeYear(year),
        )
        .values("region_id")
        .annotate(done=Sum(F("end_figure") - F("start_figure"), output_field=MONEY))
    )
    ctx = AsOf(as_of, start=datetime.date(year, 1, 1))
    rates = rate_figures(ctx, SHARED_RATES.values(), by="region_id", ids=region_ids)
    by_signed = {r["region_id"]: r for r in signed}
    by_invest = {r["region_id"]: r["done"] for r in invested}

    result = {}
    for rid in region_ids:
        s = by_signed.get(rid, {})
        result[rid] = {
            "signed_amount": yi_exact(s.get("amount")),
            "count_5020": Decimal(s.get("count_5020", 0)),
            "completed_investment": yi_exact(by_invest.get(rid)),
            **{key: rate_value(*rates[rid][rate]) for key, rate in SHARED_RATES.items()},
            "leading": s.get("leading") or Decimal(0),
            "projects": s.get("count", 0),
        }
    return result


def score(values, weights):
    """Score regions from ``values`` (region → key → Decimal/None) and ``weights`` (key → w).

    Returns region → (computed score, {key: points or None}); see the module docstring.
    Pure arithmetic over one row per region and indicator.
    """
    best = {}
    for key in weights:
        found = [v[key] for v in values.values() if v[key] is not None]
        top = max(found, default=None)
        best[key] = top if top is not None and top > 0 else None
    scores = {}
    for rid, row in values.items():
        points, weight_with_data, total = {}, Decimal(0), Decimal(0)
        for key, weight in weights.items():
            value = row[key]
            if best[key] is None or value is None:
                points[key] = None
                continue
            ratio = min(max(value / best[key], Decimal(0)), Decimal(1))
            points[key] = weight * ratio
            weight_with_data += weight
            total += points[key]
        computed = total * TOTAL_WEIGHT / weight_with_data if weight_with_data else Decimal(0)
        scores[rid] = (computed, points)
    return scores


def _places(values, key_of):
    """Competition ranks (1, 2, 2, 4) of ``values`` by ``key_of`` descending."""
    ordered = sorted(values, key=key_of, reverse=True)
    ranks, previous, rank = {}, None, 0
    for n, item in enumerate(ordered, start=1):
        k = key_of(item)
        if k != previous:
            rank, previous = n, k
        ranks[id(item)] = rank
    return ranks


def compute_assessment(year, *, today=None):
    """The year's assessment: indicator values, points, adjustments, ranks and awards."""
    today = today or timezone.localdate()
    as_of = AsOf.year_to(year, today=today).day
    regions = list(Region.objects.filter(ranked_in_assessment=True))
    weights = weights_for(year)
    weight_map = {w.key: w.weight for w in weights}
    values = indicator_values(year, [r.pk for r in regions], as_of=as_of)
    scores = score(values, weight_map)
    adjustments = {}
    for adj in AssessmentAdjustment.objects.filter(
        year=year, region__ranked_in_assessment=True
    ).select_related("adjusted_by"):
        adjustments.setdefault(adj.region_id, []).append(adj)

    rows = []
    for region in regions:
        computed, points = scores[region.pk]
        row = RegionScore(
            region=region,
            cells=[
                Cell(INDICATOR_BY_KEY[w.key], w.weight, values[region.pk][w.key], points[w.key])
                for w in weights
            ],
            computed=half_up(computed),
            adjustments=adjustments.get(region.pk, []),
            leading_amount=values[region.pk]["leading"],
            projects=values[region.pk]["projects"],
        )
        row.adjustment_total = sum((a.points for a in row.adjustments), Decimal(0))
        row.final = half_up(row.computed + row.adjustment_total)
        rows.append(row)

    ranks = _places(rows, lambda r: r.final)
    for row in rows:
        row.rank = ranks[id(row)]
    order = {r.pk: n for n, r in enumerate(regions)}
    rows.sort(key=lambda r: (r.rank, -r.computed, order[r.region.pk]))

    awarded = []
    for award in awards_config():
        if award["rule"] == LEADING:
            eligible = [r for r in rows if r.leading_amount > 0]
            places = _places(eligible, lambda r: r.leading_amount)
            winners = [r for r in eligible if places[id(r)] <= award["top"]]
        else:
            winners = [r for r in rows if r.rank <= award["top"]]
        for r in winners:
            r.awards.append(award["name"])
        awarded.append((award, [r.region for r in winners]))
    return Assessment(year=year, as_of=as_of, weights=weights, rows=rows, awards=awarded)
