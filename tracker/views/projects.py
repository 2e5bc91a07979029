"""Project pages: the filtered list (with export), one project's page and its edit form."""

from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import bulk
from ..choices import ListName
from ..exports import csv_response, xlsx_response
from ..filters import ProjectFilterSet
from ..forms import ProjectForm
from ..lights import RANK, annotate_lights, expected_percent, light_reasons
from ..locking import Conflict
from ..models import Project, StageChange
from ..money import wan, yi
from ..services import history_for, snapshot, update_project
from ..tables import PageData, ProjectTable
from .lists import FilteredListView

DISPATCH_LIMIT = 52  # a year of weekly reports on the project page
HISTORY_LIMIT = 200


def _percent(part, whole):
    if not whole:
        return None
    return (Decimal(100) * part / whole).quantize(Decimal("0.1"))


class ProjectListView(FilteredListView):
    """/projects/: filters in the URL, sortable table, totals of the whole filtered set.

    Invalid filter values show their message beside the filter and the list is empty
    (django-filter's strict mode) rather than silently ignoring the bad filter.
    """

    table_class = ProjectTable
    filterset_class = ProjectFilterSet
    exporters = {"csv": csv_response, "xlsx": xlsx_response}
    export_list = "projects"
    template_name = "tracker/project_list.html"

    opens_on_home_region = True
    list_name = ListName.PROJECTS

    def get_queryset(self):
        # Scope is applied here, once; everything below narrows this queryset. The lights
        # are not annotated here: a page's rows get them (page_rows), and the light filter
        # and the sort by light annotate them for themselves.
        return Project.objects.visible_to(self.request.user).with_tiers()

    def page_rows(self, ids):
        """The rows ``ids`` (one page) with everything their cells show."""
        projects = Project.objects.filter(pk__in=ids).with_tiers()
        return annotate_lights(
            projects.select_related("enterprise", "region", "chain"), today=self.today
        )

    def with_lights(self, projects):
        if "light_rank" in projects.query.annotations:  # the light filter annotated them
            return projects
        return annotate_lights(projects, today=self.today)

    def get_table_data(self):
        # One query counts the set and sums the footer; the paginator takes its count.
        self.today = timezone.localdate()
        self.totals = self.object_list.order_by().totals()
        return PageData(
            self.object_list,
            count=self.totals["count"],
            rows=self.page_rows,
            prepare_order={"light": self.with_lights},
            bands={"light_rank": sorted(RANK.values())},
        )

    def get_table_kwargs(self):
        # django-tables2 would take any ``per_page`` from the URL; the view whitelists it
        # instead (page_size), so the table reads a parameter nobody sends.
        kwargs = {"per_page_field": "_per_page"}
        if not self.bulk_fields():  # no box to tick for whoever may change nothing
            kwargs["exclude"] = ("select",)
        return kwargs

    def bulk_fields(self):
        return bulk.offered_fields(self.request.user)

    def get_table(self, **kwargs):
        table = super().get_table(**kwargs)
        table.totals = self.totals
        return table

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            totals=context["table"].totals,
            totals_yi=yi(context["table"].totals["amount"]),
            bulk_fields=[(name, bulk.field_label(name)) for name in self.bulk_fields()],
        )
        return context


def project_detail(request, pk):
    projects = (
        Project.objects.visible_to(request.user)
        .with_tiers()
        .select_related(
            "enterprise", "region", "park", "chain", "commissioner__region", "commissioner__chain"
        )
        .prefetch_related(
            Prefetch(
                "stage_changes",
                queryset=StageChange.objects.select_related(
                    "changed_by__region", "changed_by__chain"
                ).order_by("effective_on", "id"),
            )
        )
    )
    today = timezone.localdate()
    project = get_object_or_404(annotate_lights(projects, today=today), pk=pk)
    # One query each, sliced: the page costs the same for 5 reports as for 500.
    dispatches = list(
        project.dispatches.select_related("filed_by__region", "filed_by__chain").order_by(
            "-iso_year", "-iso_week"
        )[: DISPATCH_LIMIT + 1]
    )
    more_dispatches = len(dispatches) > DISPATCH_LIMIT
    dispatches = dispatches[:DISPATCH_LIMIT]
    history = list(history_for(project)[: HISTORY_LIMIT + 1])
    more_history = len(history) > HISTORY_LIMIT
    labels = {f.name: f.verbose_name for f in Project._meta.concrete_fields}
    for entry in history:
        entry.field_label = labels.get(entry.field, entry.field)
    context = {
        "project": project,
        "stage_changes": project.stage_changes.all(),
        "dispatches": dispatches,
        "more_dispatches": more_dispatches,
        "dispatch_limit": DISPATCH_LIMIT,
        "problems": [d for d in dispatches if d.problems.strip()],
        "history": history[:HISTORY_LIMIT],
        "more_history": more_history,
        "history_limit": HISTORY_LIMIT,
        "light_reasons": light_reasons(project),
        "progress": {
            # This year's completed investment, as the investment light measures it
            # (tracker/lights.py): the cumulative figure minus that of the last report of an
            # earlier year. The annual plan is this year's, so only this year's work counts.
            "this_year": project.lights_done - project.lights_baseline,
            "vs_plan": _percent(
                project.lights_done - project.lights_baseline, project.annual_planned_investment
            ),
            "vs_signed": _percent(project.completed_investment, project.signed_amount),
            "schedule": expected_percent(today).quantize(Decimal("0.1")),
        },
        "can_edit": Project.objects.editable_by(request.user).filter(pk=pk).exists(),
    }
    return render(request, "tracker/project_detail.html", context)


