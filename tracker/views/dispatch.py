"""/dispatch/ and /dispatch/<yyyy>-W<ww>/: the weekly dispatch sheet (周调度).

Rules (weeks, deadline, who files what) live in ``tracker.dispatching``. Here:
- an unknown, malformed or not-yet-begun week answers 404 with the reason;
- a role that cannot file at all (chain office) gets 403 with a read-only message;
- a week closed for the user is shown read-only, and a POST to it is refused with 403;
- managers choose a region (``?region=<code>``), so one sheet stays a county's size.
"""

from django.contrib import messages
from django.db.models import Prefetch
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from ..dispatching import (
    DispatchError,
    WeekError,
    can_dispatch,
    current_week,
    deadline,
    dispatch_formset,
    dispatch_projects,
    excluded_count,
    file_weekly_dispatch,
    parse_week,
    shift_week,
    week_bounds,
    week_error,
    week_label,
)
from ..models import Region, StageChange, WeeklyDispatch


def _problem(request, message, status):
    return render(request, "tracker/dispatch_problem.html", {"message": message}, status=status)


def dispatch_current(request):
    return dispatch_week(request, week=week_label(*current_week()))


def dispatch_week(request, week):
    user = request.user
    try:
        iso_year, iso_week = parse_week(week)
    except WeekError as exc:
        return _problem(request, str(exc), 404)
    if not can_dispatch(user):
        return _problem(
            request,
            _(
                "Your account is read-only: chain offices see their chain's projects but do not "
                "file the weekly dispatch."
            ),
            403,
        )
    today = timezone.localdate()
    closed = week_error(iso_year, iso_week, user=user, today=today)
    start, end = week_bounds(iso_year, iso_week)
    if start > today:
        return _problem(request, str(closed), 404)

    regions, region = [], None
    projects = dispatch_projects(user, iso_year, iso_week).prefetch_related(
        Prefetch(
            "stage_changes",
            queryset=StageChange.objects.order_by("effective_on", "id"),
            to_attr="prefetched_stage_changes",
        )
    )
    if user.is_manager:
        regions = list(Region.objects.all())
        code = request.GET.get("region") or (regions[0].code if regions else "")
        region = next((r for r in regions if r.code == code), None)
        if region is None and regions:
            return _problem(request, _("Unknown region."), 404)
        projects = projects.filter(region=region)
    projects = list(projects)
    prefill = WeeklyDispatch.objects.in_bulk([p.prefill_id for p in projects if p.prefill_id])
    initial = []
    for p in projects:
        last = prefill.get(p.prefill_id)
        initial.append(
            {
                "project": p.pk,
                "stage": "",
                "completed_investment": last.completed_investment
                if last
                else p.completed_investment,
                "progress": last.progress if last else "",
                "problems": last.problems if last else "",
            }
        )

    url = reverse("tracker:dispatch_week", args=[week_label(iso_year, iso_week)])
    if region:
        url += "?region=" + region.code
    formset = None
    if request.method == "POST":
        if closed:
            return _problem(request, str(closed), 403)
        formset = dispatch_formset(projects, user, data=request.POST, initial=initial)
        if formset.is_valid():
            rows = formset.changed_rows()
            try:
                saved = file_weekly_dispatch(
                    iso_year=iso_year, iso_week=iso_week, rows=rows, by=user
                )
            except DispatchError as exc:
                _attach_errors(formset, exc)
            else:
                if saved:
                    messages.success(
                        request,
                        _("Saved %(n)d reports for week %(week)s.")
                        % {"n": len(saved), "week": week_label(iso_year, iso_week)},
                    )
                else:
                    messages.info(request, _("Nothing changed, nothing was saved."))
                return redirect(url)
        if formset.non_form_errors() or any(f.errors for f in formset.forms):
            messages.error(request, _("Nothing was saved: please correct the rows marked below."))
    if formset is None:
        formset = dispatch_formset(projects, user, initial=initial)

    rows = [
        {"project": p, "form": form, "last": prefill.get(p.prefill_id), "filed": p.report_id}
        for p, form in zip(projects, formset.forms, strict=False)
    ]
    prev_week = week_label(*shift_week(iso_year, iso_week, -1))
    next_year, next_week = shift_week(iso_year, iso_week, 1)
    context = {
        "week": week_label(iso_year, iso_week),
        "week_start": start,
        "week_end": end,
        "deadline": deadline(iso_year, iso_week),
        "past_deadline": timezone.now() > deadline(iso_year, iso_week),
        "closed": closed,
        "formset": formset,
        "rows": rows,
        "missing": [p for p in projects if not p.report_id],
        "filed_count": sum(1 for p in projects if p.report_id),
        "excluded": excluded_count(user, iso_year, iso_week, region=region),
        "prev_week": prev_week,
        "next_week": week_label(next_year, next_week)
        if week_bounds(next_year, next_week)[0] <= today
        else None,
        "regions": regions,
        "region": region,
        "form_url": url,
    }
    return render(request, "tracker/dispatch.html", context)


def _attach_errors(formset, exc):
    """Show a refused filing's messages beside the rows and fields they concern."""
    by_project = {form.project.pk: form for form in formset.forms}
    formset._non_form_errors.extend(exc.messages)
    for pk, fields in exc.rows.items():
        form = by_project.get(pk)
        for field, field_messages in fields.items():
            for message in field_messages:
                if form is None:
                    formset._non_form_errors.append(str(message))
                else:
                    form.add_error(field if field in form.fields else None, message)


urlpatterns = [
    path("dispatch/", dispatch_current, name="dispatch"),
    path("dispatch/<str:week>/", dispatch_week, name="dispatch_week"),
]
