"""链长制 problem ledger pages: the filtered list (with export), raising a problem, one
problem's page with the steps the user may take. The rules are in tracker/problems.py."""

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import locking
from .. import problems as ledger
from ..choices import ListName
from ..exports import problem_csv_response, problem_xlsx_response
from ..filters import ProblemFilterSet
from ..forms import STEP_FORMS, RaiseForm
from ..models import Problem, ProblemEvent
from ..querysets import q_problem_overdue
from ..services import history_for
from ..tables import PageData, ProblemTable, status_badges
from .lists import FilteredListView

HISTORY_LIMIT = 200


# --- list --------------------------------------------------------------------------------------
class ProblemListView(FilteredListView):
    """/problems/: filters in the URL, sortable table, overdue count of the filtered set."""

    table_class = ProblemTable
    filterset_class = ProblemFilterSet
    exporters = {"csv": problem_csv_response, "xlsx": problem_xlsx_response}
    export_list = "problems"
    list_name = ListName.PROBLEMS
    template_name = "tracker/problem_list.html"

    def get_queryset(self):
        return Problem.objects.visible_to(self.request.user).select_related(
            "chain", "region", "project"
        )

    def get_table_kwargs(self):
        return {"per_page_field": "_per_page", "today": timezone.localdate()}

    def get_table_data(self):
        # One query counts the set and its overdue problems; the paginator takes its count,
        # and a page is read from the nearer end of the set (tracker.tables.PageData).
        self.totals = self.object_list.order_by().aggregate(
            count=Count("pk"),
            overdue=Count("pk", filter=q_problem_overdue(timezone.localdate())),
        )
        return PageData(self.object_list, count=self.totals["count"])

    def get_table(self, **kwargs):
        table = super().get_table(**kwargs)
        table.totals = self.totals
        return table

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        overdue_query = self.query_without("overdue")
        overdue_query["overdue"] = "true"
        context.update(
            overdue_query=overdue_query.urlencode(),
            totals=context["table"].totals,
            may_raise=ledger.may_raise(self.request.user),
        )
        return context


def _service_kwargs(action, data):
    """Form data → the keyword arguments of the step's service."""
    if action == ledger.ASSIGN:
        return {"unit": data["assigned_unit"], "deadline": data["deadline"], "note": data["note"]}
    if action == ledger.EXTEND:
        return {"deadline": data["deadline"], "reason": data["note"]}
    if action == ledger.RESOLVE:
        return {"resolution": data["resolution"]}
    if action == ledger.CLOSE:
        return {"note": data["note"]}
    if action == ledger.REOPEN:
        return {"reason": data["note"], "deadline": data["deadline"]}
    return {"reason": data["note"]}


def _add_errors(form, error):
    """Put a service's ValidationError beside the fields it names (others on top)."""
    if hasattr(error, "error_dict"):
        for field, messages_ in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages_)
    else:
        form.add_error(None, error.messages)


# --- pages -------------------------------------------------------------------------------------
def problem_create(request):
    if not ledger.may_raise(request.user):
        raise PermissionDenied(_("Your account cannot raise problems."))
    form = RaiseForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            problem = ledger.raise_problem(
                by=request.user,
                title=data["title"],
                description=data["description"],
                project=data["project"],
                chain=data.get("chain"),
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("The problem was recorded."))
            return redirect("tracker:problem_detail", pk=problem.pk)
    return render(request, "tracker/problem_form.html", {"form": form})


def _visible_problem(request, pk):
    return get_object_or_404(
        Problem.objects.visible_to(request.user).select_related(
            "chain", "region", "project", "raised_by__region", "raised_by__chain"
        ),
        pk=pk,
    )


def _detail(request, problem, *, bound=None, status=200):
    """The problem's page; ``bound`` = (action, form) re-shown with its errors."""
    today = timezone.localdate()
    events = list(
        ProblemEvent.objects.filter(problem=problem)
        .select_related("by__region", "by__chain")
        .order_by("at", "id")
    )
    history = list(history_for(problem)[: HISTORY_LIMIT + 1])
    labels = {f.name: f.verbose_name for f in Problem._meta.concrete_fields}
    for entry in history:
        entry.field_label = labels.get(entry.field, entry.field)
    step_forms = []
    for action in ledger.allowed_steps(request.user, problem):
        if bound and bound[0] == action:
            form = bound[1]
        else:
            form = STEP_FORMS[action](prefix=action, initial={"version": problem.version})
        step_forms.append(
            {
                "action": action,
                "form": form,
                "url": reverse("tracker:problem_action", args=[problem.pk, action]),
            }
        )
    context = {
        "problem": problem,
        "status_html": status_badges(problem, today),
        "events": events,
        "history": history[:HISTORY_LIMIT],
        "more_history": len(history) > HISTORY_LIMIT,
        "history_limit": HISTORY_LIMIT,
        "step_forms": step_forms,
    }
    return render(request, "tracker/problem_detail.html", context, status=status)


def problem_detail(request, pk):
    return _detail(request, _visible_problem(request, pk))


def problem_action(request, pk, action):
    """POST one step. Out of scope: 404; a step this user may never take here: 403."""
    problem = _visible_problem(request, pk)
    if action not in ledger.STEPS:
        raise Http404
    if request.method != "POST":
        return redirect("tracker:problem_detail", pk=problem.pk)
    if not ledger.may_take(request.user, problem, action):
        raise PermissionDenied(_("You cannot do this on this problem."))
    form = STEP_FORMS[action](request.POST, prefix=action)
    if form.is_valid():
        try:
            ledger.SERVICES[action](
                problem_id=problem.pk,
                expected_version=form.cleaned_data["version"],
                by=request.user,
                **_service_kwargs(action, form.cleaned_data),
            )
        except locking.Conflict as conflict:
            messages.error(request, ledger.CONFLICT_MESSAGE)
            # Keep what was typed; the next submit (made knowingly) applies it.
            rebound = request.POST.copy()
            rebound[f"{action}-version"] = str(conflict.current.version)
            form = STEP_FORMS[action](rebound, prefix=action)
            form.is_valid()
            return _detail(request, _visible_problem(request, pk), bound=(action, form))
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("Saved."))
            return redirect("tracker:problem_detail", pk=problem.pk)
    if NON_FIELD_ERRORS in form.errors and action not in ledger.allowed_steps(
        request.user, problem
    ):
        # A step not possible in this status: say so at the top of the page.
        for message in form.non_field_errors():
            messages.error(request, message)
    return _detail(request, problem, bound=(action, form))


urlpatterns = [
    path("problems/", ProblemListView.as_view(), name="problem_list"),
    path("problems/new/", problem_create, name="problem_create"),
    path("problems/<int:pk>/", problem_detail, name="problem_detail"),
    path("problems/<int:pk>/<slug:action>/", problem_action, name="problem_action"),
]
