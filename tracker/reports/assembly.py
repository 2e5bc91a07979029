"""The report of a month as JSON-ready data, computed as of its last day (see the package doc)."""

from decimal import Decimal

from django.db.models import Count, Q, Sum, Value, Window
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import permissions
from ..choices import Light, Stage
from ..lights import INVEST_LIGHT_NOTE, annotate_lights, invest_light_applies, light_reasons
from ..models import IndustryChain, Problem, Project, Region
from ..money import wan, yi_file
from ..periods import month_text
from ..querysets import q_5020, q_billion
from ..validators import year_in_range
from .rates import (
    MONTH_PERIOD_TEXT,
    RATES,
    AsOf,
    month_end,
    previous_month,
    ranking_keys,
    ranking_text,
    rate_rows,
    rate_value,
    with_report_stage,
    within,
    ytd,
)

SCHEMA = 1


class ReportMonthError(ValueError):
    """A month that cannot be reported; ``str()`` is the message to show."""


def _project_rows(ctx, *earlier):
    """``rate_rows`` with the warning lights as of ``ctx.day`` (the report's tables), with the
    rates' values as of each of the ``earlier`` days too (tagged ``AsOf``s) on the same rows."""
    rows = annotate_lights(rate_rows(ctx), today=ctx.day, investment_from_dispatch=True)
    for other in earlier:
        rows = rate_rows(other, rows)
    return rows


def _project_aggregates(ctx):
    """The project figures of the report as of ``ctx.day``."""
    month = Q(signed_on__gte=ctx.month_start, signed_on__lte=ctx.day)
    aggregates = {
        "month_count": Count("pk", filter=month),
        "month_amount": Coalesce(Sum("signed_amount", filter=month), Value(Decimal(0))),
        "ytd_amount": Coalesce(Sum("signed_amount", filter=ytd(ctx)), Value(Decimal(0))),
        "ytd_5020": Count("pk", filter=ytd(ctx) & q_5020()),
        "ytd_billion": Count("pk", filter=ytd(ctx) & q_billion()),
        "lit": Count("pk"),  # the rows of the group: grouped by light too (``_figures``)
    }
    return {**aggregates, **_earlier_project_aggregates(ctx)}


def _earlier_project_aggregates(ctx):
    """The project figures an earlier day's report gives this one (``_row``'s ``previous``):
    the rates, for their change from last month, and the count for its change."""
    aggregates = {"ytd_count": Count("pk", filter=ytd(ctx))}
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


def _tagged(days, aggregates, field, earlier_aggregates=None):
    """The aggregates of every as-of day in ``days`` (the latest first; ``earlier_aggregates``
    for the others, if given) under their tagged names, an earlier day's counted over the
    rows whose ``field`` is on or before it."""
    result = {}
    for ctx in days:
        if ctx is days[0] or earlier_aggregates is None:
            chosen = aggregates(ctx)
        else:
            chosen = earlier_aggregates(ctx)
        for key, expression in chosen.items():
            if ctx.day < days[0].day:
                expression = within(expression, Q(**{f"{field}__lte": ctx.day}))
            result[ctx.name(key)] = expression
    return result


def _untagged(days, row):
    """A row of ``_tagged`` aggregates as one {key: value} per day."""
    split = [{} for _ctx in days]
    for name, value in row.items():
        for position, ctx in reversed(list(enumerate(days))):  # the longest tag first
            if name.startswith(ctx.tag):
                split[position][name[len(ctx.tag) :]] = value
                break
    return split


