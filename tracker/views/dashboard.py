"""/dashboard/ (the year at a glance, with charts) and the chain pages /chains/, /chains/<id>/.

Dashboard year: ``?year=YYYY``; without it, the latest year with signed projects in the
user's scope. A bad year (not a number, out of range, or a year with no signed projects in
the scope) does not fail: the page shows the default year with a message saying why
(status 200), so a stale bookmark still lands somewhere useful.

All figures are computed by the database (see tracker/dashboard.py and tracker/chains.py);
each page runs a fixed number of queries whatever the number of projects.
"""

from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import permissions
from ..chains import (
    chain_problems,
    chains_visible_to,
    leaders_prefetch,
    problem_counts,
    with_rollups,
)
from ..dashboard import chart_payload, dashboard_data, signed_years
from ..models import Project

CHAIN_PROJECT_LIMIT = 20
CHAIN_PROBLEM_LIMIT = 50


def _pick_year(raw, years, today):
    """(year, message): the requested year if it has data, else the default with a reason."""
    default = years[0] if years else today.year
    if raw is None or raw == "":
        return default, None
    try:
        year = int(raw)
    except ValueError:
        return default, _("“%(value)s” is not a year; showing %(year)s.") % {
            "value": raw[:20],
            "year": default,
        }
    if year not in years:
        return default, _("No signed projects in %(asked)s in your view; showing %(year)s.") % {
            "asked": year,
            "year": default,
        }
    return year, None


def dashboard(request):
    today = timezone.localdate()
    scope = Project.objects.visible_to(request.user)
    years = signed_years(scope)
    year, year_message = _pick_year(request.GET.get("year"), years, today)
    data = dashboard_data(scope, year=year, today=today)
    context = {
        **data,
        "years": years,
        "year_message": year_message,
        "no_data": not years,
        "scope_note": permissions.scope_note(request.user),
        "is_current_year": data["as_of"] == today,
        "chart_data": chart_payload(
            data, highlight_region_id=permissions.home_region_id(request.user)
        ),
        "own_region_id": permissions.home_region_id(request.user),
    }
    return render(request, "tracker/dashboard.html", context)


def _problems_url(chain=None):
    """The problem ledger (another module's page), filtered by chain; None until it exists."""
    try:
        url = reverse("tracker:problem_list")
    except NoReverseMatch:
        return None
    return f"{url}?chain={chain.pk}" if chain else url


def chain_list(request):
    chains = list(
        with_rollups(chains_visible_to(request.user), request.user).prefetch_related(
            leaders_prefetch()
        )
    )
    totals = {
        "projects": sum(c.project_count for c in chains),
        "amount": sum(c.signed_amount for c in chains),
        "open_problems": sum(c.open_problems for c in chains),
    }
    return render(
        request,
        "tracker/chain_list.html",
        {"chains": chains, "totals": totals, "problems_url": _problems_url()},
    )


def chain_detail(request, pk):
    user = request.user
    today = timezone.localdate()
    chain = get_object_or_404(
        chains_visible_to(user).prefetch_related(leaders_prefetch(), "anchor_enterprises__region"),
        pk=pk,
    )

    projects = Project.objects.visible_to(user).filter(chain=chain)
    totals = projects.totals()
    listed = list(
        projects.with_tiers()
        .select_related("region", "enterprise")
        .order_by("-signed_amount", "code")[:CHAIN_PROJECT_LIMIT]
    )
    problems = chain_problems(chain, user, today=today)
    counts = problem_counts(problems, today=today)
    context = {
        "chain": chain,
        "leaders": list(chain.leaders.all()),
        "anchors": list(chain.anchor_enterprises.all()),
        "projects": listed,
        "more_projects": max(totals["count"] - len(listed), 0),
        "totals": totals,
        "projects_url": f"{reverse('tracker:project_list')}?chain={chain.pk}",
        "problems": list(problems[:CHAIN_PROBLEM_LIMIT]),
        "problem_counts": counts,
        "more_problems": max(counts["total"] - CHAIN_PROBLEM_LIMIT, 0),
        "problems_url": _problems_url(chain),
        "today": today,
    }
    return render(request, "tracker/chain_detail.html", context)


urlpatterns = [
    path("dashboard/", dashboard, name="dashboard"),
    path("chains/", chain_list, name="chain_list"),
    path("chains/<int:pk>/", chain_detail, name="chain_detail"),
]
