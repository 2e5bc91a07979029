"""How pages write weeks, months, money, codes and dates, and how amount inputs read
"9,100". Expected values are written out by hand from a calendar and by arithmetic."""

import datetime
import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone, translation

from tests import factories
from tests.test_dispatch import edit_form_data, sheet_data, week_url
from tracker.choices import Role, Stage
from tracker.forms.widgets import plain_number
from tracker.models import Project, WeeklyDispatch
from tracker.periods import month_text, week_text

pytestmark = pytest.mark.django_db


# --- weeks and months: one format each ------------------------------------------------------
@pytest.mark.parametrize(
    ("year", "week", "chinese", "english"),
    [
        # ISO 2026-W49 runs Monday 30 November to Sunday 6 December 2026.
        (2026, 49, "2026年第49周（11月30日—12月6日）", "Week 49, 2026 (30 Nov – 6 Dec)"),
        # ISO 2026-W01 begins on Monday 29 December 2025: the week keeps its ISO year.
        (2026, 1, "2026年第1周（12月29日—1月4日）", "Week 1, 2026 (29 Dec – 4 Jan)"),
        # 2020 has 53 ISO weeks; W53 ends on Sunday 3 January 2021.
        (2020, 53, "2020年第53周（12月28日—1月3日）", "Week 53, 2020 (28 Dec – 3 Jan)"),
    ],
)
def test_a_week_reads_as_a_person_writes_it(year, week, chinese, english):
    with translation.override("zh-hans"):
        assert week_text(year, week) == chinese
    with translation.override("en"):
        assert week_text(year, week) == english


def test_a_month_reads_as_a_person_writes_it():
    with translation.override("zh-hans"):
        assert month_text(2022, 12) == "2022年12月"
        assert month_text(2023, 1) == "2023年1月"
    with translation.override("en"):
        assert month_text(2022, 12) == "December 2022"


def test_the_template_filters_take_labels_rows_and_month_numbers():
    dispatch = WeeklyDispatch(iso_year=2023, iso_week=7)
    template = Template(
        "{% load period_format %}{{ label|week }}|{{ row|week }}|{{ m|month }}|{{ n|month:2022 }}"
        "|{{ junk|week }}"
    )
    with translation.override("zh-hans"):
        html = template.render(
            Context({"label": "2026-W49", "row": dispatch, "m": "2022-12", "n": 3, "junk": "x"})
        )
    assert html.split("|") == [
        "2026年第49周（11月30日—12月6日）",
        "2023年第7周（2月13日—2月19日）",  # 13 February 2023 is a Monday
        "2022年12月",
        "2022年3月",
        "x",
    ]


@pytest.fixture
def manager(client):
    client.force_login(factories.user(Role.MANAGER))
    return client


def test_the_dispatch_sheet_heading_and_chooser_show_weeks_in_words(manager):
    factories.project(signed_on=datetime.date(2022, 1, 1))
    response = manager.get(reverse("tracker:dispatch_week", args=["2023-W07"]))
    html = response.content.decode()
    assert response.status_code == 200
    heading = re.search(r"<h1>(.*?)</h1>", html, re.S)[1]
    assert "2023年第7周（2月13日—2月19日）" in heading
    assert "2023-W07" not in heading
    # The chooser: the URL keeps the machine form, the link text is the week in words.
    prev_link = re.search(r'<a href="([^"]*)"[^>]*rel="prev">(.*?)</a>', html, re.S)
    assert prev_link[1].startswith(reverse("tracker:dispatch_week", args=["2023-W06"]))
    assert "2023年第6周（2月6日—2月12日）" in prev_link[2]


def test_the_project_page_lists_its_dispatches_by_week_in_words(manager):
    project = factories.project()
    factories.dispatch(project, iso_year=2022, iso_week=10, problems="用地指标未落实")
    html = manager.get(reverse("tracker:project_detail", args=[project.pk])).content.decode()
    history = html.split('id="dispatches"')[1]
    # ISO 2022-W10: Monday 7 March to Sunday 13 March 2022.
    assert "2022年第10周（3月7日—3月13日）" in history
    assert "2022-W10" not in history


