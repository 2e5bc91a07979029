"""季督查 (quarterly inspections) and 年考核 (the annual assessment).

Inspections: read scope is ``Inspection.objects.visible_to(user)`` — an inspection outside
it answers 404 for GET and POST. Creating inspections and items, verifying and escalating
are for managers (403 for others); marking an item done is for county staff of the region
and managers. The rules live in ``tracker.inspections``.

Assessment: every signed-in role may read it (a published ranking of the regions, no
project details); only managers edit the weights and add adjustments (403 for others,
nothing saved). A year before the first project or after this year answers 404 with the
reason. The computation lives in ``tracker.assessments``.
"""

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from .. import assessments, exports, inspections, permissions
from ..choices import ListName
from ..filters import InspectionFilterSet
from ..forms import AdjustmentForm, DoneForm, InspectionForm, ItemForm, WeightsForm
from ..models import ChangeLog, Inspection, RectificationItem, Region
from ..tables import InspectionTable
from .lists import FilteredListView

# --- inspections -------------------------------------------------------------------------


class InspectionListView(FilteredListView):
    """/inspections/: filters in the URL; counts of items per inspection in the same query.

    CSV and XLSX export of the filtered set (tracker.exports); no page-size choice: 50
    rows, or django-tables2's own ``?per_page=``, as this page always had.
    """

    table_class = InspectionTable
    filterset_class = InspectionFilterSet
    exporters = {"csv": exports.inspection_csv_response, "xlsx": exports.inspection_xlsx_response}
    export_list = "inspections"
    list_name = ListName.INSPECTIONS
    template_name = "tracker/inspection_list.html"
    page_sizes = ()

    def get_queryset(self):
        return (
            Inspection.objects.visible_to(self.request.user)
            .select_related("region", "project")
            .with_item_counts(timezone.localdate())
        )

    def get_filterset_kwargs(self, filterset_class):
        kwargs = super().get_filterset_kwargs(filterset_class)
        kwargs["today"] = timezone.localdate()
        return kwargs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["can_manage"] = inspections.can_manage(self.request.user)
        return context


def inspection_create(request):
    if not inspections.can_manage(request.user):
        raise PermissionDenied
    form = InspectionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            inspection = inspections.create_inspection(data=form.model_data(), by=request.user)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("The inspection was recorded."))
            return redirect("tracker:inspection_detail", pk=inspection.pk)
    return render(request, "tracker/inspection_form.html", {"form": form})


def _visible_inspection(request, pk):
    return get_object_or_404(
        Inspection.objects.visible_to(request.user).select_related(
            "region", "project", "created_by__region", "created_by__chain"
        ),
        pk=pk,
    )


def _detail(request, inspection, *, item_form=None, refused_done=None, status=200):
    """The inspection page; ``refused_done`` = (item pk, bound DoneForm, messages) shows a
    refused "mark done" again in its row with what was typed and why it was refused."""
    user = request.user
    today = timezone.localdate()
    items = list(
        inspection.items.with_overdue(today)
        .select_related("verified_by__region", "verified_by__chain")
        .order_by("deadline", "id")
    )
    for item in items:
        item.inspection = inspection
        item.actions = inspections.allowed_actions(user, item)
        item.done_form, item.done_errors = DoneForm(), []
        if refused_done and refused_done[0] == item.pk:
            item.done_form, item.done_errors = refused_done[1], refused_done[2]
    can_manage = inspections.can_manage(user)
    context = {
        "inspection": inspection,
        "items": items,
        "overdue": sum(1 for i in items if i.is_overdue),
        "can_manage": can_manage,
        "item_form": item_form or (ItemForm() if can_manage else None),
        "history": _history(inspection, items),
    }
    return render(request, "tracker/inspection_detail.html", context, status=status)


HISTORY_LIMIT = 100


def _history(inspection, items):
    """The ChangeLog of the inspection and its items, newest first, in one query."""
    types = ContentType.objects.get_for_models(Inspection, RectificationItem)
    numbers = {item.pk: n for n, item in enumerate(items, start=1)}
    entries = list(
        ChangeLog.objects.filter(
            Q(content_type=types[Inspection], object_id=inspection.pk)
            | Q(content_type=types[RectificationItem], object_id__in=list(numbers))
        ).select_related("changed_by__region", "changed_by__chain")[:HISTORY_LIMIT]
    )
    labels = {f.name: f.verbose_name for f in RectificationItem._meta.concrete_fields}
    for entry in entries:
        is_item = entry.content_type_id == types[RectificationItem].pk
        entry.item_number = numbers.get(entry.object_id) if is_item else None
        entry.field_label = labels.get(entry.field, entry.field) if is_item else entry.field
    return entries


def inspection_detail(request, pk):
    return _detail(request, _visible_inspection(request, pk))


@require_POST
def inspection_item_add(request, pk):
    inspection = _visible_inspection(request, pk)
    if not inspections.can_manage(request.user):
        raise PermissionDenied
    form = ItemForm(request.POST)
    if form.is_valid():
        try:
            inspections.add_item(inspection=inspection, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("The rectification item was added."))
            return redirect("tracker:inspection_detail", pk=inspection.pk)
    return _detail(request, inspection, item_form=form)


