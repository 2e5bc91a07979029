"""What the filtered list pages share: export of exactly the filtered set, a whitelisted
page size, the query string the export links keep, a county clerk's list that opens on
their own region, pages read at the same cost from either end of the set, saved views
(``?view=<id>``, a group's default view) and the user's choice of columns."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from .. import columns as columns_map
from .. import jobs, permissions, saved_views
from ..tables import PageData

PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50


class FilteredListView(SingleTableMixin, FilterView):
    """A django-tables2 table over a django-filter FilterSet.

    ``exporters`` maps ``?export=<name>`` to a function of the bound, valid FilterSet (its
    ``qs`` is the filtered set, its cleaned data says the filter in words) that returns the
    download; an export with invalid filters shows the page with the errors.
    """

    exporters = {}
    # The name of this list in tracker.exports.LISTS: an export of more rows than
    # TRACKER["EXPORT_BACKGROUND_ROWS"] becomes a background job (tracker.jobs) whose page
    # shows its progress and then the same file; None exports at once whatever the size.
    export_list = None
    # The sizes the page offers (whitelisted in ``per_page``); () for a list without the
    # choice, which then shows DEFAULT_PAGE_SIZE rows unless its table is told otherwise.
    page_sizes = PAGE_SIZES
    # A list whose rows cover the whole city for county staff: opened without any query
    # string, it redirects to ``?region=<their region>`` (visible, removable, bookmarkable).
    # An explicit empty ``?region=`` is "all regions" and stays.
    opens_on_home_region = False

    def home_region_id(self):
        if not self.opens_on_home_region:
            return None
        return permissions.home_region_id(self.request.user)

    # The list's name (tracker.choices.ListName) for its saved views and column choice;
    # None for a list without them.
    list_name = None
    active_view = None
    chosen_columns = None

    def get(self, request, *args, **kwargs):
        # The user's views of this list and column choice: one query (saved_views).
        self.settings = (
            saved_views.list_settings(request.user, self.list_name)
            if self.list_name
            else saved_views.ListSettings()
        )
        response = self.apply_saved_view(request)
        if response is not None:
            return response
        region_id = self.home_region_id()
        if region_id is not None and not request.GET:
            return redirect(f"{request.path}?region={region_id}")
        columns_invalid = False
        if self.list_name:
            self.chosen_columns, error = columns_map.resolve(
                self.list_name, request.GET.get(columns_map.PARAM), self.settings.columns
            )
            if error is not None:
                columns_invalid = True
                messages.error(request, " ".join(error.messages))
        export = request.GET.get("export")
        if export in self.exporters and not columns_invalid:
            filterset = self.get_filterset(self.get_filterset_class())
            if filterset.is_valid():
                if self.export_in_background(filterset):
                    job = jobs.queue_export(
                        user=request.user,
                        list_name=self.export_list,
                        fmt=export,
                        query=self.export_job_query().urlencode(),
                    )
                    return redirect("tracker:job_detail", pk=job.pk)
                return self.exporters[export](filterset, columns=self.chosen_columns)
            messages.error(request, _("Correct the filters before exporting."))
        return super().get(request, *args, **kwargs)

    def apply_saved_view(self, request):
        """The redirect that opens a saved view, or None to show the page as asked.

        ``?view=<id>`` adds the view's parameters that the URL does not have (the URL wins,
        nothing of it is dropped) and redirects to that URL, which is the view's bookmark;
        a list opened without any query string opens the default view of the user's group.
        """
        raw = request.GET.get(saved_views.VIEW_PARAM)
        if raw is None:
            default = self.settings.group_default() if not request.GET else None
            if default is None:
                return None
            merged = saved_views.merged_query(default.query, request.GET)
            merged[saved_views.VIEW_PARAM] = default.pk
            return redirect(f"{request.path}?{merged.urlencode()}")
        plain = raw.isascii() and raw.isdigit() and len(raw) < 12  # "²" is a digit too
        view = self.settings.view(int(raw)) if plain else None
        if view is None:
            # The page as asked without the view, saying so.
            messages.error(request, _("That saved view does not exist or is not shared with you."))
            return None
        merged = saved_views.merged_query(view.query, request.GET)
        if set(merged) != set(request.GET):
            return redirect(f"{request.path}?{merged.urlencode()}")
        self.active_view = view
        return None

    def export_job_query(self):
        """The query string a background export re-runs: the page's, with the columns chosen
        now written in (the stored choice may change before the job runs)."""
        query = self.request.GET.copy()
        if self.chosen_columns:
            query[columns_map.PARAM] = ",".join(self.chosen_columns)
        return query

    def get_table(self, **kwargs):
        if self.list_name:
            chosen = columns_map.table_kwargs(self.list_name, self.chosen_columns)
            # The columns a choice hides and those the view hides (the bulk boxes of a
            # user who may change nothing) both stay hidden.
            exclude = [*chosen.get("exclude", ()), *kwargs.get("exclude", ())]
            kwargs = {**chosen, **kwargs}
            if exclude:
                kwargs["exclude"] = exclude
        return super().get_table(**kwargs)

    def export_in_background(self, filterset):
        if self.export_list is None:
            return False
        limit = settings.TRACKER["EXPORT_BACKGROUND_ROWS"]
        return filterset.qs.order_by()[: limit + 1].count() > limit

    def page_size(self):
        try:
            size = int(self.request.GET.get("per_page", DEFAULT_PAGE_SIZE))
        except ValueError:
            return DEFAULT_PAGE_SIZE
        return size if size in self.page_sizes else DEFAULT_PAGE_SIZE

    def get_table_data(self):
        # A page is read from the nearer end of the set in a total order (the id breaks
        # ties), so a deep page skips at most half the set. A list that sums its set for
        # the footer passes that count on, and one whose cells cost reads them per page.
        return PageData(self.object_list)

    def get_table_pagination(self, table):
        return {"per_page": self.page_size()}

    def query_without(self, *keys):
        query = self.request.GET.copy()
        for key in ("page", "export", *keys):
            query.pop(key, None)
        return query

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            page_sizes=self.page_sizes,
            page_size=self.page_size(),
            export_query=self.query_without().urlencode(),
            # "Clear" shows every row the user may see: for a list that opens on the home
            # region that is ``?region=`` (no query string would open on the region again).
            clear_url=self.request.path + ("?region=" if self.home_region_id() is not None else ""),
            filters_invalid=self.filterset.is_bound and not self.filterset.is_valid(),
        )
        if self.list_name:
            context.update(self.views_context())
        return context

    def export_context(self):
        """The export links' queries: the columns shown (stored or in the URL) written into
        the link, and the same filters with ``columns=all`` when columns are chosen."""
        query = self.query_without()
        if not self.chosen_columns:
            return {}
        query[columns_map.PARAM] = ",".join(self.chosen_columns)
        every = self.query_without(columns_map.PARAM)
        every[columns_map.PARAM] = columns_map.ALL
        return {"export_query": query.urlencode(), "export_all_query": every.urlencode()}

    def views_context(self):
        """The saved-views panel and the column chooser (templates/tracker/includes/
        saved_views.html): nothing here reads the database (list_settings did)."""
        saved = self.query_without(saved_views.VIEW_PARAM)
        if self.chosen_columns and columns_map.PARAM not in saved:
            saved[columns_map.PARAM] = ",".join(self.chosen_columns)
        shown = self.chosen_columns or columns_map.names(self.list_name)
        position = {name: i for i, name in enumerate(shown, start=1)}
        others = len(shown)
        choices = []
        for name, header in columns_map.headers(self.list_name):
            if name not in position:
                others += 1
            choices.append(
                {
                    "name": name,
                    "header": header,
                    "checked": name in position,
                    "order": position.get(name, others),
                }
            )
        choices.sort(key=lambda c: c["order"])
        return {
            **self.export_context(),
            "list_name": self.list_name,
            "saved_views": self.settings.views,
            "active_view": self.active_view,
            "view_query": self.query_without(saved_views.VIEW_PARAM).urlencode(),
            "save_query": saved.urlencode(),
            "here": self.request.get_full_path(),
            "column_choices": choices,
            "columns_from_url": columns_map.PARAM in self.request.GET,
        }
