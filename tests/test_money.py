"""万元 → 亿元: one rounding rule per context (tracker.money), half-up, from the 万元 figure.

Expected values are worked by hand. The boundaries chosen are those where the roundings used
before (half-even quantize to four places in exports and the project list, half-even to two
on the dashboard, half-up to two in the report) gave different answers.
"""

import datetime
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.urls import reverse

from tests import factories
from tracker import money
from tracker.choices import Role
from tracker.exports import HEADERS, export_rows
from tracker.models import Project
from tracker.reports.assembly import compute_report

D = Decimal


@pytest.mark.parametrize(
    "wan, page_yi, file_yi",
    [
        ("17961600", "1796.16", "1796.1600"),  # the 2022 book
        ("50", "0.01", "0.0050"),  # 0.005 亿元: half-up on a page (half-even gave 0.00)
        ("250", "0.03", "0.0250"),  # 0.025 亿元: half-up (half-even gave 0.02)
        ("0.50", "0.00", "0.0001"),  # 0.00005 亿元: half-up in a file (half-even gave 0.0000)
        ("49.50", "0.00", "0.0050"),  # 0.00495: a page rounds the 万元 figure, not 0.0050
        ("12345.6789", "1.23", "1.2346"),
        ("-50", "-0.01", "-0.0050"),  # a decrease (the dashboard's monthly increment)
        (None, "0.00", "0.0000"),
    ],
)
def test_yi_on_pages_two_places_in_files_four_half_up(wan, page_yi, file_yi):
    assert money.yi(wan) == D(page_yi)
    assert str(money.yi(wan)) == page_yi
    assert str(money.yi_file(wan)) == file_yi


def test_wan_two_places_half_up_and_exact_yi_unrounded():
    assert str(money.wan("12345.675")) == "12345.68"
    assert str(money.wan("0.005")) == "0.01"  # half-even gave 0.00
    assert str(money.wan(17961600)) == "17961600.00"
    assert money.yi_exact("12345.6789") == D("1.23456789")
    assert money.grouped(money.wan(17961600)) == "17,961,600.00"
    with pytest.raises(ValueError):
        money.wan("12 万")


def test_template_filters_apply_the_page_rule_to_the_wan_figure():
    template = Template("{% load money_format %}{{ a|yi }} / {{ a|wan }} / {{ none|yi }}")
    assert template.render(Context({"a": "17961600.00", "none": None})) == (
        "1,796.16 / 17,961,600.00 / —"
    )
    assert Template("{% load money_format %}{{ a|yi }}").render(Context({"a": D("49.50")})) == (
        "0.00"
    )


@pytest.mark.django_db
def test_files_carry_four_places_and_pages_two_for_the_same_project(client):
    region = factories.region()
    factories.project(region=region, signed_on=datetime.date(2022, 5, 10), signed_amount=D("50.00"))
    rows = list(export_rows(Project.objects.with_tiers()))
    cells = dict(zip(HEADERS, rows[1], strict=True))
    assert cells["签约金额(亿元)"] == D("0.0050")  # CSV / XLSX
    city = compute_report(year=2022, month=5)["city"]
    assert (city["month_amount"], city["month_amount_yi"]) == ("50.00", "0.0050")  # the JSON
    client.force_login(factories.user(Role.MANAGER))
    body = client.get(reverse("tracker:project_list")).content.decode()
    assert 'class="total-yi">0.01<' in body  # the project list: a page
