"""Rollups for the dashboard (/dashboard/): every figure is computed by the database.

Scope and cohort
    Everything is computed over ``Project.objects.visible_to(user)`` (the same scope as the
    project list) restricted to the projects **signed in the selected year** — "the year's
    book" (2022: 338 projects, 1796.16 亿元, 41 "5020", 298 ≥ 1 亿元).

As-of date
    Stages, lights and investment are taken as of ``as_of = min(31 December, today)``:
    a stage counts when the stage history (StageChange) reached it on or before that day;
    completed investment is the cumulative figure of each project's latest weekly dispatch of
    a week that began on or before that day (0 without one). For a past year the lights are
    the start light and the stalled rule only: the investment light measures against the
    annual plan, which is the current year's (``lights.invest_light_applies``).

Queries
    ``dashboard_data`` runs a fixed number of queries whatever the number of projects:
    the years with signings, the headline figures and funnel with the regions' warning lights
    (one query grouped by region and light: ``_grouped``), signings by month, investment by
    month, by chain and the city indicators.
"""

import datetime
from decimal import Decimal

from django.db.models import BooleanField, Count, ExpressionWrapper, Q, Sum, Value
from django.db.models.functions import Coalesce, ExtractMonth
from django.utils.dates import MONTHS_3
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from .asof import FurthestReached, InvestmentAsOf, StageAsOf, per_row, reached
from .choices import Light, Stage
from .lights import (
    INVEST_LIGHT_NOTE,
    annotate_lights,
    invest_light_applies,
)
from .models import AnnualIndicator
from .money import MONEY, yi
from .querysets import q_5020, q_billion
from .reports.rates import month_end

ZERO = Decimal(0)
MONEY_KEYS = {"amount", "invested"}
MONTHS = range(1, 13)


def as_of_for(year, today):
    """The day the year's stages and investment are read: 31 December, or today if sooner."""
    return min(datetime.date(year, 12, 31), today)


def signed_years(scope):
    """Years in which ``scope`` has signed projects, newest first (one query)."""
    return [d.year for d in scope.dates("signed_on", "year", order="DESC")]


def _grouped(cohort, *, as_of, plan_year=None):
    """The cohort's headline figures and lights by region, in one query: grouped by region,
    light and whether terminated as of ``as_of`` (the light computed once per row, as a
    grouping column); the headline is the sum of the rows, a region's its rows' sums.

    The stage as of the day, the furthest stage reached and the investment as of the day are
    one join each, shared by the headline figures and the lights."""
    aggregates = {
        "count": Count("pk"),
        "amount": Coalesce(Sum("signed_amount"), Value(ZERO), output_field=MONEY),
        "count_5020": Count("pk", filter=q_5020()),
        "count_billion": Count("pk", filter=q_billion()),
        "stalled": Count("pk", filter=Q(stage_as_of=Stage.STALLED)),
        "terminated": Count("pk", filter=Q(stage_as_of=Stage.TERMINATED)),
        "invested": Coalesce(Sum("invested_as_of"), Value(ZERO), output_field=MONEY),
    }
    for stage in Stage.main_line():
        aggregates[f"reached_{stage}"] = Count("pk", filter=reached("furthest", stage))
    rows = per_row(
        cohort,
        stage_as_of=StageAsOf(as_of),
        furthest=FurthestReached(as_of),
        invested_as_of=InvestmentAsOf(as_of),
    )
    rows = annotate_lights(rows, today=as_of, investment_from_dispatch=True, plan_year=plan_year)
    rows = rows.annotate(
        lights_terminated=ExpressionWrapper(
            Q(lights_stage=Stage.TERMINATED), output_field=BooleanField()
        )
    )
    return list(
        rows.values("region_id", "region__name", "region__sort_order", "light", "lights_terminated")
        .annotate(**aggregates)
        .order_by("region__sort_order", "region__name", "region_id")
    )


