"""/dispatch/ and /dispatch/<yyyy>-W<ww>/: the weekly dispatch sheet (周调度).

Rules (weeks, deadline, who files what) live in ``tracker.dispatching``. Here:
- an unknown, malformed or not-yet-begun week answers 404 with the reason;
- a role that cannot file at all (chain office) gets 403 with a read-only message;
- a week closed for the user is shown read-only, and a POST to it is refused with 403;
- managers choose a region (``?region=<code>``), so one sheet stays a county's size;
- the sheet is paged (``?page=<n>``, ``TRACKER["DISPATCH_SHEET_PAGE_SIZE"]`` rows a page, in
  ``dispatching.SHEET_ORDER``); each page is a form of its own: its submit files only its
  rows, so nothing on another page is saved or lost. The POST's forms are made of the
  projects its rows name (``row-N-project``), not of what the page holds by then: another
  clerk's filing (on a ``?missing=1`` page) or a project entering the scope shifts the pages,
  and the rows are still filed for their own projects. Each posted id is checked against the
  user's sheet of the week (``dispatch_projects``: scope, due, the manager's region); a row
  naming any other project refuses the whole submission (nothing saved), and the other rows
  are shown again as typed. ``?missing=1`` lists only the projects without a report this
  week. The summary above the rows (filed / missing) counts the whole week, every page. A
  page past the last one (the list shrank, e.g. the missing rows were filed) redirects to
  the last page;
- the rows are written by ``forms.sheet_rows.SheetRows`` (Python, not the template engine:
  the page's cost at scale, issue 10); an opened page builds no form per row;
- a filing with stale rows (see "Stale sheets" in ``tracker.dispatching``) saves the other
  rows and shows the page again, the refused rows with the other person's values beside the
  user's and the current versions; otherwise a saved filing redirects (POST/redirect/GET).
"""

import math

from django.conf import settings
from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.db.models import Prefetch, Q, prefetch_related_objects
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .. import permissions
from ..choices import Stage
from ..dispatching import (
    DispatchError,
    WeekError,
    bounds,
    can_dispatch,
    current_week,
    deadline,
    dispatch_projects,
    excluded_count,
    file_weekly_dispatch,
    parse_week,
    row_initial,
    sheet_page,
    sheet_summary,
    shift_week,
    week_bounds,
    week_error,
    week_label,
)
from ..forms.dispatch import (
    DispatchRowForm,
    dispatch_formset,
    kept_rows,
    posted_project_ids,
    stage_choices,
    stage_key,
)
from ..forms.sheet_rows import SheetRows
from ..models import ChangeLog, Project, Region, StageChange, WeeklyDispatch
from ..periods import week_text

# The row fields a refused (stale) row keeps as the user typed them.
TYPED_FIELDS = ("stage", "completed_investment", "progress", "problems", "reason", "confirm")


NOT_ON_SHEET = gettext_lazy(
    "Nothing was saved: %(n)d rows of this page are for projects you cannot file this week "
    "(not in your scope, or no longer reporting this week). They are left out below; the "
    "other rows are shown as you typed them, to be saved again."
)

PAGE_GONE = gettext_lazy(
    "This page of the sheet no longer exists (the list changed since it was opened): "
    "nothing on it was saved. Please enter those rows again below."
)


def _problem(request, message, status):
    # The link to this week's sheet only for those who may open it (else it is the same 403).
    context = {"message": message, "may_dispatch": can_dispatch(request.user)}
    return render(request, "tracker/dispatch_problem.html", context, status=status)


def dispatch_current(request):
    return dispatch_week(request, week=week_label(*current_week()))


def page_size():
    return max(1, int(settings.TRACKER.get("DISPATCH_SHEET_PAGE_SIZE", 200)))