def _figures(*days):
    """For each as-of day of ``days`` (the latest first, tagged apart), {"region": {id: row},
    "chain": {id: row}, "city": row} of raw aggregates as of that day.

    Every project figure is a count or a sum, so one grouped query by (region, chain, light
    as of the latest day) gives them all, for all the days: a region's row, a chain's and the
    city's are sums of its rows, added here, and the red and yellow counts are the sizes of
    the red and yellow groups (the light is computed once per row, as a grouping column,
    where counting it with two filters wrote it out twice). The joins that do not depend on
    the day (the first stop of the dispatch rate, the figure before the year) are shared.
    The problems, grouped by region and by chain apart (a problem may have neither), are two
    small queries more."""
    latest = days[0]
    projects = _project_rows(*days)
    problems = Problem.objects.filter(raised_on__lte=latest.day)
    project_aggs = _tagged(
        days, _project_aggregates, "signed_on", earlier_aggregates=_earlier_project_aggregates
    )
    problem_aggs = _tagged(days, _problem_aggregates, "raised_on")
    results = [{"region": {}, "chain": {}, "city": {}} for _ctx in days]
    grouped = projects.order_by().values("region_id", "chain_id", "light")
    for row in grouped.annotate(**project_aggs):
        region_id, chain_id, light = row.pop("region_id"), row.pop("chain_id"), row.pop("light")
        split = _untagged(days, row)
        lit = split[0].pop("lit")
        split[0].update(red=lit if light == Light.RED else 0)
        split[0].update(yellow=lit if light == Light.YELLOW else 0)
        for result, figures in zip(results, split, strict=True):
            for target in (
                result["region"].setdefault(region_id, {}),
                result["chain"].setdefault(chain_id, {}),
                result["city"],
            ):
                _add(target, figures)
    if not results[0]["city"]:  # no project: the figures of an empty aggregate
        empty = _untagged(days, projects.order_by().aggregate(**project_aggs))
        empty[0].pop("lit")
        empty[0].update(red=0, yellow=0)
        for result, figures in zip(results, empty, strict=True):
            result["city"] = figures
    for group, field in (("region", "region_id"), ("chain", "chain_id")):
        for row in (
            problems.filter(**{f"{field}__isnull": False})
            .order_by()
            .values(field)
            .annotate(**problem_aggs)
        ):
            key = row.pop(field)
            for result, figures in zip(results, _untagged(days, row), strict=True):
                result[group].setdefault(key, {}).update(figures)
    city = _untagged(days, problems.order_by().aggregate(**problem_aggs))
    for result, figures in zip(results, city, strict=True):
        result["city"].update(figures)
    return results


def _add(target, row):
    """Add ``row``'s counts and sums into ``target`` (None counts as nothing)."""
    for key, value in row.items():
        if value is None:
            target.setdefault(key, None)
        elif target.get(key) is None:
            target[key] = value
        else:
            target[key] += value


def _money(value):
    """万元 in the JSON: a string with two decimals (``money.wan``)."""
    return format(wan(value), "f")


def _yi(value):
    """亿元 in the JSON, a file: a string with four decimals (``money.yi_file``)."""
    return format(yi_file(value), "f")


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


def _warnings(ctx, *, scope=None, limit=None, regions=None, total=None):
    """The red and yellow projects as of ``ctx.day``, red first, then by region and code:
    all of them (the published JSON, the XLSX), or the first ``limit`` of those in ``scope``
    (a Project queryset; the page), with how many there are in all: (rows, total).

    ``regions`` (``_first_regions``) with ``total``: the first ``limit`` are red projects of
    those regions, and ``total`` how many are lit in all; the lights are then computed for
    those regions' projects only."""
    # the lights and the stage as of the day only: none of the rates' per-row values
    rows = with_report_stage(Project.objects.filter(signed_on__lte=ctx.day), ctx)
    if regions is not None:
        rows = rows.filter(region_id__in=regions)
    qs = (
        annotate_lights(rows, today=ctx.day, investment_from_dispatch=True)
        .filter(light__in=[Light.RED] if regions is not None else [Light.RED, Light.YELLOW])
        .select_related("region", "chain")
        .order_by("-light_rank", "region__sort_order", "region__name", "code")
    )
    if scope is not None:
        qs = qs.filter(pk__in=scope.values("pk"))
    if regions is not None:
        qs = qs[:limit]
    elif limit is not None:  # the total comes with the rows: COUNT(*) OVER () before the LIMIT
        qs = qs.annotate(lit_total=Window(Count("pk")))[:limit]
    stages = dict(Stage.choices)
    rows, total_seen = [], 0
    for project in qs:
        total_seen = getattr(project, "lit_total", 0)
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
    if total is not None:
        return rows, total
    return rows, (len(rows) if limit is None else total_seen)


def _first_regions(regions, figures, limit):
    """The ids of the first regions (in ``regions``' order, the list's: sort order, then the
    unique name) holding the first ``limit`` red projects of the list, from the red counts of
    ``figures`` (``_figures``); None when fewer than ``limit`` are red in all."""
    chosen, red = [], 0
    for region in regions:
        if red >= limit:
            break
        count = (figures["region"].get(region.pk) or {}).get("red") or 0
        if count:
            chosen.append(region.pk)
            red += count
    return chosen if red >= limit and limit > 0 else None


