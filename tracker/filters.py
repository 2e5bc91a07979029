"""FilterSets of the list pages (projects, problems, inspections): every list filter lives in
the URL (GET), so a view can be bookmarked."""

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import permissions
from .choices import (
    YES_NO_ALL,
    CapitalSource,
    Light,
    ProblemStatus,
    Quarter,
    Stage,
    Tier5020Filter,
)
from .forms.fields import PersonFilterField
from .forms.sheet_renderer import SheetRenderer
from .forms.widgets import AmountInput
from .lights import annotate_lights
from .models import IndustryChain, Inspection, Park, Region, User
from .validators import FIRST_YEAR, LAST_YEAR, TEXT_VALIDATORS


class PersonFilter(django_filters.ModelChoiceFilter):
    """A filter by account whose options read name and unit."""

    field_class = PersonFilterField


class YearFilter(django_filters.NumberFilter):
    """A whole year such as ``signed_year=2022``: ``abc`` or ``2022.5`` is a form error."""

    field_class = forms.IntegerField


class ListFilterForm(forms.Form):
    """A list page's filter form. Its widgets are written in Python (``SheetRenderer``, the
    same HTML as Django's templates): a province's drop-downs (90 counties, their parks)
    through the template engine were a fifth of the project list's time (issue 10)."""

    default_renderer = SheetRenderer()


class ProjectFilterForm(ListFilterForm):
    """Cross-field checks; each message sits beside the field it concerns."""

    def clean(self):
        cleaned = super().clean()
        low, high = cleaned.get("amount_min"), cleaned.get("amount_max")
        if low is not None and high is not None and low > high:
            self.add_error("amount_max", _("The upper bound is below the lower bound."))
        after, before = cleaned.get("signed_after"), cleaned.get("signed_before")
        if after and before and after > before:
            self.add_error("signed_before", _("The end date is before the start date."))
        return cleaned


# The first option of every drop-down: no filter. django-filter would say "---------".
ALL = YES_NO_ALL[0][1]

# Worst first, as the lights are read (红灯, 黄灯, 绿灯).
LIGHT_CHOICES = [(light.value, light.label) for light in (Light.RED, Light.YELLOW, Light.GREEN)]


# The values are the ones the links on the page use (``?overdue=true``), so a bound filter
# form shows the chosen option again.
def yes_no_all():
    """The drop-down of a yes/no filter: 全部 (no filter), 是, 否 — not Django's 未知."""
    return forms.Select(choices=YES_NO_ALL)


class QuickSearch:
    """The ``q`` quick search every list has: the typed text in any of ``search_fields``
    (case-insensitive); ``search_distinct`` where a field crosses a to-many relation."""

    search_fields = ()
    search_distinct = False

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        matches = Q()
        for field in self.search_fields:
            matches |= Q(**{f"{field}__icontains": value})
        queryset = queryset.filter(matches)
        return queryset.distinct() if self.search_distinct else queryset


