"""Saved views and the column chooser of the list pages: the pages that write them.

Saving the page's filters as a view is a form page (its group choice needs the user's
groups); renaming, updating and deleting one's own view and choosing columns are POSTs from
the list page's panel (templates/tracker/includes/saved_views.html), which then returns to
the list with a message. Another user's view is a 404 (saved_views.editable_views).
"""

from urllib.parse import urlsplit

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseNotAllowed, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _

from .. import columns as columns_map
from .. import saved_views
from ..choices import ListName
from ..forms import SavedViewForm

LIST_ROUTES = {
    ListName.PROJECTS: "tracker:project_list",
    ListName.PROBLEMS: "tracker:problem_list",
    ListName.INSPECTIONS: "tracker:inspection_list",
}
FORM_FIELDS = ("name", "visibility", "group")


def _list_url(list_name):
    if list_name not in LIST_ROUTES:
        raise Http404
    return reverse(LIST_ROUTES[list_name])


def _back(request, list_name, *, drop=()):
    """The list page the form was posted from (``next``), without the ``drop`` parameters;
    the list itself when ``next`` is missing or not a page of this site's list."""
    url = request.POST.get("next") or request.GET.get("next") or ""
    home = _list_url(list_name)
    if not url_has_allowed_host_and_scheme(url, allowed_hosts=None) or not url.startswith(home):
        return home
    parts = urlsplit(url)
    query = QueryDict(parts.query, mutable=True)
    for key in drop:
        query.pop(key, None)
    return f"{parts.path}?{query.urlencode()}" if query else parts.path


def _add_errors(form, error):
    """The service's ValidationError on the form: beside the field it names, the others
    (the constraints, the query) above the form."""
    if hasattr(error, "error_dict"):
        for key, errors in error.error_dict.items():
            form.add_error(key if key in FORM_FIELDS else None, errors)
    else:
        form.add_error(None, error)


def saved_view_create(request, list_name):
    list_url = _list_url(list_name)
    if request.method == "POST":
        form = SavedViewForm(request.POST, user=request.user)
    else:
        form = SavedViewForm(user=request.user, initial={"query": request.GET.get("query", "")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            view = saved_views.save_view(
                by=request.user,
                list_name=list_name,
                name=data["name"],
                query=data["query"],
                visibility=data["visibility"],
                group=data["group"],
                is_group_default=data.get("is_group_default", False),
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("The view “%(name)s” is saved.") % {"name": view.name})
            query = QueryDict(view.query, mutable=True)
            query[saved_views.VIEW_PARAM] = view.pk
            return redirect(f"{list_url}?{query.urlencode()}")
    query = form["query"].value() or ""
    return render(
        request,
        "tracker/saved_view_form.html",
        {
            "form": form,
            "list_name": ListName(list_name),
            "back_url": f"{list_url}?{query}" if query else list_url,
        },
    )


ACTIONS = {
    "rename": lambda view, request: saved_views.rename_view(
        view=view, name=request.POST.get("name", ""), by=request.user
    ),
    "update": lambda view, request: saved_views.update_view_query(
        view=view, query=request.POST.get("query", ""), by=request.user
    ),
    "delete": lambda view, request: saved_views.delete_view(view=view, by=request.user),
}
DONE = {
    "rename": _("The view is renamed."),
    "update": _("The view now keeps these filters, sort and columns."),
    "delete": _("The view is deleted."),
}


def saved_view_action(request, pk, action):
    view = get_object_or_404(saved_views.editable_views(request.user), pk=pk)
    if action not in ACTIONS:
        raise Http404
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    # After a delete the list no longer names the view.
    back = _back(
        request, view.list_name, drop=(saved_views.VIEW_PARAM,) if action == "delete" else ()
    )
    try:
        ACTIONS[action](view, request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, DONE[action])
    return redirect(back)


def _ordered(request, chosen):
    """``chosen`` in the order of their numbers (``order-<name>``), ties in form order."""
    numbers = []
    for index, name in enumerate(chosen):
        raw = (request.POST.get(f"order-{name}") or "").strip() or str(index + 1)
        try:
            number = int(raw)
        except ValueError as error:
            raise ValidationError(_("The position of a column must be a whole number.")) from error
        numbers.append((number, index, name))
    return [name for _number, _index, name in sorted(numbers)]


def list_columns(request, list_name):
    """The column chooser: POST the checked columns with their positions, or ``reset``."""
    back = _back(request, list_name, drop=(columns_map.PARAM, saved_views.VIEW_PARAM))
    if request.method != "POST":
        return redirect(back)
    try:
        if "reset" in request.POST:
            saved_views.set_columns(user=request.user, list_name=list_name, columns=None)
        else:
            chosen = _ordered(request, request.POST.getlist("columns"))
            saved_views.set_columns(user=request.user, list_name=list_name, columns=chosen)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(_back(request, list_name))
    messages.success(request, _("Your columns for this list are saved."))
    return redirect(back)


urlpatterns = [
    path("views/<slug:list_name>/new/", saved_view_create, name="saved_view_create"),
    path("views/<int:pk>/<slug:action>/", saved_view_action, name="saved_view_action"),
    path("columns/<slug:list_name>/", list_columns, name="list_columns"),
]