ACTIONS = {
    inspections.DONE: _("The item is marked done; the city bureau will verify it."),
    inspections.VERIFY: _("The item is verified (销号)."),
    inspections.ESCALATE: _("The item is escalated (督办)."),
}


@require_POST
def inspection_item_action(request, pk, item_pk, action):
    inspection = _visible_inspection(request, pk)
    item = get_object_or_404(inspection.items.all(), pk=item_pk)
    if action not in ACTIONS:
        raise Http404
    if not inspections.may(request.user, action, inspection):
        raise PermissionDenied
    if action == inspections.DONE:
        return _mark_done(request, inspection, item)
    try:
        if action == inspections.VERIFY:
            inspections.verify_item(item=item, on=timezone.localdate(), by=request.user)
        else:
            inspections.escalate_item(item=item, by=request.user)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, ACTIONS[action])
    return redirect(reverse("tracker:inspection_detail", args=[inspection.pk]) + f"#item-{item.pk}")


def _mark_done(request, inspection, item):
    """Mark an item done; a refusal shows the page again with what was typed kept."""
    form = DoneForm(request.POST)
    if form.is_valid():
        try:
            inspections.mark_item_done(
                item=item,
                on=form.cleaned_data["done_on"],
                note=form.cleaned_data["note"],
                by=request.user,
            )
        except ValidationError as error:
            refused = error.messages
        else:
            messages.success(request, ACTIONS[inspections.DONE])
            url = reverse("tracker:inspection_detail", args=[inspection.pk])
            return redirect(f"{url}#item-{item.pk}")
    else:
        refused = [message for errors in form.errors.values() for message in errors]
    return _detail(request, inspection, refused_done=(item.pk, form, refused))


# --- annual assessment -------------------------------------------------------------------


def _year_or_404(request, year):
    error = assessments.year_error(year)
    if error:
        return render(
            request, "tracker/assessment_missing.html", {"message": error, "year": year}, status=404
        )
    return None


def assessment_index(request):
    bounds = assessments.year_range()
    if bounds is None:
        return render(
            request,
            "tracker/assessment_missing.html",
            {"message": _("There are no projects yet, so there is no assessment.")},
        )
    return redirect("tracker:assessment_year", year=bounds[1])


def assessment_year(request, year):
    missing = _year_or_404(request, year)
    if missing:
        return missing
    result = assessments.compute_assessment(year)
    if request.GET.get("export") == "xlsx":
        return exports.assessment_xlsx(result)
    bounds = assessments.year_range()
    may_adjust = permissions.may(request.user, permissions.ADJUST, "assessment")
    context = {
        "result": result,
        "year": year,
        "years": range(bounds[1], bounds[0] - 1, -1),
        "can_manage": may_adjust,
        "adjustment_form": AdjustmentForm() if may_adjust else None,
        "weights_saved": bool(result.weights and result.weights[0].pk is not None),
        "total_weight": sum(w.weight for w in result.weights),
    }
    return render(request, "tracker/assessment_year.html", context)


def _require_adjust(request):
    if not permissions.may(request.user, permissions.ADJUST, "assessment"):
        raise PermissionDenied


def assessment_weights(request, year):
    _require_adjust(request)
    missing = _year_or_404(request, year)
    if missing:
        return missing
    weights = assessments.weights_for(year)
    form = WeightsForm(request.POST or None, weights=weights)
    if request.method == "POST" and form.is_valid():
        try:
            assessments.set_weights(year=year, values=form.values(), by=request.user)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("The weights were saved."))
            return redirect("tracker:assessment_year", year=year)
    return render(request, "tracker/assessment_weights.html", {"form": form, "year": year})


def assessment_adjust(request, year):
    _require_adjust(request)
    missing = _year_or_404(request, year)
    if missing:
        return missing
    form = AdjustmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            assessments.add_adjustment(year=year, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("The adjustment was recorded."))
            return redirect("tracker:assessment_year", year=year)
    return render(
        request,
        "tracker/assessment_adjust.html",
        {"form": form, "year": year, "regions": Region.objects.filter(ranked_in_assessment=True)},
    )


urlpatterns = [
    path("inspections/", InspectionListView.as_view(), name="inspection_list"),
    path("inspections/new/", inspection_create, name="inspection_create"),
    path("inspections/<int:pk>/", inspection_detail, name="inspection_detail"),
    path("inspections/<int:pk>/items/", inspection_item_add, name="inspection_item_add"),
    path(
        "inspections/<int:pk>/items/<int:item_pk>/<slug:action>/",
        inspection_item_action,
        name="inspection_item_action",
    ),
    path("assessments/", assessment_index, name="assessment_index"),
    path("assessments/<int:year>/", assessment_year, name="assessment_year"),
    path("assessments/<int:year>/weights/", assessment_weights, name="assessment_weights"),
    path("assessments/<int:year>/adjust/", assessment_adjust, name="assessment_adjust"),
]
