"""django-tables2 tables of the list pages (projects, problems, inspections). Footers show
totals of the whole filtered set, not one page; ``PageData`` reads one page of a large set
at the cost of any other page."""

import datetime

import django_tables2 as tables
from django.core.exceptions import FieldDoesNotExist
from django.template import Context
from django.template.base import render_value_in_context
from django.template.defaultfilters import date as date_filter
from django.urls import reverse
from django.utils import timezone
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django_tables2.columns.base import LinkTransform
from django_tables2.data import TableQuerysetData
from django_tables2.utils import OrderBy, signature

from . import permissions
from .choices import Light, Tier5020
from .lights import light_reasons
from .models import Inspection, Problem, Project
from .money import grouped, wan, yi
from .rules import problem_is_overdue

NUM = {"th": {"class": "num"}, "td": {"class": "num"}, "tf": {"class": "num"}}
# The list pages' table layout: django-tables2's own, with our pager
# (tracker/includes/pagination.html) in place of its unstyled list of page numbers.
TEMPLATE = "tracker/includes/table.html"


def _term_name(term):
    """(field name, descending) of one ``order_by`` term: a string or an OrderBy."""
    if isinstance(term, str):
        return term.lstrip("-"), term.startswith("-")
    expression = getattr(term, "expression", None)
    return getattr(expression, "name", None), bool(getattr(term, "descending", False))


def total_order(queryset):
    """``queryset`` in its order (or its model's) made total: unless a unique field already
    decides every tie, the primary key breaks them, in the direction of the last key, so
    one index on (key, id) serves both directions. A page of a total order is the same
    rows whichever end it is read from."""
    meta = queryset.model._meta
    terms = list(queryset.query.order_by) or list(meta.ordering)
    for term in terms:
        name, _descending = _term_name(term)
        if name == "pk":
            return queryset.order_by(*terms)
        try:
            field = meta.get_field(name) if name else None
        except FieldDoesNotExist:  # an annotation or a related field
            field = None
        if field is not None and (field.primary_key or (field.unique and not field.null)):
            return queryset.order_by(*terms)
    descending = _term_name(terms[-1])[1] if terms else False
    return queryset.order_by(*terms, "-pk" if descending else "pk")


class PageData(TableQuerysetData):
    """A list table's data, read a page at a time so that the last page costs what the
    first does (issue 10):

    * the page's ids come from the filtered set in its total order (``total_order``), read
      from whichever end is nearer (the order reversed for the back half), so OFFSET never
      skips more than half of the set and computes nothing but the order and the filters;
    * ``rows(ids)`` then returns the queryset of just those rows with what the cells need
      (a project's lights), shown in the page's order. Without ``rows`` the page is read in
      one query (still from the nearer end).

    ``count`` is the size of the set when the view knows it already (the footer's totals
    query counts it), so the paginator does not count a second time. ``prepare_order``
    maps a column to a function that annotates what sorting by it needs (the light).

    ``bands`` maps an annotation that takes a few values and costs a computation per row
    (``light_rank``: 0, 1, 2) to those values in ascending order. A page near either end of
    an order led by it is read band by band (``_banded_ids``): the rows of the first band
    in the rest of the order, then the next band's, each query stopping as soon as it has
    the rows the page needs, so page 1 sorted by light computes the lights of the rows it
    scans (about a thousand of 100,341 projects), not of the whole set. Deeper than
    ``BANDED_ROWS`` rows from the nearer end, or in a set of fewer than ``BANDED_FROM``
    rows, the page is read in one ordered query.
    """

    # How far from the nearer end a page is still read band by band: each band's query
    # reads at most this many ids and a page's rows.
    BANDED_ROWS = 1000
    # A smaller set is read in one ordered query: up to three bands' scans (a band with
    # fewer rows than the page scans the whole set) cost more than ordering a few thousand
    # rows by their lights (the 338 projects of 2022: 59 against 19 ms of SQL).
    BANDED_FROM = 5000

    def __init__(self, data, *, count=None, rows=None, prepare_order=None, bands=None):
        super().__init__(data)
        self._length = count
        self.rows = rows
        self.prepare_order = prepare_order or {}
        self.bands = bands or {}

    def order_by(self, aliases):
        for alias in aliases:
            prepare = self.prepare_order.get(OrderBy(alias).bare)
            if prepare is not None:
                self.data = prepare(self.data)
        super().order_by(aliases)

    def __getitem__(self, key):
        if not isinstance(key, slice):
            return self[key : key + 1][0]
        count = len(self)
        start, stop, _step = key.indices(count)
        if start >= stop:
            return []
        ordered = total_order(self.data)
        from_end = count - stop < start
        if from_end:
            ordered, start, stop = ordered.reverse(), count - stop, count - start
        ids = self._banded_ids(ordered, start, stop)
        if ids is None:
            ordered = ordered[start:stop]
            if self.rows is None:
                page = list(ordered)
                return page[::-1] if from_end else page
            ids = list(ordered.values_list("pk", flat=True))
        elif self.rows is None:
            found = {row.pk: row for row in self.data.filter(pk__in=ids)} if ids else {}
            page = [found[pk] for pk in ids if pk in found]
            return page[::-1] if from_end else page
        if from_end:
            ids.reverse()
        by_pk = {row.pk: row for row in self.rows(ids)} if ids else {}
        # A row deleted between the two reads is left out rather than failing the page.
        return [by_pk[pk] for pk in ids if pk in by_pk]

    def __iter__(self):
        return iter(self[0 : len(self)])

    def _banded_ids(self, ordered, start, stop):
        """The ids of rows ``start:stop`` of ``ordered`` read band by band (see the class),
        or None when its order is not led by a banded annotation or the page is too deep."""
        terms = list(ordered.query.order_by)
        name, descending = _term_name(terms[0]) if terms else (None, False)
        values = self.bands.get(name)
        if values is None or start >= self.BANDED_ROWS or len(self) < self.BANDED_FROM:
            return None
        if not ordered.query.standard_ordering:  # reverse() flips the terms when compiled
            descending = not descending
        rest = ordered.order_by(*terms[1:])
        ids, skip, need = [], start, stop - start
        for value in reversed(values) if descending else values:
            # The band's ids up to the page's last row; fewer than ``skip`` means the page
            # begins after this band, which is then that much nearer.
            found = list(rest.filter(**{name: value}).values_list("pk", flat=True)[: skip + need])
            taken = found[skip : skip + need]
            ids += taken
            skip = max(0, skip - len(found))
            need -= len(taken)
            if not need:
                break
        return ids


