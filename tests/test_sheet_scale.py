"""The weekly sheet and the home page at scale (issue 10): the sheet is paged, each page files
only its own rows, the summary counts the whole week, queries do not grow with the rows, and
weeks are compared column by column (no ``iso_year * 100 + iso_week`` in the SQL)."""

import datetime
import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.forms.renderers import DjangoTemplates
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests import factories as f
from tests.test_dispatch import sheet_data, statements, week_url
from tracker import permissions
from tracker.choices import Role, Stage
from tracker.dispatching import current_week, shift_week
from tracker.forms.sheet_renderer import SheetRenderer
from tracker.models import Project, WeeklyDispatch
from tracker.overdue import flag_overdue
from tracker.views import home as home_view

D = datetime.date
PAGE = 4
LISTED_IDS = re.compile(r'WHERE \(?"tracker_project"\."id" IN \(\d')
WEEK_ARITHMETIC = re.compile(r'iso_year"?\s*\)?\s*\*\s*100', re.IGNORECASE)


@pytest.fixture
def small_pages(settings):
    settings.TRACKER = {**settings.TRACKER, "DISPATCH_SHEET_PAGE_SIZE": PAGE}
    return PAGE


def county_with(n, *, reported_last_week=True):
    """A county clerk and ``n`` projects of their region (in the sheet's order: by code)."""
    region = f.region()
    user = f.user(Role.COUNTY, region=region)
    enterprise = f.enterprise(region=region)
    chain = f.chain()
    year, week = shift_week(*current_week(), -1)
    projects = []
    for i in range(n):
        history = [(Stage.STARTED, D(2022, 5, 1))] if i % 3 == 0 else None
        p = f.project(
            region=region,
            enterprise=enterprise,
            chain=chain,
            signed_on=D(2022, 1, 1),
            signed_amount=Decimal(20000),
            history=history,
        )
        if reported_last_week and i % 2:
            f.dispatch(p, iso_year=year, iso_week=week, completed_investment=Decimal(i))
        projects.append(p)
    return user, projects


def page_url(page=1, **params):
    query = "&".join(f"{k}={v}" for k, v in {"page": page, **params}.items())
    return week_url() + "?" + query


def page_ids(response):
    return [form.project.pk for form in response.context["formset"].forms]


@pytest.mark.django_db
def test_the_sheet_shows_at_most_a_page_and_every_project_on_some_page(client, small_pages):
    user, projects = county_with(2 * PAGE + 1)
    client.force_login(user)
    seen = []
    for page in (1, 2, 3):
        response = client.get(page_url(page))
        assert response.status_code == 200
        ids = page_ids(response)
        assert 1 <= len(ids) <= PAGE
        assert response.context["page"]["count"] == 3
        seen += ids
    assert seen == [p.pk for p in sorted(projects, key=lambda p: p.code)]  # no gap, no overlap
    assert len(page_ids(client.get(page_url(1)))) == PAGE
    # A page past the last one sends to the last page; garbage is not a page.
    response = client.get(page_url(7))
    assert response.status_code == 302 and response.url.endswith("page=3")
    assert client.get(page_url("x")).status_code == 404
    assert client.get(page_url(0)).status_code == 404


