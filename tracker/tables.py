"""django-tables2 tables. Footers show totals of the whole filtered set, not one page."""

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .choices import Light, Tier5020
from .lights import light_reasons
from .models import Project
from .money import grouped, wan, yi

NUM = {"th": {"class": "num"}, "td": {"class": "num"}, "tf": {"class": "num"}}


def _count_footer(table):
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


class ProjectTable(tables.Table):
    code = tables.Column(
        linkify=("tracker:project_detail", {"pk": tables.A("pk")}), footer=_count_footer
    )
    name = tables.Column()
    enterprise = tables.Column(order_by=("enterprise__name",))
    region = tables.Column(order_by=("region__sort_order", "region__name"))
    chain = tables.Column(order_by=("chain__sort_order", "chain__name"))
    signed_on = tables.DateColumn(format="Y-m-d")
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
        template_name = "django_tables2/table.html"
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
            "...",
        )

    def render_name(self, record, value):
        url = reverse("tracker:project_detail", args=[record.pk])
        if record.is_sample:
            return format_html(
                '<a href="{}">{}</a> <span class="sample" title="{}">示例</span>',
                url,
                value,
                _("illustrative data"),
            )
        return format_html('<a href="{}">{}</a>', url, value)

    def render_signed_amount(self, value):
        return f"{value:,.2f}"

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