_SIGNATURES = {}


def _call_with_appropriate(fn, kwargs):
    """django-tables2's ``call_with_appropriate`` with the signature looked up once per
    function rather than once per cell (``inspect.signature`` was a fifth of a list page)."""
    key = getattr(fn, "__func__", fn)
    try:
        args, kwargs_name = _SIGNATURES[key]
    except (KeyError, TypeError):
        args, kwargs_name = signature(fn)
        try:
            _SIGNATURES[key] = (args, kwargs_name)
        except TypeError:  # an unhashable callable
            pass
    if not kwargs_name:
        if any(arg not in kwargs for arg in args):
            return None
        kwargs = {arg: kwargs[arg] for arg in args}
    return fn(**kwargs)


def _static_attrs(attrs):
    return not any(callable(v) for v in attrs.values())


_PLACEHOLDER = 918273645


def pk_url(table, viewname, pk):
    """``reverse(viewname, kwargs={"pk": pk})``, reversed once per table (with a placeholder
    pk that is then replaced) rather than once per row."""
    cache = table.__dict__.setdefault("_pk_urls", {})
    pattern = cache.get(viewname)
    if pattern is None:
        pattern = cache[viewname] = reverse(viewname, kwargs={"pk": _PLACEHOLDER})
    return pattern.replace(str(_PLACEHOLDER), str(pk))


class PkLink(LinkTransform):
    """``linkify=(viewname, {"pk": A("pk")})`` with the URL from ``pk_url``."""

    def __init__(self, viewname, attrs=None):
        super().__init__(attrs=attrs, reverse_args=(viewname, {"pk": tables.A("pk")}))
        self.viewname = viewname

    def compose_url(self, **kwargs):
        return pk_url(kwargs["table"], self.viewname, kwargs["record"].pk)


class PkLinkColumn(tables.Column):
    """A column linking each cell to ``viewname`` of the row's pk (``PkLink``)."""

    def __init__(self, viewname, **kwargs):
        super().__init__(**kwargs)
        self.link = PkLink(viewname, attrs=self.attrs.get("a", {}))


class IsoDateColumn(tables.DateColumn):
    """``DateColumn(format="Y-m-d")`` whose cells are formatted in Python: the same text as
    its template ``{{ value|date:"Y-m-d"|default:default }}``, which django-tables2
    compiled once per cell (a fifth of the project list's rendering)."""

    def __init__(self, **kwargs):
        super().__init__(format="Y-m-d", **kwargs)

    def render(self, value, bound_column, **kwargs):
        if type(value) is datetime.date:  # "Y-m-d" of a date is its ISO form, 4-digit year
            return value.isoformat()
        return conditional_escape(date_filter(value, "Y-m-d") or bound_column.default)


