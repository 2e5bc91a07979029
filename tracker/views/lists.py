"""What the filtered list pages share: export of exactly the filtered set, a whitelisted
page size, the query string the export links keep, a county clerk's list that opens on
their own region, and pages read at the same cost from either end of the set."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from .. import jobs, permissions
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

    def get(self, request, *args, **kwargs):
        region_id = self.home_region_id()
        if region_id is not None and not request.GET:
            return redirect(f"{request.path}?region={region_id}")
        export = request.GET.get("export")
        if export in self.exporters:
            filterset = self.get_filterset(self.get_filterset_class())
            if filterset.is_valid():
                if self.export_in_background(filterset):
                    job = jobs.queue_export(
                        user=request.user,
                        list_name=self.export_list,
                        fmt=export,
                        query=request.GET.urlencode(),
                    )
                    return redirect("tracker:job_detail", pk=job.pk)
                return self.exporters[export](filterset)
            messages.error(request, _("Correct the filters before exporting."))
        return super().get(request, *args, **kwargs)

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
        return context
