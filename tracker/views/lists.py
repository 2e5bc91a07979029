"""What the filtered list pages share: export of exactly the filtered set, a whitelisted
page size, and the query string the export links keep."""

from django.contrib import messages
from django.utils.translation import gettext_lazy as _
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50


class FilteredListView(SingleTableMixin, FilterView):
    """A django-tables2 table over a django-filter FilterSet.

    ``exporters`` maps ``?export=<name>`` to a function of the bound, valid FilterSet (its
    ``qs`` is the filtered set, its cleaned data says the filter in words) that returns the
    download; an export with invalid filters shows the page with the errors.
    """

    exporters = {}
    # The sizes the page offers (whitelisted in ``per_page``); () for a list without the
    # choice, which then shows DEFAULT_PAGE_SIZE rows unless its table is told otherwise.
    page_sizes = PAGE_SIZES

    def get(self, request, *args, **kwargs):
        export = request.GET.get("export")
        if export in self.exporters:
            filterset = self.get_filterset(self.get_filterset_class())
            if filterset.is_valid():
                return self.exporters[export](filterset)
            messages.error(request, _("Correct the filters before exporting."))
        return super().get(request, *args, **kwargs)

    def page_size(self):
        try:
            size = int(self.request.GET.get("per_page", DEFAULT_PAGE_SIZE))
        except ValueError:
            return DEFAULT_PAGE_SIZE
        return size if size in self.page_sizes else DEFAULT_PAGE_SIZE

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
            filters_invalid=self.filterset.is_bound and not self.filterset.is_valid(),
        )
        return context