@pytest.mark.django_db
def test_saving_page_two_files_exactly_its_rows_and_leaves_page_one_alone(client, small_pages):
    user, _projects = county_with(2 * PAGE + 1)
    client.force_login(user)
    first = client.get(page_url(1))
    second = client.get(page_url(2))
    page1, page2 = page_ids(first), page_ids(second)
    before = {p.pk: (p.completed_investment, p.version) for p in Project.objects.all()}
    changes = {pk: {"completed_investment": "100", "progress": "第二页"} for pk in page2}
    response = client.post(page_url(2), sheet_data(second, changes))
    assert response.status_code == 302 and response.url.endswith("page=2")
    filed = WeeklyDispatch.objects.filter(iso_year=current_week()[0], iso_week=current_week()[1])
    assert sorted(filed.values_list("project_id", flat=True)) == sorted(page2)
    for p in Project.objects.filter(pk__in=page1):
        assert (p.completed_investment, p.version) == before[p.pk]
    # The first page, opened before, still files on its own (it was not made stale).
    response = client.post(page_url(1), sheet_data(first, {page1[0]: {"confirm": True}}))
    assert response.status_code == 302
    assert filed.count() == len(page2) + 1
    # Page 3 posted after its projects left the sheet: nothing saved, and the clerk is told.
    last = client.get(page_url(3))
    gone = page_ids(last)
    Project.objects.filter(pk__in=gone).update(signed_on=D(2099, 1, 1))  # no longer due
    response = client.post(
        page_url(3),
        sheet_data(last, {pk: {"completed_investment": "7"} for pk in gone}),
        follow=True,
    )
    assert response.redirect_chain[-1][0].endswith("page=2")
    assert "未保存任何内容：本页有 1 行所填项目您本周无法报送" in response.content.decode()
    assert not filed.filter(project_id__in=gone).exists()
    Project.objects.filter(pk__in=gone).update(signed_on=D(2022, 1, 1))
    # A page's rows posted to another page's address file for their own projects: the rows
    # carry their projects, the page's address does not decide them.
    third = client.get(page_url(3))
    data = sheet_data(third, {pk: {"completed_investment": "5"} for pk in page_ids(third)})
    response = client.post(page_url(1), data)
    assert response.status_code == 302
    assert sorted(
        filed.filter(completed_investment=5).values_list("project_id", flat=True)
    ) == sorted(page_ids(third))


@pytest.mark.django_db
def test_the_summary_counts_the_whole_week_and_the_filter_lists_only_the_missing(
    client, small_pages
):
    user, projects = county_with(2 * PAGE + 1)
    year, week = current_week()
    ordered = sorted(projects, key=lambda p: p.code)
    done = [ordered[0], ordered[-1]]  # one on the first page, one on the last
    for p in done:
        f.dispatch(p, iso_year=year, iso_week=week, is_late=True)
    client.force_login(user)
    response = client.get(page_url(2))  # a page without any of them
    summary = response.context["summary"]
    assert (summary["total"], summary["filed"], summary["missing"], summary["late"]) == (
        len(projects),
        2,
        len(projects) - 2,
        2,
    )
    html = response.content.decode()
    assert 'id="missing-count"' in html and "missing=1" in html
    # Only the missing rows, across pages, in the same order.
    seen = []
    for page in (1, 2):
        seen += page_ids(client.get(page_url(page, missing=1)))
    assert seen == [p.pk for p in ordered if p not in done]


@pytest.mark.django_db
def test_sheet_get_and_post_queries_do_not_grow_with_the_rows(client, small_pages):
    counts = {}
    for n in (2, 3 * PAGE):
        user, _projects = county_with(n)
        client.force_login(user)
        ContentType.objects.clear_cache()
        with CaptureQueriesContext(connection) as get_ctx:
            page = client.get(page_url(1))
        assert len(page_ids(page)) == min(n, PAGE)
        data = sheet_data(
            page,
            {pk: {"completed_investment": "1000", "progress": "进展"} for pk in page_ids(page)},
        )
        ContentType.objects.clear_cache()
        with CaptureQueriesContext(connection) as post_ctx:
            response = client.post(page_url(1), data)
        assert response.status_code == 302, response.context["formset"].errors
        counts[n] = (statements(get_ctx), statements(post_ctx))
        for ctx in (get_ctx, post_ctx):
            for query in ctx.captured_queries:
                assert not WEEK_ARITHMETIC.search(query["sql"]), query["sql"]
    print("sheet query counts (GET, POST) at two sizes:", counts)
    assert counts[2] == counts[3 * PAGE]


