"""Import pages: upload a spreadsheet, read its preview (it survives a reload), confirm it.

The work is tracker.imports'; these views only turn requests into its calls. A batch is its
uploader's alone: anyone else gets a 404.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path

from .. import dispatching, imports
from ..choices import ImportKind, ImportState
from ..forms.imports import UploadForm
from ..imports.base import CREATE, ERROR, UPDATE
from ..spreadsheets import XLSX_TYPE, attachment, file_name
from .jobs import REFRESH_SECONDS

ROWS_PER_PAGE = 200
RECENT = 10
TEMPLATE_NAMES = {ImportKind.PROJECTS: "项目导入模板", ImportKind.DISPATCH: "周调度"}


def _kind(kind, user):
    if kind not in ImportKind.values:
        raise Http404
    if not imports.may_import(user, kind):
        raise PermissionDenied
    return ImportKind(kind)


def _week(request):
    """The week asked in the query (the sheet's link), else the current one."""
    asked = request.GET.get("week", "")
    try:
        dispatching.parse_week(asked)
    except dispatching.WeekError:
        return dispatching.week_label(*dispatching.current_week())
    return asked


def import_upload(request, kind):
    kind = _kind(kind, request.user)
    week = _week(request)
    form = UploadForm(request.POST or None, request.FILES or None, kind=kind, week=week)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        params = {"week": form.cleaned_data["week"]} if "week" in form.cleaned_data else {}
        try:
            batch = imports.upload(
                kind=kind, by=request.user, name=upload.name, data=upload.read(), params=params
            )
        except imports.FileError as error:
            form.add_error("file", error.message)
        else:
            return redirect("tracker:import_detail", pk=batch.pk)
    recent = imports.visible_to(request.user).filter(kind=kind).defer("data", "plan")[:RECENT]
    return render(
        request,
        "tracker/import_upload.html",
        {"form": form, "kind": kind, "recent": recent, "week": week},
    )


def import_template(request, kind):
    kind = _kind(kind, request.user)
    week = _week(request)
    params = {"week": week} if kind == ImportKind.DISPATCH else {}
    data = imports.template(kind, by=request.user, params=params)
    response = HttpResponse(data, content_type=XLSX_TYPE)
    parts = [TEMPLATE_NAMES[kind], week] if params else [TEMPLATE_NAMES[kind]]
    response["Content-Disposition"] = attachment(
        file_name(parts, "xlsx"), f"{kind.value}-import-template.xlsx"
    )
    return response


def _plan(batch):
    """The stored preview, read defensively: whatever the JSON holds, the page renders."""
    plan = batch.plan if isinstance(batch.plan, dict) else {}
    rows = [
        {
            "row": r.get("row"),
            "code": r.get("code"),
            "action": r.get("action"),
            "changes": [
                c
                for c in (r.get("changes") if isinstance(r.get("changes"), list) else [])
                if isinstance(c, list) and len(c) == 3
            ],
        }
        for r in plan.get("rows") or []
        if isinstance(r, dict)
    ]
    errors = [e for e in plan.get("errors") or [] if isinstance(e, dict)]
    counts = plan.get("counts") if isinstance(plan.get("counts"), dict) else {}
    lists = {
        k: v if isinstance(v, list) else [] for k in ("ignored", "unknown") for v in [plan.get(k)]
    }
    return {**lists, "rows": rows, "errors": errors, "counts": counts}


def import_detail(request, pk):
    batch = get_object_or_404(imports.visible_to(request.user).defer("data"), pk=pk)
    plan = _plan(batch)
    shown = [r for r in plan["rows"] if r.get("action") in (CREATE, UPDATE, ERROR)]
    page = Paginator(shown, ROWS_PER_PAGE).get_page(request.GET.get("page"))
    job = imports.pending_job(batch)
    counts = plan["counts"]
    if job is None and batch.state in (ImportState.PREVIEWING, ImportState.APPLYING):
        gave_up = imports.failed_job(batch)  # its workers kept dying: say so, stop waiting
        if gave_up is not None:
            messages.error(request, gave_up.error)
    ready = batch.state == ImportState.READY and batch.kind in ImportKind.values
    return render(
        request,
        "tracker/import_detail.html",
        {
            "batch": batch,
            "kind": batch.kind if batch.kind in ImportKind.values else ImportKind.PROJECTS,
            "plan": plan,
            "counts": counts,
            "page": page,
            "job": job,
            "refresh": REFRESH_SECONDS if job else None,
            "may_confirm": ready
            and not batch.errors
            and bool(counts.get(CREATE) or counts.get(UPDATE)),
        },
    )


def import_confirm(request, pk):
    batch = get_object_or_404(imports.visible_to(request.user).defer("data"), pk=pk)
    if request.method != "POST":  # someone else's batch is a 404 first
        return HttpResponseNotAllowed(["POST"])
    try:
        imports.confirm(batch=batch, by=request.user)
    except imports.Stale:
        pass  # the batch's message says which rows; shown on its page
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    return redirect("tracker:import_detail", pk=batch.pk)


urlpatterns = [
    path("imports/<int:pk>/", import_detail, name="import_detail"),
    path("imports/<int:pk>/confirm/", import_confirm, name="import_confirm"),
    path("imports/<str:kind>/", import_upload, name="import_upload"),
    path("imports/<str:kind>/template/", import_template, name="import_template"),
]