def _sheet(user, iso_year, iso_week, region, ids):
    """The projects of ``ids`` that are on the user's sheet this week (``dispatch_projects``:
    the scope and the week's due list, and the manager's region), in the order of ``ids``
    (each once; the others are left out), their reference reports and pre-filled rows
    (2 queries whatever the size of the whole sheet, and one more when some are stalled)."""
    projects = dispatch_projects(user, iso_year, iso_week, stage_as_of=False).filter(pk__in=ids)
    if region is not None:
        projects = projects.filter(region=region)
    found = {p.pk: p for p in projects} if ids else {}
    projects = [found[pk] for pk in dict.fromkeys(ids) if pk in found]
    # Only a stalled project's stage choices read its history (the stage it resumes,
    # ``rules.stage_before_stall``): the others' is not fetched.
    stalled = [p for p in projects if p.stage == Stage.STALLED]
    for p in projects:
        if p.stage != Stage.STALLED:
            p.prefetched_stage_changes = []
    prefetch_related_objects(
        stalled,
        Prefetch(
            "stage_changes",
            queryset=StageChange.objects.order_by("effective_on", "id"),
            to_attr="prefetched_stage_changes",
        ),
    )
    reference = WeeklyDispatch.objects.in_bulk([p.prefill_id for p in projects if p.prefill_id])
    initial = [row_initial(p, reference.get(p.prefill_id), iso_year, iso_week) for p in projects]
    return projects, reference, initial


def _sheet_url(week, *, region=None, missing_only=False, page=1):
    url = reverse("tracker:dispatch_week", args=[week])
    query = QueryDict(mutable=True)
    if region is not None:
        query["region"] = region.code
    if missing_only:
        query["missing"] = "1"
    if page > 1:
        query["page"] = str(page)
    return url + ("?" + query.urlencode() if query else "")


def _page_number(request):
    """``?page=`` as a number ≥ 1, or None for anything else."""
    text = request.GET.get("page", "1")
    if not (text.isascii() and text.isdigit()) or len(text) > 6 or int(text) < 1:
        return None
    return int(text)