def _differences(form, current):
    """(label, your value, current value, change) for each edited field that differs.

    ``change`` is the newest history row for that field recorded since the form was
    opened (who changed it meanwhile, and when), or None when the difference is your edit.
    """
    fields = list(form.model_data())
    meanwhile = {}
    opened_at = form.cleaned_data.get("opened_at")
    if opened_at:
        for entry in history_for(current).filter(changed_at__gte=opened_at, field__in=fields):
            meanwhile.setdefault(entry.field, entry)
    mine = Project(pk=current.pk)
    for field in current._meta.concrete_fields:
        setattr(mine, field.attname, getattr(current, field.attname))
    for name, value in form.model_data().items():
        setattr(mine, name, value)
    yours, theirs = _normalised(snapshot(mine, fields)), _normalised(snapshot(current, fields))
    rows = [
        (form.fields[name].label, yours[name], theirs[name], meanwhile.get(name))
        for name in fields
        if yours[name] != theirs[name]
    ]
    return sorted(rows, key=lambda row: row[3] is None)  # changed meanwhile first


def _normalised(values):
    out = {}
    for name, value in values.items():
        try:
            out[name] = str(wan(value)) if value != "" else value
        except (ArithmeticError, ValueError, TypeError):
            out[name] = value
    return out


def project_edit(request, pk):
    """Edit form; only for projects in ``editable_by(user)`` (others: 404, nothing saved)."""
    project = get_object_or_404(
        Project.objects.editable_by(request.user).select_related("region", "enterprise"), pk=pk
    )
    conflict = None
    if request.method == "POST":
        form = ProjectForm(request.POST, instance=project, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                update_project(
                    project_id=project.pk,
                    data=form.model_data(),
                    expected_version=data["version"],
                    by=request.user,
                    stage=data["target_stage"] or None,
                    stage_on=data["stage_effective_on"],
                    note=data["stage_note"],
                    reason=form.lowering_reason(),
                )
            except Conflict as error:
                current = error.current
                last = history_for(current).first()
                conflict = {
                    "differences": _differences(form, current),
                    "by": last.changed_by if last else None,
                    "at": last.changed_at if last else None,
                }
                # Keep what the user typed; the next save (made knowingly) applies it.
                rebound = request.POST.copy()
                rebound["version"] = str(current.version)
                form = ProjectForm(rebound, instance=current, user=request.user)
                messages.error(
                    request,
                    _(
                        "Someone else saved this project after you opened the form. Nothing "
                        "of yours was saved. Check the differences below; saving again applies "
                        "your values."
                    ),
                )
            except ValidationError as error:
                # The service's own checks, on the row as it is now: beside their fields.
                for field, errors in error.message_dict.items():
                    field = "target_stage" if field == "stage" else field
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, _("The project was saved."))
                return redirect("tracker:project_detail", pk=project.pk)
    else:
        form = ProjectForm(instance=project, user=request.user)
    return render(
        request,
        "tracker/project_form.html",
        {"form": form, "project": project, "conflict": conflict},
    )


urlpatterns = [
    path("projects/", ProjectListView.as_view(), name="project_list"),
    path("projects/<int:pk>/", project_detail, name="project_detail"),
    path("projects/<int:pk>/edit/", project_edit, name="project_edit"),
]