class ListTable(tables.Table):
    """A list page's table. Its pager says "第 3 / 7 页, 共 341 个项目": ``count_text`` is
    the noun of the list, a translatable ``%(count)s …`` text. The figures are the
    paginator's (one count query, which django-tables2 runs anyway)."""

    count_text = _("%(count)s rows")

    def pager_text(self):
        return _("Page %(page)s of %(pages)s, %(count)s") % {
            "page": self.page.number,
            "pages": self.paginator.num_pages,
            "count": self.count_text % {"count": self.paginator.count},
        }

    def rows_html(self):
        """The ``<tr>`` rows of the page, rendered in Python: what django-tables2's template
        renders (tracker/includes/table.html, each cell with its column's ``data-label``),
        with each column's cell attributes and label computed once per table instead of
        once per cell. A table whose cell attributes are computed per cell, or which
        localizes a column, is rendered by the template instead (``None``)."""
        columns = list(self.columns)
        fixed = []
        for column in columns:
            own = column.column.attrs
            td = own.get("td", own.get("cell", self.attrs.get("td", self.attrs.get("cell", {}))))
            if column.localize is not None or not _static_attrs(td):
                return None
            fixed.append(
                (
                    column,
                    column.attrs["td"].as_html(),
                    conditional_escape(str(column.header)),
                )
            )
        context = Context()
        out = []
        for row in self.paginated_rows:
            cells = []
            for column, td_html, label in fixed:

                def render(bound_column, value=None, row=row):
                    kwargs = row._optional_cell_arguments(bound_column, value)
                    content = _call_with_appropriate(bound_column.render, kwargs)
                    if bound_column.link:
                        return bound_column.link(content, **kwargs)
                    return content

                column.current_record = row.record
                value = row._get_and_render_with(column, render_func=render, default=column.default)
                column.current_value = value
                cells.append(
                    f'\n  <td {td_html} data-label="{label}">'
                    f"{render_value_in_context(value, context)}</td>"
                )
            out.append(f"\n<tr {row.attrs.as_html()}>{''.join(cells)}\n  \n</tr>\n")
        return mark_safe("".join(out))

    def page_jump_fields(self):
        """(name, value) of every query parameter but the page (and an export): the hidden
        fields of the page-jump form, so jumping keeps the filters, sorting and page size."""
        skip = {self.prefixed_page_field, "export"}
        return [
            (name, value)
            for name, values in self.request.GET.lists()
            if name not in skip
            for value in values
        ]


# Codes and dates never break mid-string (static/css/app.css).
NOWRAP = {"td": {"class": "nowrap"}}


def _project_count_footer(table):
    totals = getattr(table, "totals", None) or {}
    return _("%(count)s projects") % {"count": totals.get("count") or 0}


def _amount_footer(table):
    totals = getattr(table, "totals", None) or {}
    amount = totals.get("amount")
    return format_html(
        '<span class="total-wan">{}</span> 万元<br><span class="total-yi">{}</span> 亿元',
        grouped(wan(amount)),
        grouped(yi(amount)),
    )


class ProjectTable(ListTable):
    """The project list. ``select``: a box per row the user may edit, for the bulk-change
    form outside the table (``form="bulk-form"``); the view leaves the column out for a
    user who may edit no project."""

    count_text = _("%(count)s projects")
    select = tables.Column(
        verbose_name=_("Select"),
        accessor="pk",
        empty_values=(),
        orderable=False,
        attrs={"td": {"class": "select no-print"}, "th": {"class": "select no-print"}},
    )
    code = PkLinkColumn(
        "tracker:project_detail",
        footer=_project_count_footer,
        attrs=NOWRAP,
    )
    name = tables.Column()
    enterprise = tables.Column(order_by=("enterprise__name",))
    region = tables.Column(order_by=("region__sort_order", "region__name"))
    chain = tables.Column(order_by=("chain__sort_order", "chain__name"))
    signed_on = IsoDateColumn(attrs=NOWRAP)
    signed_amount = tables.Column(attrs=NUM, footer=_amount_footer)
    tier_5020 = tables.Column(
        verbose_name=_("5020 project"), accessor="tier_5020_value", order_by=("tier_5020_value",)
    )
    billion = tables.BooleanColumn(
        verbose_name=_("≥ 1 亿元"), accessor="is_billion_value", order_by=("is_billion_value",)
    )
    stage = tables.Column()
    light = tables.Column(
        verbose_name=_("Warning light"), order_by=("-light_rank",), attrs={"td": {"class": "c"}}
    )

    class Meta:
        model = Project
        fields = ()  # only the declared columns; the model supplies their headers
        template_name = TEMPLATE
        attrs = {"class": "projects"}
        order_by = ("-signed_on", "code")
        empty_text = _("No projects match these filters.")
        sequence = (
            "code",
            "name",
            "enterprise",
            "region",
            "chain",
            "signed_on",
            "signed_amount",
            "tier_5020",
            "billion",
            "stage",
            "light",
            "select",  # last: a phone's card keeps code and name at the top
            "...",
        )

    def render_select(self, record):
        # Checked in memory (the rule restrict() applies in SQL): no query per row.
        if not permissions.may(self.request.user, permissions.EDIT, record):
            return ""
        return format_html(
            '<input type="checkbox" name="ids" value="{}" form="bulk-form" aria-label="{} {}">',
            record.pk,
            _("Select"),
            record.code,
        )

    def render_name(self, record, value):
        url = pk_url(self, "tracker:project_detail", record.pk)
        if record.is_sample:
            return format_html(
                '<a href="{}">{}</a> <span class="sample" title="{}">示例</span>',
                url,
                value,
                _("illustrative data"),
            )
        return format_html('<a href="{}">{}</a>', url, value)

    def render_signed_amount(self, value):
        return grouped(wan(value))

    def render_light(self, record, value):
        reasons = "; ".join(str(r) for r in light_reasons(record)) or Light(value).label
        return format_html(
            '<span class="light light-{}" role="img" aria-label="{}" title="{}"></span>',
            value,
            Light(value).label,
            reasons,
        )

    def render_tier_5020(self, value):
        if value == Tier5020.NONE:
            return "—"
        return Tier5020(value).label