def _page_links(current, pages, url_of):
    """The page navigation: first, a few around the current one, last (None: a gap)."""
    shown = sorted({1, pages, *range(max(1, current - 2), min(pages, current + 2) + 1)})
    links, previous = [], 0
    for number in shown:
        if number > previous + 1:
            links.append(None)
        links.append({"number": number, "url": url_of(number), "current": number == current})
        previous = number
    return links


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
    if permissions.may(user, permissions.OVERSEE, "site"):
        # City-wide: one region at a time, so one sheet stays a county's size.
        regions = list(Region.objects.all())
        code = request.GET.get("region") or (regions[0].code if regions else "")
        region = next((r for r in regions if r.code == code), None)
        if region is None and regions:
            return _problem(request, _("Unknown region."), 404)
    page = _page_number(request)
    if page is None:
        return _problem(request, _("There is no such page of this sheet."), 404)
    missing_only = request.GET.get("missing") == "1"
    size = page_size()
    label = week_label(iso_year, iso_week)

    def url_of(number, *, missing=missing_only):
        return _sheet_url(label, region=region, missing_only=missing, page=number)

    if request.method == "POST" and closed:
        return _problem(request, str(closed), 403)
    ids, row_count, summary = sheet_page(
        user, iso_year, iso_week, region=region, missing_only=missing_only, page=page, size=size
    )
    if summary is None:
        summary = sheet_summary(user, iso_year, iso_week, region=region)
    # A POST files the rows it carries (their projects, re-checked below), wherever they
    # are in the list now: the page may hold other projects since it was opened.
    posted = posted_project_ids(request.POST, limit=size) if request.method == "POST" else None

    def to_the_last_page():
        rows_left = summary["missing"] if missing_only else summary["total"]
        return redirect(url_of(max(1, math.ceil(rows_left / size))))

    if not ids and page > 1 and posted is None:
        # Past the last page (the list shrank since the link was made): nothing is filed,
        # and a clerk who typed rows on it is told so.
        if request.method == "POST":
            messages.error(request, PAGE_GONE)
        return to_the_last_page()
    week_kwargs = {"iso_year": iso_year, "iso_week": iso_week}
    url = url_of(page)
    formset, conflicts, refused = None, {}, False
    if posted is None:
        projects, reference, initial = _sheet(user, iso_year, iso_week, region, ids)
    else:
        projects, reference, initial = _sheet(
            user, iso_year, iso_week, region, [pk for pk in posted if pk is not None]
        )
        kept = _first_rows_of(posted, projects)
        if len(kept) < len(posted):
            # Rows for projects the user cannot file this week (out of scope, no longer due,
            # forged): the whole submission is refused; the other rows come back as typed.
            messages.error(request, NOT_ON_SHEET % {"n": len(posted) - len(kept)})
            refused = True
            if kept:
                formset = dispatch_formset(
                    projects,
                    user,
                    data=kept_rows(request.POST, kept),
                    initial=initial,
                    **week_kwargs,
                )
            elif not ids and page > 1:
                return to_the_last_page()
            else:  # no row left to show again: the page as it is now
                projects, reference, initial = _sheet(user, iso_year, iso_week, region, ids)
    if request.method == "POST" and not refused:
        formset = dispatch_formset(
            projects, user, data=request.POST, initial=initial, **week_kwargs
        )
        if formset.is_valid():
            rows = formset.changed_rows()
            try:
                filing = file_weekly_dispatch(rows=rows, by=user, **week_kwargs)
            except DispatchError as exc:
                _attach_errors(formset, exc)
            else:
                if filing.reports:
                    messages.success(
                        request,
                        _("Saved %(n)d reports for week %(week)s.")
                        % {"n": len(filing.reports), "week": week_text(iso_year, iso_week)},
                    )
                elif not filing.conflicts:
                    messages.info(request, _("Nothing changed, nothing was saved."))
                if not filing.conflicts:
                    return redirect(url)
                conflicts = filing.conflicts
                messages.error(
                    request,
                    _(
                        "%(n)d rows were not saved: someone else filed or changed these "
                        "projects after you opened this page. Their values are shown beside "
                        "yours below; saving again applies yours."
                    )
                    % {"n": len(conflicts)},
                )
                filed_ids = [p.pk for p in projects]
                fresh, reference, initial = _sheet(user, iso_year, iso_week, region, filed_ids)
                if [p.pk for p in fresh] != filed_ids:
                    return redirect(url)  # a row left the sheet meanwhile: start afresh
                projects = fresh
                summary = sheet_summary(user, iso_year, iso_week, region=region)
                formset = dispatch_formset(
                    projects,
                    user,
                    data=_rebound(request.POST, formset, initial, conflicts),
                    initial=initial,
                    **week_kwargs,
                )
        if not conflicts and (formset.non_form_errors() or any(f.errors for f in formset.forms)):
            messages.error(request, _("Nothing was saved: please correct the rows marked below."))
    if formset is None:
        formset = dispatch_formset(projects, user, initial=initial, **week_kwargs)

    changed_by = _last_changes(projects, conflicts)
    initial_of = {values["project"]: values["completed_investment"] for values in initial}
    bound = formset.forms if formset.is_bound else None  # an opened page builds no forms
    rows = []
    for index, (p, values) in enumerate(zip(projects, initial, strict=True)):
        manages = permissions.may(user, permissions.MANAGE, p)
        stage_changes = getattr(p, "prefetched_stage_changes", ())
        rows.append(
            {
                "project": p,
                "initial": values,
                "choices_key": stage_key(p, manages=manages, stage_changes=stage_changes),
                "has_reason": manages,
                "last": reference.get(p.prefill_id),
                "filed": p.report_id,
                "project_now": p.completed_investment
                if p.completed_investment != initial_of.get(p.pk)
                else None,
                "bounds": bounds(p, iso_year, iso_week),
                "conflict": _conflict_row(p, bound[index], reference, changed_by.get(p.pk))
                if p.pk in conflicts
                else None,
            }
        )
    missing = [p for p in projects if not p.report_id]
    writer = SheetRows(
        form_class=DispatchRowForm,
        prefix=formset.prefix,
        closed=closed,
        stage_choices=stage_choices,
    )
    pages = max(1, math.ceil(row_count / size))
    prev_week = week_label(*shift_week(iso_year, iso_week, -1))
    next_year, next_week = shift_week(iso_year, iso_week, 1)
    context = {
        "week": label,
        "week_start": start,
        "week_end": end,
        "deadline": deadline(iso_year, iso_week),
        "past_deadline": timezone.now() > deadline(iso_year, iso_week),
        "closed": closed,
        "formset": formset,
        "rows": rows,
        "rows_html": writer.write(rows, forms=bound),
        # Not through ``formset`` in the template: ``{{ formset.x }}`` first tries
        # ``formset["x"]``, which builds every row's form.
        "management_form": formset.management_form,
        "non_form_errors": formset.non_form_errors(),
        # This page's projects without a report; ``summary`` counts the whole week.
        "missing": missing,
        "missing_html": writer.missing(missing),
        "summary": summary,
        "filed_count": summary["filed"],
        "excluded": excluded_count(user, iso_year, iso_week, region=region),
        "missing_only": missing_only,
        "all_url": url_of(1, missing=False),
        "missing_url": url_of(1, missing=True),
        "page": {
            "number": page,
            "count": pages,
            "size": size,
            "first_row": (page - 1) * size + 1,
            "last_row": (page - 1) * size + len(projects),
            "rows": row_count,
            "previous": url_of(page - 1) if page > 1 else None,
            "next": url_of(page + 1) if page < pages else None,
            "links": _page_links(page, pages, url_of) if pages > 1 else [],
        },
        "prev_week": prev_week,
        "next_week": week_label(next_year, next_week)
        if week_bounds(next_year, next_week)[0] <= today
        else None,
        "regions": regions,
        "region": region,
        "form_url": url,
    }
    return render(request, "tracker/dispatch.html", context)


