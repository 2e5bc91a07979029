"""Bulk changes from the project list: the new value → confirmation → result (all POST).

The list posts the set (ticked rows or all matching its filter) and the field here; this page
asks the new value, then shows the confirmation (the count, the filter in words, the field
and value, the set's fingerprint hidden); applying posts to ``project_bulk_apply``. A GET
of either (a reload, a bookmark) goes back to the list.
"""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import path, reverse

from .. import bulk, jobs
from ..forms.bulk import APPLY, REVIEW, VALUE_INPUTS, BulkChangeForm

TEMPLATE = "tracker/project_bulk.html"


def _list_url(request):
    query = request.POST.get("query", "")
    return reverse("tracker:project_list") + (f"?{query}" if query else "")


def _page(request, form, mode, *, found=None, result=None, status=200):
    name = form.cleaned_data.get("field") if hasattr(form, "cleaned_data") else None
    value_inputs = VALUE_INPUTS.get(name, ())
    context = {
        "form": form,
        "mode": mode,
        "found": found,
        "editable": found.editable_count(request.user) if found else None,
        "result": result,
        "list_url": _list_url(request),
        "field_label": bulk.field_label(name) if name else "",
        # The value page carries the set and the field; the confirmation everything.
        "carried": form.carried(
            without=(*value_inputs, "all_or_nothing") if mode == "value" else ()
        ),
    }
    return render(request, TEMPLATE, context, status=status)


# Inputs naming the set and the field: an error in one leaves nothing to ask or confirm.
SET_INPUTS = ("scope", "query", "ids", "field", "__all__")


def _start(request, step):
    """The posted form for ``step``, and the page to show instead when the set or the field
    is not valid (None when they are)."""
    if not bulk.offered_fields(request.user):
        raise PermissionDenied
    form = BulkChangeForm(request.POST, user=request.user, step=step)
    form.is_valid()
    if any(name in form.errors for name in SET_INPUTS):
        return form, _page(request, form, "problem")
    return form, None


def project_bulk(request):
    """The new value (posted from the list), then the confirmation (posted with it)."""
    if request.method != "POST":
        return redirect("tracker:project_list")
    step = REVIEW if request.POST.get("step") == REVIEW else "choose"
    form, page = _start(request, step)
    if page:
        return page
    try:
        found = bulk.resolve_set(by=request.user, **form.set_kwargs())
    except ValidationError as error:
        form.add_error(None, error)
        return _page(request, form, "problem")
    if step == REVIEW and form.is_valid():
        return _page(request, form, "confirm", found=found)
    return _page(request, form, "value", found=found)


def project_bulk_apply(request):
    """Apply the confirmed change; the set changed meanwhile → confirm again."""
    if request.method != "POST":
        return redirect("tracker:project_list")
    form, page = _start(request, APPLY)
    if page:
        return page
    if not form.is_valid():
        return _page(request, form, "value", found=None)
    data = form.cleaned_data
    count = bulk.fingerprint_count(data["fingerprint"])
    if count > settings.TRACKER["BULK_BACKGROUND_ROWS"]:  # too long for a request
        value = data["value"]
        params = {
            "field": data["field"],
            "value": getattr(value, "pk", value),
            "fingerprint": data["fingerprint"],
            "stage_on": data["stage_on"].isoformat() if data["stage_on"] else None,
            "all_or_nothing": data["all_or_nothing"],
            "count": count,
            **form.set_kwargs(),
        }
        job = jobs.queue_bulk(user=request.user, params=params)
        return redirect("tracker:job_detail", pk=job.pk)
    try:
        result = bulk.apply_bulk_change(
            by=request.user,
            field=data["field"],
            value=data["value"],
            fingerprint=data["fingerprint"],
            stage_on=data["stage_on"],
            all_or_nothing=data["all_or_nothing"],
            **form.set_kwargs(),
        )
    except bulk.SetChanged as changed:
        messages.warning(request, bulk.set_changed_message(changed.current.count))
        return _page(request, form, "confirm", found=changed.current)
    except ValidationError as error:
        form.add_error(None, error)
        return _page(request, form, "problem")
    return _page(request, form, "result", result=result)


urlpatterns = [
    path("projects/bulk/", project_bulk, name="project_bulk"),
    path("projects/bulk/apply/", project_bulk_apply, name="project_bulk_apply"),
]