def _problem_count_footer(table):
    totals = getattr(table, "totals", None) or {}
    return _("%(count)s problems") % {"count": totals.get("count") or 0}


def status_badges(problem, today):
    """The status label with 逾期 (overdue) and 督办 (escalated) badges."""
    html = format_html("{}", problem.get_status_display())
    if problem_is_overdue(problem, today):
        since = problem.overdue_since or problem.deadline
        html += format_html(
            ' <span class="badge badge-overdue" title="{} {}">{}</span>',
            _("overdue since"),
            since.isoformat(),
            _("overdue"),
        )
    if problem.escalated:
        html += format_html(' <span class="badge badge-escalated">{}</span>', _("escalated"))
    return html


class ProblemTable(ListTable):
    count_text = _("%(count)s problems")
    id = PkLinkColumn(
        "tracker:problem_detail",
        verbose_name="#",
        footer=_problem_count_footer,
    )
    title = PkLinkColumn("tracker:problem_detail")
    chain = tables.Column(order_by=("chain__sort_order", "chain__name"))
    region = tables.Column(order_by=("region__sort_order", "region__name"), default="—")
    project = tables.Column(order_by=("project__code",), default=_("(whole chain)"))
    status = tables.Column()
    assigned_unit = tables.Column(default="—")
    deadline = IsoDateColumn(default="—", attrs=NOWRAP)
    raised_on = IsoDateColumn(attrs=NOWRAP)

    class Meta:
        model = Problem
        fields = ()
        template_name = TEMPLATE
        attrs = {"class": "problems"}
        order_by = ("-raised_on", "-id")
        empty_text = _("No problems match these filters.")
        sequence = (
            "id",
            "title",
            "chain",
            "region",
            "project",
            "status",
            "assigned_unit",
            "deadline",
            "raised_on",
        )

    def __init__(self, *args, today=None, **kwargs):
        self.today = today or timezone.localdate()
        super().__init__(*args, **kwargs)

    def render_status(self, record):
        return status_badges(record, self.today)


class InspectionTable(ListTable):
    count_text = _("%(count)s inspections")
    period = tables.Column(
        verbose_name=_("Quarter"), accessor="year", order_by=("year", "quarter"), attrs=NOWRAP
    )
    region = tables.Column(order_by=("region__sort_order", "region__name"))
    title = PkLinkColumn("tracker:inspection_detail")
    project = tables.Column(order_by=("project__code",))
    inspected_on = IsoDateColumn(attrs=NOWRAP)
    leader = tables.Column()
    item_count = tables.Column(verbose_name=_("Items"), attrs=NUM)
    open_count = tables.Column(verbose_name=_("Open"), attrs=NUM)
    done_count = tables.Column(verbose_name=_("Done, to verify"), attrs=NUM)
    overdue_count = tables.Column(verbose_name=_("Overdue"), attrs=NUM)

    class Meta:
        model = Inspection
        fields = ()
        template_name = TEMPLATE
        attrs = {"class": "inspections"}
        order_by = ("-period",)
        empty_text = _("No inspections match these filters.")
        sequence = (
            "period",
            "region",
            "title",
            "project",
            "inspected_on",
            "leader",
            "item_count",
            "open_count",
            "done_count",
            "overdue_count",
        )

    def render_period(self, record):
        return _("%(year)s Q%(quarter)s") % {"year": record.year, "quarter": record.quarter}

    def render_project(self, value):
        return f"{value.code} {value.name}"

    def render_overdue_count(self, value):
        if not value:
            return "0"
        return format_html('<span class="badge overdue">{}</span>', value)