def check_month(year, month, *, today=None):
    """Refuse a month that cannot be reported (see the module doc); return its last day."""
    today = today or timezone.localdate()
    if not (year_in_range(year) and 1 <= month <= 12):
        raise ReportMonthError(_("There is no such month."))
    day = month_end(year, month)
    if day >= today:
        raise ReportMonthError(
            _("The report of %(month)s is available once the month has ended.")
            % {"month": month_text(year, month)}
        )
    first = Project.objects.order_by("signed_on").values_list("signed_on", flat=True).first()
    if first is None or first > day:
        raise ReportMonthError(
            _("No project had been signed by the end of %(month)s: there is nothing to report.")
            % {"month": month_text(year, month)}
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


def compute_report(*, year, month, warnings_user=None, warnings_limit=None):
    """The report of ``year``-``month`` as a JSON-ready dict (see the module doc).

    Texts (names, labels, reasons, definitions) are in the active language. By default
    ``warnings`` is the whole red/yellow list (what is published and exported). The page
    passes ``warnings_user`` and ``warnings_limit``: the list is then the first
    ``warnings_limit`` of the projects that user may see, and ``warnings_total`` says how many
    they are in all (``warnings_for`` reads it).
    """
    ctx = AsOf(month_end(year, month))
    prev = AsOf(month_end(*previous_month(year, month)), tag="previous_")
    now, before = _figures(ctx, prev)
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
    bounded = {}
    if warnings_limit is None:
        warnings, _total = _warnings(ctx)
    else:
        scope = None
        if permissions.rule(warnings_user, permissions.VIEW, "project") != permissions.ALL:
            scope = Project.objects.visible_to(warnings_user)
        lit = (now["city"].get("red") or 0) + (now["city"].get("yellow") or 0)
        first = None if scope is not None else _first_regions(regions, now, warnings_limit)
        if first is None:
            warnings, total = _warnings(ctx, scope=scope, limit=warnings_limit)
        else:
            warnings, total = _warnings(ctx, limit=warnings_limit, regions=first, total=lit)
        bounded = {"warnings_total": total, "warnings_outside": lit - total}
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
        "warnings": warnings,
        "invest_light": invest_light_applies(ctx.day),
        "lights_note": str(INVEST_LIGHT_NOTE),
        **bounded,
    }


def warnings_for(data, user, *, links=False, limit=None):
    """``data`` (a report's JSON) as ``user`` may see it: the red and yellow list reduced to
    the projects of ``Project.objects.visible_to(user)`` (matched by code) and
    ``warnings_hidden``, the number of rows left out. ``data`` itself is not changed.

    ``limit`` (the page: ``TRACKER["REPORT_WARNINGS_ON_PAGE"]``) keeps the first ``limit``
    rows, the most urgent; ``warnings_total`` is how many the reader may see in all (the XLSX
    lists them all). A live report computed with a bounded list (``compute_report(...,
    warnings_limit=...)``) carries its total and the number outside the reader's scope.

    With ``links``, each listed row has ``pk``, its project's, for the link to the project
    page: every listed project is one the reader may view (a project deleted since has
    ``pk`` None and no link). At most one query; none for a user who sees no project or
    when none is lit, nor, without ``links``, for a user who sees every project.
    """
    warnings = data.get("warnings") or []
    reach = permissions.rule(user, permissions.VIEW, "project")
    pks = {}
    if warnings and reach is not None and (links or reach != permissions.ALL):
        pks = dict(
            Project.objects.visible_to(user)
            .filter(code__in=[w["code"] for w in warnings])
            .values_list("code", "pk")
        )
    if reach == permissions.ALL:
        visible = warnings
    elif reach is None:
        visible = []
    else:
        visible = [w for w in warnings if w["code"] in pks]
    total, hidden = len(visible), len(warnings) - len(visible)
    if "warnings_total" in data:  # computed bounded, within the reader's scope
        total, hidden = data["warnings_total"], data["warnings_outside"]
    if limit is not None:
        visible = visible[:limit]
    return {
        **data,
        "warnings": [{**w, "pk": pks.get(w["code"])} for w in visible],
        "warnings_hidden": hidden,
        "warnings_total": total,
    }