def _first_rows_of(posted, projects):
    """The indexes of the posted rows whose project is among ``projects`` (the ones on the
    user's sheet), each project's first row only."""
    wanted, indexes = {p.pk for p in projects}, []
    for index, pk in enumerate(posted):
        if pk in wanted:
            indexes.append(index)
            wanted.discard(pk)
    return indexes


def _rebound(post, formset, initial, conflicts):
    """The sheet's data after a filing with stale rows: the saved and untouched rows as
    they now are (unchanged), the refused rows with what the user typed over the current
    values and versions, so that saving again applies them knowingly."""
    data = {f"{formset.prefix}-{k}": v for k, v in formset.management_form.cleaned_data.items()}
    for form, values in zip(formset.forms, initial, strict=True):
        for name, value in values.items():
            value = "" if value is None else value
            data[form.add_prefix(name)] = value
            data[form.add_initial_prefix(name)] = value
        if values["project"] in conflicts:
            for name in TYPED_FIELDS:
                key = form.add_prefix(name)
                if key in post:
                    data[key] = post[key]
                else:
                    data.pop(key, None)
        else:
            data.pop(form.add_prefix("confirm"), None)
    return data


def _last_changes(projects, conflicts):
    """Project id → the newest history row of the project or of its report this week, for
    the refused rows: who changed them meanwhile. One query, read newest first until each
    row has its answer."""
    if not conflicts:
        return {}
    dispatch_type = ContentType.objects.get_for_model(WeeklyDispatch)
    project_type = ContentType.objects.get_for_model(Project)
    owner = {}  # (content type id, object id) → project id
    for p in projects:
        if p.pk in conflicts:
            owner[(project_type.pk, p.pk)] = p.pk
            if p.report_id:
                owner[(dispatch_type.pk, p.report_id)] = p.pk
    report_ids = [oid for ct, oid in owner if ct == dispatch_type.pk]
    entries = (
        ChangeLog.objects.filter(
            Q(content_type=project_type, object_id__in=list(conflicts))
            | Q(content_type=dispatch_type, object_id__in=report_ids)
        )
        .select_related("changed_by")
        .order_by("-changed_at", "-id")
    )
    found = {}
    for entry in entries.iterator(chunk_size=100):
        pk = owner.get((entry.content_type_id, entry.object_id))
        if pk is not None:
            found.setdefault(pk, entry)
            if len(found) == len(conflicts):
                break
    return found


def _conflict_row(project, form, reference, last):
    """What a refused row shows: the other person's values next to the user's."""
    report = reference.get(project.report_id) if project.report_id else None
    stage_labels = dict(form.fields["stage"].choices)
    return {
        "by": last.changed_by if last else None,
        "at": last.changed_at if last else None,
        "report": report,
        "theirs": {
            "stage": report.get_stage_display() if report else project.get_stage_display(),
            # This week's figure: its report's, else the project's (a past week's report
            # is not the project's current figure).
            "completed_investment": report.completed_investment
            if report
            else project.completed_investment,
            "progress": report.progress if report else "",
            "problems": report.problems if report else "",
        },
        "yours": {
            "stage": stage_labels.get(form["stage"].value() or "", ""),
            "completed_investment": form["completed_investment"].value(),
            "progress": form["progress"].value(),
            "problems": form["problems"].value(),
        },
    }


def _attach_errors(formset, exc):
    """Show a refused filing's messages beside the rows and fields they concern."""
    by_project = {form.project.pk: form for form in formset.forms}
    formset._non_form_errors.extend(exc.messages)
    rows = dict(exc.rows)
    for pk in exc.conflicts:
        rows.setdefault(pk, {}).setdefault(None, []).append(
            _(
                "Someone else filed or changed this project after you opened this page; "
                "reload the page to see their values."
            )
        )
    for pk, fields in rows.items():
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
