"""The column chooser (tracker/columns.py, saved_views.set_columns): each user's columns of
each list, in their order; ``?columns=`` in the URL overriding them; exports (at once and in
the background) following them unless ``columns=all`` is asked."""

import csv
import io

import pytest
from django.conf import settings
from django.urls import reverse
from openpyxl import load_workbook

from tests import factories
from tracker import columns, jobs, saved_views, tasks
from tracker.choices import ListName, Role
from tracker.exports import HEADERS, INSPECTION_HEADERS, LISTS, PROBLEM_HEADERS
from tracker.models import Job, ListColumns
from tracker.spreadsheets import HEADER_ROW

pytestmark = pytest.mark.django_db

PROJECTS = reverse("tracker:project_list")
PROBLEMS = reverse("tracker:problem_list")
CHOOSE = reverse("tracker:list_columns", args=[ListName.PROJECTS])


def shown(response):
    """The data columns shown (the bulk change's boxes are a control, not a choice)."""
    table = response.context["table"]
    return [column.name for column in table.columns if column.name not in columns.CONTROLS]


def read_csv(response):
    body = b"".join(response.streaming_content)
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def read_xlsx(body):
    sheet = load_workbook(io.BytesIO(body), read_only=True).active
    rows = [list(r) for r in sheet.iter_rows(min_row=HEADER_ROW, values_only=True)]
    return rows[0], rows[1:-1], rows[-1]


@pytest.fixture
def book():
    region = factories.region(name="袁州区")
    projects = [factories.project(region=region, name=f"项目{n}") for n in range(3)]
    return {
        "region": region,
        "projects": projects,
        "manager": factories.user(Role.MANAGER),
        "other": factories.user(Role.MANAGER),
    }


def choose(client, picks, **extra):
    """POST the chooser: ``picks`` maps a column to its position number."""
    body = {"columns": list(picks), **{f"order-{name}": n for name, n in picks.items()}}
    return client.post(CHOOSE, {**body, **extra})


# --- the choice, stored per user and list ----------------------------------------------------
def test_columns_are_stored_per_user_and_per_list_in_their_order(client, book):
    client.force_login(book["manager"])
    response = choose(
        client, {"stage": 1, "name": 2, "code": 3}, next=f"{PROJECTS}?region=&columns=name"
    )
    # back to the list, without a ``columns`` that would hide the new choice
    assert response.status_code == 302 and response["Location"] == f"{PROJECTS}?region="
    assert shown(client.get(PROJECTS, {"region": ""})) == ["stage", "name", "code"]
    stored = ListColumns.objects.get(user=book["manager"])
    assert (stored.list_name, stored.columns) == ("projects", ["stage", "name", "code"])
    # the problem ledger keeps its own (default) columns; another user sees the default
    assert shown(client.get(PROBLEMS)) == columns.names(ListName.PROBLEMS)
    client.force_login(book["other"])
    assert shown(client.get(PROJECTS, {"region": ""})) == columns.names(ListName.PROJECTS)


def test_the_positions_order_the_columns_and_unticked_ones_are_hidden(client, book):
    client.force_login(book["manager"])
    choose(client, {"code": 3, "light": 1, "region": 2}, **{"order-name": 4})
    assert shown(client.get(PROJECTS, {"region": ""})) == ["light", "region", "code"]
    # the chooser shows the choice first, in order, then the hidden columns unticked
    page = client.get(PROJECTS, {"region": ""})
    chooser = page.context["column_choices"]
    assert [(c["name"], c["checked"]) for c in chooser[:4]] == [
        ("light", True),
        ("region", True),
        ("code", True),
        ("name", False),
    ]


def test_the_default_columns_forget_the_choice(client, book):
    client.force_login(book["manager"])
    choose(client, {"code": 1, "name": 2})
    assert ListColumns.objects.exists()
    client.post(CHOOSE, {"reset": "1", "columns": ["code"]})
    assert not ListColumns.objects.exists()
    assert shown(client.get(PROJECTS, {"region": ""})) == columns.names(ListName.PROJECTS)


def test_the_url_overrides_the_stored_choice_and_all_shows_every_column(client, book):
    client.force_login(book["manager"])
    choose(client, {"code": 1, "name": 2})
    assert shown(client.get(PROJECTS, {"columns": "stage,code"})) == ["stage", "code"]
    assert shown(client.get(PROJECTS, {"columns": "all"})) == columns.names(ListName.PROJECTS)


@pytest.mark.parametrize(
    "body",
    [
        {"columns": ["code", "nope"]},
        {"columns": []},
        {"columns": ["code", "code"]},
        {"columns": ["code"], "order-code": "first"},
    ],
)
def test_a_bad_choice_is_a_message_and_nothing_is_stored(client, book, body):
    client.force_login(book["manager"])
    saved_views.set_columns(user=book["manager"], list_name="projects", columns=["name"])
    response = client.post(CHOOSE, body, follow=True)
    assert response.status_code == 200
    assert response.context["messages"] and "msg-error" in response.content.decode()
    assert ListColumns.objects.get().columns == ["name"]


