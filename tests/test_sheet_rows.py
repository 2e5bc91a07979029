"""The sheet's rows written in Python (tracker/forms/sheet_rows.py, issue 10) are the rows the
template engine wrote: tests/sheet_rows_reference.html is the former loop of
templates/tracker/dispatch.html, rendered here with Django's forms beside the page."""

import datetime
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.template import engines
from django.utils import translation

from tests import factories as f
from tests.test_dispatch import sheet_data, sheet_data_bound, week_url
from tracker.choices import Role, Stage
from tracker.dispatching import current_week, file_weekly_dispatch, shift_week, week_label
from tracker.forms.dispatch import DispatchRowForm

D = datetime.date
REFERENCE = engines["django"].from_string(
    (Path(__file__).parent / "sheet_rows_reference.html").read_text(encoding="utf-8")
)


def normalised(html):
    """Whitespace between tags is layout, not content; runs of it are one space."""
    html = re.sub(r"\s+", " ", str(html)).strip()
    return re.sub(r">\s+<", "><", html)


def reference_rows(response):
    """The rows as the template engine wrote them, from the page's forms (built here)."""
    forms = response.context["formset"].forms
    rows = [
        {**row, "form": form, "texts": (form["progress"], form["problems"])}
        for row, form in zip(response.context["rows"], forms, strict=True)
    ]
    with translation.override("zh-hans"):
        return REFERENCE.render({"rows": rows, "closed": response.context["closed"]})


def assert_same_rows(response):
    assert response.context["rows"], "a page without rows compares nothing"
    ours = normalised(response.context["rows_html"])
    theirs = normalised(reference_rows(response))
    assert ours == theirs
    assert ours in normalised(response.content.decode())
    return ours


@pytest.fixture
def sheet():
    """A county with the kinds of rows a sheet has: filed this week, late, a sample, a
    stalled one, texts with markup and line breaks, a figure raised since the last report."""
    region = f.region(name="袁州区", code="yuanzhou")
    clerk = f.user(Role.COUNTY, region=region, username="yuanzhou", display_name="陈丽华")
    year, week = current_week()
    last_year, last_week = shift_week(year, week, -1)
    amount = {"signed_on": D(2022, 1, 1), "signed_amount": Decimal(20000)}
    filed = f.project(region=region, code="B1", is_sample=True, **amount)
    late = f.project(region=region, code="B2", completed_investment=Decimal(900), **amount)
    stalled = f.project(
        region=region, code="B3", history=[(Stage.STALLED, D(2022, 5, 1))], **amount
    )
    fresh = f.project(region=region, code="B4", name='新 <厂> & "二期"', **amount)
    f.dispatch(filed, iso_year=year, iso_week=week, progress='<b>"封顶"</b> & 验收\n第二行')
    f.dispatch(
        late,
        iso_year=last_year,
        iso_week=last_week,
        completed_investment=Decimal("850.50"),
        is_late=True,
        problems="资金\n土地",
    )
    f.dispatch(stalled, iso_year=last_year, iso_week=last_week, completed_investment=Decimal(10))
    return clerk, (filed, late, stalled, fresh)


@pytest.mark.django_db
def test_an_opened_page_writes_the_rows_the_template_wrote(client, sheet):
    clerk, projects = sheet
    client.force_login(clerk)
    html = assert_same_rows(client.get(week_url()))
    for p in projects:
        assert f'id="row-{p.pk}"' in html
    assert "新 &lt;厂&gt; &amp; &quot;二期&quot;" in html


@pytest.mark.django_db
def test_a_managers_page_writes_the_reason_as_the_template_did(client, sheet):
    _clerk, (_filed, *_rest) = sheet
    client.force_login(f.user(Role.MANAGER))
    html = assert_same_rows(client.get(week_url() + "?region=yuanzhou"))
    assert 'name="row-0-reason"' in html


@pytest.mark.django_db
def test_a_refused_page_writes_the_typed_values_and_the_errors_as_the_template_did(client, sheet):
    _clerk, (filed, late, _stalled, fresh) = sheet
    client.force_login(f.user(Role.MANAGER))
    url = week_url() + "?region=yuanzhou"
    page = client.get(url)
    changes = {
        filed.pk: {"completed_investment": "-1", "progress": "x" * 2001},
        late.pk: {"completed_investment": "1", "stage": "started"},  # lower: needs a reason
        fresh.pk: {"completed_investment": "abc", "confirm": True},
    }
    response = client.post(url, sheet_data(page, changes))
    assert response.status_code == 200
    html = assert_same_rows(response)
    assert html.count('class="errorlist"') >= 3 and 'aria-invalid="true"' in html
    assert 'name="row-0-completed_investment" value="-1"' in html


@pytest.mark.django_db
def test_a_page_with_rows_changed_meanwhile_writes_the_comparison_as_the_template_did(
    client, sheet
):
    clerk, (_filed, late, _stalled, _fresh) = sheet
    client.force_login(clerk)
    page = client.get(week_url())
    year, week = current_week()
    colleague = f.user(Role.COUNTY, region=clerk.region, display_name="王强")
    row = {"project": late.pk, "stage": "", "progress": "", "problems": ""}
    file_weekly_dispatch(
        rows=[{**row, "completed_investment": Decimal(990)}],
        by=colleague,
        iso_year=year,
        iso_week=week,
    )
    response = client.post(week_url(), sheet_data(page, {late.pk: {"completed_investment": "950"}}))
    assert response.status_code == 200
    html = assert_same_rows(response)
    assert f'id="conflict-{late.pk}"' in html and "王强" in html
    # Saved again as shown, it is a bound page of its own, written the same way.
    again = client.post(week_url(), sheet_data_bound(response))
    assert again.status_code in (200, 302)


@pytest.mark.django_db
def test_a_closed_week_writes_the_read_only_rows_as_the_template_did(client, sheet):
    clerk, _projects = sheet
    client.force_login(clerk)
    old = week_label(*shift_week(*current_week(), -1))
    html = assert_same_rows(client.get(week_url(old)))
    assert "<br>" in html  # texts with their line breaks
    closed = week_label(*shift_week(*current_week(), -3))
    response = client.get(week_url(closed))
    assert response.context["closed"]
    html = assert_same_rows(response)
    assert set(re.findall(r'<input type="(\w+)"', html)) == {"hidden"}
    assert "<select" not in html and "<textarea" not in html


@pytest.mark.django_db
def test_an_opened_page_builds_no_form_per_row(client, sheet, monkeypatch):
    """The rows of a GET are written from their initial values (the cost of 200 forms was
    a third of the page at scale); the forms are built only for a POST."""
    clerk, projects = sheet
    built = []
    original = DispatchRowForm.__init__

    def counting(self, *args, **kwargs):
        built.append(kwargs["project"].pk)
        original(self, *args, **kwargs)

    monkeypatch.setattr(DispatchRowForm, "__init__", counting)
    client.force_login(clerk)
    page = client.get(week_url())
    assert page.status_code == 200 and f'id="row-{projects[0].pk}"' in page.content.decode()
    assert built == []
    data = sheet_data(page, {projects[0].pk: {"confirm": True}})  # builds the page's forms
    built.clear()
    assert client.post(week_url(), data).status_code == 302
    assert len(built) == len(projects)