def headline(cohort, *, as_of):
    """The year's figures and the stage funnel (one query).

    ``funnel`` counts, for each main-line stage, the projects that had reached it (or a
    later main-line stage) by ``as_of``; ``stalled``/``terminated`` are the projects whose
    stage as of that day is that side state.
    """
    return _headline(_grouped(cohort, as_of=as_of))


def _headline(grouped):
    keys = ["count", "amount", "count_5020", "count_billion", "stalled", "terminated"]
    keys += ["invested", *(f"reached_{stage}" for stage in Stage.main_line())]
    row = {key: sum((r[key] for r in grouped), ZERO if key in MONEY_KEYS else 0) for key in keys}
    return {
        "count": row["count"],
        "amount": row["amount"],
        "amount_yi": yi(row["amount"]),
        "count_5020": row["count_5020"],
        "count_billion": row["count_billion"],
        "started": row[f"reached_{Stage.STARTED}"],
        "production": row[f"reached_{Stage.PRODUCTION}"],
        "invested": row["invested"],
        "invested_yi": yi(row["invested"]),
        "stalled": row["stalled"],
        "terminated": row["terminated"],
        "funnel": [
            {"stage": stage, "label": Stage(stage).label, "count": row[f"reached_{stage}"]}
            for stage in Stage.main_line()
        ],
    }


def signing_by_month(cohort):
    """Twelve rows: month, count and amount signed (one query)."""
    rows = {
        r["month"]: r
        for r in cohort.annotate(month=ExtractMonth("signed_on"))
        .values("month")
        .annotate(count=Count("pk"), amount=Sum("signed_amount"))
        .order_by("month")
    }
    return [
        {
            "month": m,
            "count": rows.get(m, {}).get("count", 0),
            "amount_yi": yi(rows.get(m, {}).get("amount")),
        }
        for m in MONTHS
    ]


def investment_by_month(cohort, *, year, today):
    """Cumulative completed investment at each month end and the month's increment.

    One query: twelve sums of the per-project "latest dispatch by month end", each month end
    one join (``asof.InvestmentAsOf``). Months that end after ``today`` are left empty (None).
    """
    ends = {m: month_end(year, m) for m in MONTHS}
    past = [m for m in MONTHS if datetime.date(year, m, 1) <= today]
    values = {f"at_{m}": InvestmentAsOf(min(ends[m], today)) for m in past}
    aggregates = {f"m{m}": Coalesce(Sum(f"at_{m}"), Value(ZERO), output_field=MONEY) for m in past}
    row = per_row(cohort, **values).aggregate(**aggregates) if aggregates else {}
    result, previous = [], ZERO
    for m in MONTHS:
        if m not in past:
            result.append({"month": m, "cumulative_yi": None, "increment_yi": None})
            continue
        cumulative = row[f"m{m}"]
        result.append(
            {
                "month": m,
                "cumulative_yi": yi(cumulative),
                "increment_yi": yi(cumulative - previous),
            }
        )
        previous = cumulative
    return result


def by_region(cohort, *, as_of, plan_year=None):
    """Per region: count, amount and the warning lights as of ``as_of`` (one query).

    Lights come from ``tracker.lights.annotate_lights`` with the investment read from the
    dispatches as of ``as_of`` (as the monthly report does), so a past year's lights do not
    change with later reports; projects terminated by ``as_of`` are counted apart (they
    carry no light). The investment light applies only when ``as_of`` is in ``plan_year``
    (default: the current year), the year of the projects' annual plans.
    """
    return _regions(_grouped(cohort, as_of=as_of, plan_year=plan_year))


def _regions(grouped):
    regions = {}
    for r in grouped:  # in region order
        region = regions.setdefault(
            r["region_id"],
            {
                "region_id": r["region_id"],
                "name": r["region__name"],
                "count": 0,
                "amount": None,
                "red": 0,
                "yellow": 0,
                "green": 0,
                "terminated": 0,
            },
        )
        region["count"] += r["count"]
        region["amount"] = r["amount"] + (region["amount"] or ZERO)
        if r["lights_terminated"]:
            region["terminated"] += r["count"]
        else:
            region[r["light"]] += r["count"]
    for region in regions.values():
        region["amount_yi"] = yi(region.pop("amount"))
    return list(regions.values())