def test_an_unknown_column_in_the_url_is_a_message_and_the_page_shows(client, book):
    client.force_login(book["manager"])
    response = client.get(PROJECTS, {"columns": "code,<b>nope</b>"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "未知的列：&lt;b&gt;nope&lt;/b&gt;。" in body
    assert shown(response) == columns.names(ListName.PROJECTS)
    # an export asked with it is not made: the page says why
    response = client.get(PROJECTS, {"columns": "nope", "export": "csv"})
    assert response.status_code == 200 and not response.streaming


def test_the_chooser_of_an_unknown_list_is_a_404(client, book):
    client.force_login(book["manager"])
    url = reverse("tracker:list_columns", args=["nolist"])
    assert client.post(url, {"columns": ["code"]}).status_code == 404


# --- exports follow the columns ----------------------------------------------------------------
def test_the_csv_export_follows_the_chosen_columns_and_all_gives_all(client, book):
    client.force_login(book["manager"])
    choose(client, {"signed_amount": 1, "code": 2})
    rows = read_csv(client.get(PROJECTS, {"region": "", "export": "csv"}))
    # a table column may carry two export columns (the amount in 万元 and 亿元)
    assert rows[0] == ["签约金额(万元)", "签约金额(亿元)", "项目编号"]
    assert sorted(row[2] for row in rows[1:]) == sorted(p.code for p in book["projects"])
    rows = read_csv(client.get(PROJECTS, {"region": "", "export": "csv", "columns": "all"}))
    assert rows[0] == HEADERS and len(rows) == 4


def test_the_page_links_its_exports_with_the_columns_and_offers_all(client, book):
    client.force_login(book["manager"])
    choose(client, {"name": 1, "code": 2})
    page = client.get(PROJECTS, {"region": ""})
    assert page.context["export_query"] == "region=&columns=name%2Ccode"
    assert page.context["export_all_query"] == "region=&columns=all"
    assert 'id="export-xlsx-all"' in page.content.decode()


def test_the_xlsx_export_follows_the_columns_with_its_totals(client, book):
    client.force_login(book["manager"])
    response = client.get(PROJECTS, {"region": "", "export": "xlsx", "columns": "code,tier_5020"})
    header, data, totals = read_xlsx(b"".join(response.streaming_content))
    assert header == ["项目编号", "5020项目", "5020档次"]
    assert len(data) == 3 and all(len(row) == 3 for row in data)
    assert totals[0] == "合计"


def test_the_problem_export_follows_the_columns_too(client, book):
    client.force_login(book["manager"])
    rows = read_csv(client.get(PROBLEMS, {"export": "csv", "columns": "title,project"}))
    assert rows[0] == ["问题", "项目编号", "项目名称"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_background_export_follows_the_columns_chosen_when_it_was_asked(
    client, book, monkeypatch, fmt
):
    monkeypatch.setitem(settings.TRACKER, "EXPORT_BACKGROUND_ROWS", 2)
    client.force_login(book["manager"])
    choose(client, {"name": 1, "code": 2})
    response = client.get(PROJECTS, {"region": "", "export": fmt})
    job = Job.objects.get()
    assert response.status_code == 302
    assert "columns=name%2Ccode" in job.params["query"]
    # a change of choice before the job runs does not change the file asked for
    choose(client, {"stage": 1})
    tasks.run_export(jobs.claim(job.pk, worker_id="here"))
    job.refresh_from_db()
    body = b"".join(jobs.read_file(job))
    if fmt == "csv":
        header = next(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    else:
        header = read_xlsx(body)[0]
    assert header == ["项目名称", "项目编号"]


# --- the one map between table and export columns ----------------------------------------------
@pytest.mark.parametrize(
    ("list_name", "export_headers"),
    [
        (ListName.PROJECTS, HEADERS),
        (ListName.PROBLEMS, PROBLEM_HEADERS),
        (ListName.INSPECTIONS, INSPECTION_HEADERS),
    ],
)
def test_every_table_column_maps_to_export_columns_that_exist(list_name, export_headers):
    mapping = columns.EXPORT_HEADERS[list_name]
    assert set(mapping) == set(columns.names(list_name))
    assert all(h in export_headers for headers in mapping.values() for h in headers)
    assert LISTS[list_name][3] is not None


def test_a_reader_who_may_change_nothing_keeps_the_chosen_columns(client):
    """The chooser's hidden columns and the bulk boxes hidden from a chain office both hold."""
    office = factories.user(Role.CHAIN_OFFICE)
    factories.project(chain=office.chain)
    client.force_login(office)
    body = client.get(reverse("tracker:project_list"), {"columns": "name,code"}).content.decode()
    head = body.split("<thead", 1)[1].split("</thead>", 1)[0]
    assert "项目名称" in head and "项目编号" in head
    assert "签约日期" not in head and "县(市、区)" not in head
    assert 'class="select' not in head