class ProjectFilterSet(QuickSearch, django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Search"),
        method="search",
        max_length=100,
        validators=TEXT_VALIDATORS,
        widget=forms.TextInput(attrs={"placeholder": _("name, code or enterprise")}),
    )
    region = django_filters.ModelChoiceFilter(
        empty_label=ALL, label=_("County (city, district)"), queryset=Region.objects.all()
    )
    park = django_filters.ModelChoiceFilter(
        empty_label=ALL, label=_("Industrial park"), queryset=Park.objects.all()
    )
    chain = django_filters.ModelChoiceFilter(
        empty_label=ALL, label=_("Industry chain"), queryset=IndustryChain.objects.all()
    )
    stage = django_filters.ChoiceFilter(empty_label=ALL, label=_("Stage"), choices=Stage.choices)
    light = django_filters.ChoiceFilter(
        empty_label=ALL,
        label=_("Warning light"),
        choices=LIGHT_CHOICES,
        method="filter_light",
    )
    signed_year = YearFilter(
        label=_("Signed in year"),
        field_name="signed_on",
        lookup_expr="year",
        min_value=FIRST_YEAR,
        max_value=LAST_YEAR,
    )
    signed_after = django_filters.DateFilter(
        label=_("Signed on or after"),
        field_name="signed_on",
        lookup_expr="gte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    signed_before = django_filters.DateFilter(
        label=_("Signed on or before"),
        field_name="signed_on",
        lookup_expr="lte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    amount_min = django_filters.NumberFilter(
        label=_("Amount from (万元)"),
        widget=AmountInput(),  # "9,100" is a number too
        field_name="signed_amount",
        lookup_expr="gte",
        min_value=0,
        max_digits=14,
        decimal_places=2,
    )
    amount_max = django_filters.NumberFilter(
        label=_("Amount up to (万元)"),
        widget=AmountInput(),  # "9,100" is a number too
        field_name="signed_amount",
        lookup_expr="lte",
        min_value=0,
        max_digits=14,
        decimal_places=2,
    )
    tier_5020 = django_filters.ChoiceFilter(
        empty_label=ALL,
        label=_("5020 project"),
        method="filter_tier",
        choices=Tier5020Filter.choices,
    )
    billion = django_filters.BooleanFilter(
        label=_("≥ 1 亿元"), method="filter_billion", widget=yes_no_all()
    )
    capital_source = django_filters.ChoiceFilter(
        empty_label=ALL, label=_("Capital source"), choices=CapitalSource.choices
    )
    commissioner = PersonFilter(
        empty_label=ALL,
        null_label=_("(none assigned)"),
        label=_("Enterprise commissioner"),
        queryset=permissions.commissioners(User.objects.all()).order_by("display_name", "pk"),
    )

    class Meta:
        fields = []
        form = ProjectFilterForm

    search_fields = ("name", "code", "enterprise__name")

    def filter_tier(self, queryset, name, value):
        if value == Tier5020Filter.ANY:
            return queryset.is_5020()
        return queryset.in_tier(value)

    def filter_billion(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.billion_or_more(value)

    def filter_light(self, queryset, name, value):
        # The light as of today, filtered in the database by the one rule that computes it
        # (tracker.lights); annotated here, so that the list computes lights for the rows
        # of one page only unless this filter asks for them.
        if "light" not in queryset.query.annotations:
            queryset = annotate_lights(queryset, today=timezone.localdate())
        return queryset.filter(light=value)


class ProblemFilterForm(ListFilterForm):
    def clean(self):
        cleaned = super().clean()
        after, before = cleaned.get("deadline_after"), cleaned.get("deadline_before")
        if after and before and after > before:
            self.add_error("deadline_before", _("The end date is before the start date."))
        return cleaned


class ProblemFilterSet(QuickSearch, django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Search"),
        method="search",
        max_length=100,
        validators=TEXT_VALIDATORS,
        widget=forms.TextInput(attrs={"placeholder": _("problem, project or unit")}),
    )
    chain = django_filters.ModelChoiceFilter(
        empty_label=ALL, label=_("Industry chain"), queryset=IndustryChain.objects.all()
    )
    region = django_filters.ModelChoiceFilter(
        empty_label=ALL, label=_("County (city, district)"), queryset=Region.objects.all()
    )
    status = django_filters.ChoiceFilter(
        empty_label=ALL, label=_("Status"), choices=ProblemStatus.choices
    )
    overdue = django_filters.BooleanFilter(
        label=_("Overdue"), method="filter_overdue", widget=yes_no_all()
    )
    escalated = django_filters.BooleanFilter(label=_("Escalated (督办)"), widget=yes_no_all())
    deadline_after = django_filters.DateFilter(
        label=_("Deadline on or after"),
        field_name="deadline",
        lookup_expr="gte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    deadline_before = django_filters.DateFilter(
        label=_("Deadline on or before"),
        field_name="deadline",
        lookup_expr="lte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        fields = []
        form = ProblemFilterForm

    search_fields = ("title", "description", "project__name", "assigned_unit")

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.overdue(timezone.localdate(), flag=value)


class InspectionFilterSet(QuickSearch, django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Search"),
        method="search",
        max_length=100,
        validators=TEXT_VALIDATORS,
        widget=forms.TextInput(attrs={"placeholder": _("title, findings, project or unit")}),
    )
    year = YearFilter(label=_("Year"), min_value=FIRST_YEAR, max_value=LAST_YEAR)
    quarter = django_filters.ChoiceFilter(
        empty_label=ALL, label=_("Quarter"), choices=Quarter.choices
    )
    region = django_filters.ModelChoiceFilter(
        empty_label=ALL, label=_("County (city, district)"), queryset=Region.objects.all()
    )
    has_overdue = django_filters.BooleanFilter(
        label=_("Has overdue items"),
        method="filter_overdue",
        widget=yes_no_all(),
    )

    search_fields = (
        "title",
        "findings",
        "leader",
        "project__name",
        "project__code",
        "items__owner_unit",
    )
    search_distinct = True

    class Meta:
        model = Inspection
        fields = []
        form = ListFilterForm

    def __init__(self, *args, today, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.with_overdue_items(value, today=self.today)