def by_chain(cohort):
    """Per chain: count and amount signed (one query)."""
    rows = (
        cohort.values("chain_id", "chain__name", "chain__sort_order")
        .annotate(
            count=Count("pk"),
            amount=Sum("signed_amount"),
            count_5020=Count("pk", filter=q_5020()),
        )
        .order_by("chain__sort_order", "chain__name")
    )
    return [
        {
            "chain_id": r["chain_id"],
            "name": r["chain__name"],
            "count": r["count"],
            "amount_yi": yi(r["amount"]),
            "count_5020": r["count_5020"],
        }
        for r in rows
    ]


def indicators(year):
    """The city's indicators of ``year`` with display strings (1800, 5094.6, +9.0 …)."""
    rows = list(AnnualIndicator.objects.filter(year=year).order_by("sort_order", "key"))
    for row in rows:
        row.value_display = None if row.value is None else f"{row.value.normalize():f}"
        row.growth_display = (
            None if row.growth is None else f"{row.growth.quantize(Decimal('0.1')):+f}"
        )
    return rows


def dashboard_data(scope, *, year, today):
    """Everything the dashboard shows for ``year`` over ``scope`` (fixed number of queries)."""
    cohort = scope.signed_in(year).order_by()
    as_of = as_of_for(year, today)
    grouped = _grouped(cohort, as_of=as_of, plan_year=today.year)
    return {
        "year": year,
        "as_of": as_of,
        "headline": _headline(grouped),
        "signing": signing_by_month(cohort),
        "investment": investment_by_month(cohort, year=year, today=today),
        "regions": _regions(grouped),
        "invest_light": invest_light_applies(as_of, plan_year=today.year),
        "lights_note": INVEST_LIGHT_NOTE,
        "chains": by_chain(cohort),
        "indicators": indicators(year),
    }


def chart_payload(data, *, highlight_region_id=None):
    """The JSON handed to static/js/dashboard.js through ``json_script`` (labels included).

    ``highlight_region_id``: county staff see their own region's bars marked.
    """
    h = data["headline"]
    region_ids = [r["region_id"] for r in data["regions"]]
    return {
        "highlight": region_ids.index(highlight_region_id)
        if highlight_region_id in region_ids
        else None,
        "months": [str(capfirst(MONTHS_3[m])) for m in MONTHS],
        "labels": {
            "unit_count": str(_("projects")),
            "unit_yi": "亿元",
            "count": str(_("projects")),
            "amount": str(_("amount (亿元)")),
            "cumulative": str(_("cumulative completed (亿元)")),
            "increment": str(_("completed in the month (亿元)")),
            "red": str(Light.RED.label),
            "yellow": str(Light.YELLOW.label),
            "green": str(Light.GREEN.label),
        },
        "signing": {
            "count": [r["count"] for r in data["signing"]],
            "amount": [str(r["amount_yi"]) for r in data["signing"]],
        },
        "investment": {
            "cumulative": [_str_or_none(r["cumulative_yi"]) for r in data["investment"]],
            "increment": [_str_or_none(r["increment_yi"]) for r in data["investment"]],
        },
        "regions": {
            "names": [r["name"] for r in data["regions"]],
            "count": [r["count"] for r in data["regions"]],
            "amount": [str(r["amount_yi"]) for r in data["regions"]],
            "red": [r["red"] for r in data["regions"]],
            "yellow": [r["yellow"] for r in data["regions"]],
            "green": [r["green"] for r in data["regions"]],
        },
        "chains": [{"name": r["name"], "value": str(r["amount_yi"])} for r in data["chains"]],
        "funnel": [{"name": str(f["label"]), "value": f["count"]} for f in h["funnel"]],
    }


def _str_or_none(value):
    return None if value is None else str(value)