def home_world(role, n):
    region = f.region()
    chain = f.chain()
    enterprise = f.enterprise(region=region)
    year, week = current_week()
    if role == Role.COUNTY:
        user = f.user(role, region=region)
    elif role == Role.CHAIN_OFFICE:
        user = f.user(role, chain=chain)
    else:
        user = f.user(role)
    for i in range(n):
        p = f.project(
            region=region,
            chain=chain,
            enterprise=enterprise,
            signed_on=D(2022, 1, 1),
            planned_start_on=D(2022, 2, 1) if i % 3 == 0 else None,
            annual_planned_investment=Decimal(1000),
            commissioner=user if role == Role.COMMISSIONER else None,
        )
        if i % 2:
            f.dispatch(p, iso_year=year, iso_week=week, is_late=bool(i % 4 == 1))
    return user


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.COUNTY, Role.COMMISSIONER, Role.CHAIN_OFFICE, Role.MANAGER])
def test_home_queries_do_not_grow_and_lights_are_computed_for_the_listed_rows(
    client, role, monkeypatch
):
    monkeypatch.setattr(home_view, "ATTENTION_LIMIT", 3)
    counts = {}
    for n in (4, 30):
        user = home_world(role, n)
        client.force_login(user)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(reverse("tracker:home"))
        assert response.status_code == 200
        listed = [item["project"].pk for item in response.context["items"]]
        assert len(listed) == 3
        counts[n] = len(ctx.captured_queries)
        # The full lights (with the reasons' figures) are read for the listed rows only.
        full = [q["sql"] for q in ctx.captured_queries if '"invest_points_behind"' in q["sql"]]
        assert full and all(LISTED_IDS.search(sql) for sql in full), full
        for query in ctx.captured_queries:
            assert not WEEK_ARITHMETIC.search(query["sql"]), query["sql"]
    # "and N more": the total came with the ids.
    assert response.context["more"] == home_view.attention_projects(
        Project.objects.visible_to(user)
        if role == Role.CHAIN_OFFICE
        else Project.objects.restrict(user, permissions.DISPATCH),
        today=timezone.localdate(),
    ).count() - len(listed)
    print(f"home query count for {role}:", counts)
    assert counts[4] == counts[30]


@pytest.mark.django_db
def test_the_daily_check_compares_weeks_column_by_column():
    county_with(3, reported_last_week=False)
    with CaptureQueriesContext(connection) as ctx:
        result = flag_overdue(weeks=2)
    assert result.dispatches > 0
    assert ctx.captured_queries
    for query in ctx.captured_queries:
        assert not WEEK_ARITHMETIC.search(query["sql"]), query["sql"]


def test_the_page_size_is_a_setting():
    assert settings.TRACKER["DISPATCH_SHEET_PAGE_SIZE"] == 200


@pytest.mark.django_db
def test_the_sheet_renderer_writes_what_djangos_widget_templates_write(client):
    region = f.region()
    manager = f.user(Role.MANAGER)
    year, week = shift_week(*current_week(), -1)
    projects = [
        f.project(region=region, signed_on=D(2022, 1, 1), completed_investment=Decimal("12.5")),
        f.project(region=region, signed_on=D(2022, 1, 1), history=[(Stage.STALLED, D(2022, 5, 1))]),
    ]
    f.dispatch(projects[0], iso_year=year, iso_week=week, progress='<b>"封顶"</b> & 验收')
    client.force_login(manager)
    url = week_url() + "?region=" + region.code
    page = client.get(url)
    bad = client.post(url, sheet_data(page, {projects[0].pk: {"completed_investment": "-1"}}))
    django_renderer = DjangoTemplates()
    compared = 0
    for response in (page, bad):
        for form in response.context["formset"].forms:
            for field in form:
                ours = str(field)
                form.renderer, saved = django_renderer, form.renderer
                theirs = str(field.form[field.name])
                form.renderer = saved
                assert ours == theirs, field.name
                compared += 1
    assert compared >= 2 * 2 * 9
    assert isinstance(page.context["formset"].forms[0].renderer, SheetRenderer)


@pytest.mark.django_db
def test_a_full_page_fits_in_the_fields_a_request_may_post(client):
    region = f.region()
    f.project(region=region, signed_on=D(2022, 1, 1))
    client.force_login(f.user(Role.MANAGER))  # a manager's row has the most fields (reason)
    page = client.get(week_url() + "?region=" + region.code)
    form = page.context["formset"].forms[0]
    data = sheet_data(page, {form.project.pk: {"confirm": True, "reason": "核实"}})
    per_row = sum(1 for key in data if key.startswith("row-0-") or key.startswith("initial-row-0-"))
    fixed = len(data) - per_row + 1  # the management form and the CSRF token
    size = settings.TRACKER["DISPATCH_SHEET_PAGE_SIZE"]
    assert per_row * size + fixed <= settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