def test_the_report_index_groups_the_months_by_year(manager):
    factories.project(signed_on=datetime.date(2021, 11, 15))
    html = manager.get(reverse("tracker:report_index")).content.decode()
    headings = re.findall(r'<h2 id="year-(\d{4})-heading">(.*?)</h2>', html)
    this_year = timezone.localdate().year
    # Every year from the first signing to the last ended month, newest first.
    years = list(range(this_year if timezone.localdate().month > 1 else this_year - 1, 2020, -1))
    assert headings == [(str(y), f"{y}年") for y in years]
    section_2021 = html.split('id="year-2021"')[1].split("</section>")[0]
    assert re.findall(r'data-month="([0-9-]+)"', section_2021) == ["2021-12", "2021-11"]
    assert ">2021年12月</a>" in section_2021
    # The link keeps the machine form of the month.
    assert reverse("tracker:monthly_report", kwargs={"month": "2021-12"}) in section_2021


def test_a_monthly_report_title_names_the_month_in_words(manager):
    factories.project(signed_on=datetime.date(2022, 12, 5))
    html = manager.get(reverse("tracker:monthly_report", kwargs={"month": "2022-12"})).content
    html = html.decode()
    assert "2022年12月" in re.search(r"<title>(.*?)</title>", html, re.S)[1]
    assert "2022年12月" in re.search(r'<h1 class="report-title">(.*?)</h1>', html, re.S)[1]


# --- money: 亿元 with two decimals and thousands separators on pages -------------------------
def test_the_project_list_total_is_in_yi_with_two_decimals_and_separators(manager):
    # 28,261,600.00 万元 = 2,826.16 亿元 (the "2826.1600 亿元").
    factories.project(signed_amount=Decimal("28000000"))
    factories.project(signed_amount=Decimal("261600"))
    html = manager.get(reverse("tracker:project_list")).content.decode()
    assert '<span id="summary-yi">2,826.16</span> 亿元' in html
    assert "2826.1600" not in html


def test_the_2022_book_is_1796_16_yi_on_the_project_list(manager):
    """17,961,600 万元 spread over three projects: 1,796.16 亿元, exactly."""
    for amount in ("10000000", "7000000", "961600"):
        factories.project(signed_amount=Decimal(amount), signed_on=datetime.date(2022, 5, 1))
    html = manager.get(reverse("tracker:project_list") + "?signed_year=2022").content.decode()
    assert '<span id="summary-yi">1,796.16</span>' in html
    # The amount column: 万元 with separators and two decimals, as money_format writes it.
    assert ">10,000,000.00<" in html and ">961,600.00<" in html


# --- codes and dates do not wrap ---------------------------------------------------------------
def test_codes_and_dates_carry_the_nowrap_class(manager):
    project = factories.project(code="YC-2022-0001", signed_on=datetime.date(2022, 3, 1))
    html = manager.get(reverse("tracker:project_list")).content.decode()
    # The list's cells also carry data-label (the phone's card layout).
    assert re.search(r'<td class="nowrap"[^>]*><a href="[^"]+">YC-2022-0001</a>', html)
    assert re.search(r'<td class="nowrap"[^>]*>2022-03-01</td>', html)
    detail = manager.get(reverse("tracker:project_detail", args=[project.pk])).content.decode()
    assert f'<span class="nowrap">{project.enterprise.credit_code}</span>' in detail
    assert '<td class="nowrap">2022-03-01</td>' in detail
    css = (settings.BASE_DIR / "static/css/app.css").read_text(encoding="utf-8")
    rule = re.search(r"\.nowrap[^{]*\{([^}]*)\}", css)
    assert rule and "white-space:nowrap" in rule[1].replace(" ", "")


# --- amounts typed with thousands separators ----------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("9,100", "9100"),
        ("9，100", "9100"),  # full-width comma
        (" 9 100 ", "9100"),
        ("９，１００", "9100"),  # full-width digits
        ("17,961,600.00", "17961600.00"),
        ("9100", "9100"),
        ("9,10", "9,10"),  # not a grouping: left for the field to refuse
        ("abc", "abc"),
    ],
)
def test_plain_number_takes_out_thousands_separators_only(typed, read):
    assert plain_number(typed) == read


@pytest.fixture
def county():
    region = factories.region(name="袁州区", code="yuanzhou")
    user = factories.user(Role.COUNTY, region=region)
    project = factories.project(
        region=region,
        signed_on=datetime.date(2022, 1, 1),
        signed_amount=Decimal("50000"),
        annual_planned_investment=Decimal("20000"),
        completed_investment=Decimal("1000"),
    )
    return user, project


@pytest.mark.parametrize("typed", ["9,100", "9，100", " 9 100 "])
def test_the_project_form_saves_an_amount_typed_with_separators(client, county, typed):
    user, project = county
    client.force_login(user)
    url = reverse("tracker:project_edit", args=[project.pk])
    html = client.get(url).content.decode()
    field = re.search(r'<input[^>]*name="completed_investment"[^>]*>', html)[0]
    assert 'type="text"' in field and 'inputmode="decimal"' in field
    response = client.post(url, edit_form_data(client, project, completed_investment=typed))
    assert response.status_code == 302, response.context["form"].errors
    project.refresh_from_db()
    assert project.completed_investment == Decimal("9100")


def test_the_project_form_refuses_abc_with_a_chinese_message(client, county):
    user, project = county
    client.force_login(user)
    url = reverse("tracker:project_edit", args=[project.pk])
    response = client.post(url, edit_form_data(client, project, completed_investment="abc"))
    assert response.status_code == 200
    assert "请输入数字，例如 9100 或 9,100。" in response.content.decode()
    project.refresh_from_db()
    assert project.completed_investment == Decimal("1000")


def test_the_dispatch_sheet_saves_an_amount_typed_with_separators(client, county):
    user, project = county
    client.force_login(user)
    response = client.get(week_url())
    html = response.content.decode()
    field = re.search(r'<input[^>]*name="[^"]*-completed_investment"[^>]*>', html)[0]
    assert 'type="text"' in field and 'inputmode="decimal"' in field
    data = sheet_data(response, {project.pk: {"completed_investment": "9，100"}})
    response = client.post(week_url(), data)
    assert response.status_code == 302
    assert WeeklyDispatch.objects.get(project=project).completed_investment == Decimal("9100")
    assert Project.objects.get(pk=project.pk).completed_investment == Decimal("9100")


def test_the_admin_project_form_reads_separators_too(admin_client, county):
    """The admin's project form is ProjectForm's subclass: the same widget."""
    _user, project = county
    response = admin_client.get(reverse("admin:tracker_project_change", args=[project.pk]))
    form = response.context["adminform"].form
    assert form["signed_amount"].field.widget.value_from_datadict(
        {"signed_amount": "12,345.60"}, {}, "signed_amount"
    ) == ("12345.60")
    assert form["signed_amount"].field.clean("12345.60") == Decimal("12345.60")


# --- the project page's investment figures -------------------------------------------------------
def test_the_annual_plan_rate_counts_only_this_years_work(manager):
    year = timezone.localdate().year
    project = factories.project(
        history=[(Stage.STARTED, datetime.date(year - 1, 3, 1))],
        signed_on=datetime.date(year - 1, 1, 10),
        signed_amount=Decimal("100000"),
        annual_planned_investment=Decimal("40000"),
        completed_investment=Decimal("168000"),
    )
    # Last year's last report: 158,000 万元 done; this year's: 168,000.
    factories.dispatch(project, iso_year=year - 1, iso_week=50, completed_investment=158000)
    factories.dispatch(project, iso_year=year, iso_week=1, completed_investment=168000)
    html = manager.get(reverse("tracker:project_detail", args=[project.pk])).content.decode()
    # This year: 168,000 − 158,000 = 10,000 万元; 10,000 / 40,000 = 25.0 % (not 420 %).
    assert ">10,000.00 万元<" in html.split('id="done-this-year"')[1][:40]
    assert html.split('id="pct-plan"')[1][:30].startswith(">25.0%<")
    assert "420.0%" not in html
    # Cumulative against the signed amount: 168,000 / 100,000 = 168.0 %.
    assert html.split('id="pct-signed"')[1][:30].startswith(">168.0%<")


def test_the_project_page_does_not_show_the_lock_version(manager):
    project = factories.project()
    Project.objects.filter(pk=project.pk).update(version=7)
    html = manager.get(reverse("tracker:project_detail", args=[project.pk])).content.decode()
    facts = html.split('id="facts"')[1].split("</section>")[0]
    assert "版本号" not in facts and ">7<" not in facts


def test_the_amount_filter_reads_separators(manager):
    small = factories.project(signed_amount=Decimal("9000"))
    large = factories.project(signed_amount=Decimal("9100"))
    response = manager.get(reverse("tracker:project_list"), {"amount_min": "9，100"})
    assert response.status_code == 200
    codes = {p.code for p in response.context["table"].data}
    assert large.code in codes and small.code not in codes
