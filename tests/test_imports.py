"""Project import (issue 11): upload → preview → confirm, through the edit form's services."""

import csv
import datetime
import io
import time
from decimal import Decimal
from io import StringIO

import openpyxl
import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.urls import reverse
from django.utils import translation

from tests import factories
from tracker import imports
from tracker.choices import ImportKind, ImportState, Role, Stage
from tracker.imports import projects as project_import
from tracker.models import ChangeLog, ImportBatch, Project, StageChange

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _services_speak_chinese():
    """Messages made outside a request are in the shipped language, whatever language an
    earlier test's request left active in this thread (the order differs under xdist)."""
    with translation.override("zh-hans"):
        yield


HEADERS = project_import.template_headers()


def csv_bytes(rows, headers=None):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers or HEADERS)
    for row in rows:
        writer.writerow(row)
    return out.getvalue().encode("utf-8-sig")


def row_of(values):
    """A CSV row of the template's headers from ``{header: value}``."""
    return ["" if values.get(h) is None else values[h] for h in HEADERS]


def _text(value):
    return "" if value is None else str(value)


def book_row(project, **overrides):
    """The row an export would hold for ``project``, with ``overrides`` by header."""
    values = {
        "项目编号": project.code,
        "项目名称": project.name,
        "企业名称": project.enterprise.name,
        "县(市、区)": project.region.name,
        "产业链": project.chain.name,
        "签约日期": project.signed_on.isoformat(),
        "签约金额(万元)": str(project.signed_amount),
        "资金来源": "内资" if project.capital_source == "domestic" else project.capital_source,
        "年度计划投资(万元)": _text(project.annual_planned_investment),
        "累计完成投资(万元)": _text(project.completed_investment),
        "项目阶段": dict(project_import.zh_labels(Stage.choices))[project.stage],
    }
    values.update(overrides)
    return row_of(values)


def upload(user, data, name="book.csv"):
    return imports.upload(kind=ImportKind.PROJECTS, by=user, name=name, data=data)


@pytest.fixture
def county():
    region, other = factories.region(name="甲县"), factories.region(name="乙县")
    chain = factories.chain(name="甲链")
    mine = factories.project(code="JX-1", name="本县项目", region=region, chain=chain)
    theirs = factories.project(code="YX-1", name="外县项目", region=other, chain=chain)
    clerk = factories.user(Role.COUNTY, region=region)
    return {
        "region": region,
        "other": other,
        "chain": chain,
        "mine": mine,
        "theirs": theirs,
        "clerk": clerk,
    }


def errors_of(batch):
    return [(e["row"], e["column"], e["message"]) for e in batch.plan["errors"]]


# --- the round trip ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def book(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        with override_settings(DEBUG=True):
            call_command("seed", "--no-demo-users", stdout=StringIO())
        yield
        transaction.set_rollback(True)


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_2022_export_imported_back_changes_nothing(client, book, fmt):
    manager = factories.user(Role.MANAGER)
    client.force_login(manager)
    response = client.get(reverse("tracker:project_list"), {"signed_year": 2022, "export": fmt})
    data = b"".join(response.streaming_content) if response.streaming else response.content
    before = (ChangeLog.objects.count(), StageChange.objects.count())
    batch = upload(manager, data, name=f"book.{fmt}")
    counts = batch.plan["counts"]
    assert batch.plan["errors"] == []
    assert counts == {"create": 0, "update": 0, "unchanged": 338, "error": 0}
    assert (ChangeLog.objects.count(), StageChange.objects.count()) == before


# --- errors ----------------------------------------------------------------------------------
def test_every_kind_of_bad_cell_is_reported_with_its_row_and_column(county):
    manager = factories.user(Role.MANAGER)
    mine = county["mine"]
    rows = [
        book_row(mine, **{"签约金额(万元)": "十万"}),  # row 2: not a number
        book_row(county["theirs"], **{"签约日期": "2022-02-30"}),  # row 3: no such day
        book_row(mine),  # row 4: the same code again
        row_of(
            {
                "项目编号": "NEW-1",
                "项目名称": "新项目",
                "企业名称": "不存在的企业",
                "县(市、区)": "丙县",
                "产业链": "甲链",
                "签约日期": "2099-01-01",
                "签约金额(万元)": "100",
                "统一社会信用代码": "12345",
            }
        ),  # row 5
        row_of({"项目编号": "", "项目名称": "无编号"}),  # row 6
    ]
    batch = upload(manager, csv_bytes(rows))
    found = errors_of(batch)
    columns = {(row, column) for row, column, _ in found}
    assert (2, "签约金额(万元)") in columns
    assert (3, "签约日期") in columns
    assert (4, "项目编号") in columns
    assert {(5, "企业名称"), (5, "县(市、区)"), (5, "统一社会信用代码")} <= columns
    assert (6, "项目编号") in columns
    assert batch.plan["counts"]["error"] == 5
    messages = dict(((r, c), m) for r, c, m in found)
    assert messages[(4, "项目编号")] == "项目编号JX-1已在本文件第2行出现。"


def test_a_new_project_dated_in_the_future_is_refused(county):
    manager = factories.user(Role.MANAGER)
    enterprise = county["mine"].enterprise
    row = row_of(
        {
            "项目编号": "NEW-2",
            "项目名称": "新项目",
            "企业名称": enterprise.name,
            "县(市、区)": "甲县",
            "产业链": "甲链",
            "签约日期": "2099-01-01",
            "签约金额(万元)": "100",
            "资金来源": "内资",
        }
    )
    batch = upload(manager, csv_bytes([row]))
    assert (2, "签约日期") in {(r, c) for r, c, _ in errors_of(batch)}


def test_a_cross_region_row_is_refused_and_the_own_row_is_previewed(county):
    clerk, mine, theirs = county["clerk"], county["mine"], county["theirs"]
    rows = [
        book_row(mine, **{"项目名称": "本县项目（改）"}),
        book_row(theirs, **{"项目名称": "外县项目（改）"}),
    ]
    batch = upload(clerk, csv_bytes(rows))
    assert errors_of(batch) == [(3, "项目编号", "您无权修改项目YX-1：它不在您的权限范围内。")]
    assert batch.plan["counts"] == {"create": 0, "update": 1, "unchanged": 0, "error": 1}
    assert batch.plan["rows"][0]["changes"] == [["项目名称", "本县项目", "本县项目（改）"]]


def test_a_manager_only_column_changed_by_county_staff_is_refused(county):
    clerk, mine = county["clerk"], county["mine"]
    batch = upload(clerk, csv_bytes([book_row(mine, **{"签约金额(万元)": "99999"})]))
    assert [(r, c) for r, c, _ in errors_of(batch)] == [(2, "签约金额(万元)")]


def test_a_stage_change_the_rules_do_not_allow_is_refused(county):
    clerk, mine = county["clerk"], county["mine"]
    mine.stage = Stage.STARTED
    mine.save(update_fields=["stage"])
    batch = upload(clerk, csv_bytes([book_row(mine, **{"项目阶段": "签约"})]))
    assert [(r, c) for r, c, _ in errors_of(batch)] == [(2, "项目阶段")]


def test_the_cumulative_investment_does_not_go_down_silently(county):
    clerk, mine = county["clerk"], county["mine"]
    Project.objects.filter(pk=mine.pk).update(completed_investment=Decimal("500"))
    mine.refresh_from_db()
    batch = upload(clerk, csv_bytes([book_row(mine, **{"累计完成投资(万元)": "400"})]))
    assert [(r, c) for r, c, _ in errors_of(batch)] == [(2, "累计完成投资(万元)")]


def test_a_file_with_1000_errors_reports_all_of_them(county):
    manager = factories.user(Role.MANAGER)
    rows = [
        book_row(
            county["mine"],
            **{"项目编号": f"BAD-{n}", "签约金额(万元)": "abc", "县(市、区)": "无此县"},
        )
        for n in range(500)
    ]
    started = time.perf_counter()
    batch = upload(manager, csv_bytes(rows))
    elapsed = time.perf_counter() - started
    assert len(batch.plan["errors"]) == 1000
    assert batch.plan["counts"]["error"] == 500
    print(f"1,000 errors in {elapsed:.2f} s")


# --- files that are not tables -------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "name", "words"),
    [
        (b"", "a.xlsx", "为空"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "photo.png", "既不是"),
        (b"PK\x03\x04broken zip", "book.xlsx", "损坏"),
        (b"\xd0\xcf\x11\xe0old xls", "book.xls", ".xlsx"),
        ("名称,金额\n甲,1\n".encode(), "book.csv", "项目编号"),
        ('项目编号,项目名称\n"A,1\n'.encode(), "book.csv", "格式"),
    ],
)
def test_a_file_that_is_not_a_table_gets_a_clear_message(county, data, name, words):
    manager = factories.user(Role.MANAGER)
    with pytest.raises(imports.FileError) as raised:
        upload(manager, data, name=name)
    assert words in str(raised.value.message)
    assert not ImportBatch.objects.exists()


def test_formulas_instead_of_values_are_refused(county):
    manager = factories.user(Role.MANAGER)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADERS)
    sheet.append(["JX-1", "本县项目", None, None, None, None, "=1+1"])
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(imports.FileError) as raised:
        upload(manager, out.getvalue(), name="f.xlsx")
    assert "G2" in str(raised.value.message) and "公式" in str(raised.value.message)


@override_settings(
    TRACKER={**__import__("django.conf").conf.settings.TRACKER, "IMPORT_MAX_BYTES": 100}
)
def test_a_file_too_large_is_refused_on_the_page(client, county):
    client.force_login(county["clerk"])
    body = io.BytesIO(b"x" * 200)
    body.name = "big.csv"
    response = client.post(reverse("tracker:import_upload", args=["projects"]), {"file": body})
    assert response.status_code == 200
    assert "文件过大" in response.content.decode()
    assert not ImportBatch.objects.exists()


# --- applying -------------------------------------------------------------------------------
def test_confirm_applies_through_the_service_with_history_marked_as_the_import(county):
    clerk, mine = county["clerk"], county["mine"]
    batch = upload(
        clerk, csv_bytes([book_row(mine, **{"项目名称": "改名", "累计完成投资(万元)": "12.5"})])
    )
    assert batch.plan["counts"]["update"] == 1
    imports.confirm(batch=batch, by=clerk)
    mine.refresh_from_db()
    assert (mine.name, mine.completed_investment) == ("改名", Decimal("12.5"))
    notes = set(
        ChangeLog.objects.filter(
            object_id=mine.pk, field__in=["name", "completed_investment"]
        ).values_list("note", flat=True)
    )
    assert notes == {f"Excel导入 #{batch.pk}"}
    batch.refresh_from_db()
    assert batch.state == ImportState.APPLIED


def test_a_new_project_is_created_and_moved_to_its_stage(county):
    manager = factories.user(Role.MANAGER)
    enterprise = county["mine"].enterprise
    row = row_of(
        {
            "项目编号": "NEW-3",
            "项目名称": "新项目",
            "企业名称": enterprise.name,
            "统一社会信用代码": enterprise.credit_code,
            "县(市、区)": "甲县",
            "产业链": "甲链",
            "签约日期": "2022-03-01",
            "签约金额(万元)": "12,000",
            "资金来源": "内资",
            "项目阶段": "开工",
            "阶段生效日期": "2022-05-01",
        }
    )
    batch = upload(manager, csv_bytes([row]))
    assert batch.plan["errors"] == [], batch.plan["errors"]
    imports.confirm(batch=batch, by=manager)
    project = Project.objects.get(code="NEW-3")
    assert (project.stage, project.actual_start_on, project.signed_amount) == (
        Stage.STARTED,
        datetime.date(2022, 5, 1),
        Decimal("12000"),
    )
    assert list(project.stage_changes.values_list("to_stage", flat=True).order_by("id")) == [
        Stage.SIGNED,
        Stage.STARTED,
    ]


def test_a_preview_whose_rows_changed_meanwhile_is_refused_and_names_them(county):
    clerk, mine = county["clerk"], county["mine"]
    batch = upload(clerk, csv_bytes([book_row(mine, **{"项目名称": "导入的名称"})]))
    Project.objects.filter(pk=mine.pk).update(name="别人改的", version=mine.version + 1)
    with pytest.raises(imports.Stale):
        imports.confirm(batch=batch, by=clerk)
    mine.refresh_from_db()
    assert mine.name == "别人改的"
    batch.refresh_from_db()
    assert batch.state == ImportState.FAILED and "JX-1" in batch.message


def test_all_or_nothing_a_row_refused_while_applying_leaves_every_row_as_it_was(county):
    manager = factories.user(Role.MANAGER)
    mine, theirs = county["mine"], county["theirs"]
    batch = upload(
        manager,
        csv_bytes([book_row(mine, **{"项目名称": "一"}), book_row(theirs, **{"项目名称": "二"})]),
    )
    Project.objects.filter(pk=theirs.pk).update(version=theirs.version + 5)
    with pytest.raises(imports.Stale):
        imports.confirm(batch=batch, by=manager)
    names = Project.objects.filter(pk__in=[mine.pk, theirs.pk]).values_list("name", flat=True)
    assert set(names) == {"本县项目", "外县项目"}


def test_the_preview_survives_a_reload_and_is_its_uploaders_alone(client, county):
    clerk = county["clerk"]
    client.force_login(clerk)
    body = io.BytesIO(csv_bytes([book_row(county["mine"], **{"项目名称": "新名称"})]))
    body.name = "book.csv"
    response = client.post(reverse("tracker:import_upload", args=["projects"]), {"file": body})
    batch = ImportBatch.objects.get()
    assert response.url == reverse("tracker:import_detail", args=[batch.pk])
    for _ in range(2):
        page = client.get(response.url).content.decode()
        assert "新名称" in page and "本县项目" in page and 'id="import-confirm"' in page
    other = factories.user(Role.COUNTY, region=county["region"])
    client.force_login(other)
    assert client.get(response.url).status_code == 404
    assert client.post(reverse("tracker:import_confirm", args=[batch.pk])).status_code == 404
    assert Project.objects.get(pk=county["mine"].pk).name == "本县项目"


def test_a_chain_office_may_not_import(client):
    client.force_login(factories.user(Role.CHAIN_OFFICE))
    assert client.get(reverse("tracker:import_upload", args=["projects"])).status_code == 403
    assert client.get(reverse("tracker:import_template", args=["projects"])).status_code == 403


def test_the_template_has_an_example_row_and_describes_every_column(client, county):
    client.force_login(county["clerk"])
    response = client.get(reverse("tracker:import_template", args=["projects"]))
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    first, described = book.worksheets
    header = [c.value for c in first[4]]
    assert header == HEADERS
    assert first.cell(5, 1).value == "YC-2026-001" and first.cell(6, 1).value is None
    names = {row[0] for row in described.iter_rows(min_row=5, values_only=True) if row[0]}
    assert set(HEADERS) <= names
    # the template itself reads back: its example row names no enterprise in the system
    batch = upload(factories.user(Role.MANAGER), response.content, name="t.xlsx")
    assert {c for _, c, _ in errors_of(batch)} <= {"企业名称", "县(市、区)", "产业链"}, errors_of(
        batch
    )


@pytest.mark.parametrize("page", [False, True])
def test_preview_and_its_page_cost_the_same_queries_for_5_and_50_rows(client, page):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    region = factories.region(name="丙县")
    chain = factories.chain(name="丙链")
    manager = factories.user(Role.MANAGER)
    client.force_login(manager)
    counts = []
    for size in (5, 50):
        projects = [factories.project(region=region, chain=chain) for _ in range(size)]
        data = csv_bytes([book_row(p) for p in projects])
        with CaptureQueriesContext(connection) as queries:
            batch = upload(manager, data)
            if page:
                client.get(reverse("tracker:import_detail", args=[batch.pk]))
        assert batch.plan["counts"]["unchanged"] == size
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_an_actual_start_date_needs_the_stage_in_the_same_row(county):
    clerk, mine = county["clerk"], county["mine"]
    batch = upload(clerk, csv_bytes([book_row(mine, **{"实际开工日期": "2022-05-01"})]))
    assert [(r, c) for r, c, _ in errors_of(batch)] == [(2, "实际开工日期")]
    started = upload(
        clerk,
        csv_bytes(
            [
                book_row(
                    mine,
                    **{
                        "实际开工日期": "2022-05-01",
                        "项目阶段": "开工",
                        "阶段生效日期": "2022-05-01",
                    },
                )
            ]
        ),
    )
    assert started.plan["errors"] == []


def test_odd_files_are_read_or_refused_with_a_message(county):
    manager = factories.user(Role.MANAGER)
    twice = "项目编号,挂钩领导,挂钩领导\nJX-1,张三,李四\n".encode()
    with pytest.raises(imports.FileError) as raised:
        upload(manager, twice)
    assert "挂钩领导" in str(raised.value.message)
    semicolons = "\ufeff项目编号;项目名称\nJX-1;本县项目（分号）\n".encode()
    assert upload(manager, semicolons).plan["rows"][0]["changes"][0][2] == "本县项目（分号）"
    book = openpyxl.Workbook()
    book.active.title = "说明"
    book.active.append(["请在第二个工作表填写"])
    second = book.create_sheet("数据")
    second.append(["项目编号", "项目名称"])
    second.append(["JX-1", "本县项目（第二表）"])
    out = io.BytesIO()
    book.save(out)
    batch = upload(manager, out.getvalue(), name="two.xlsx")
    assert batch.plan["rows"][0]["changes"][0][2] == "本县项目（第二表）"


def test_huge_or_over_precise_amounts_and_a_county_reason_are_cell_errors(county):
    clerk, mine = county["clerk"], county["mine"]
    rows = [
        book_row(mine, **{"累计完成投资(万元)": "1" * 40, "调减原因": "市局同意"}),
        book_row(county["theirs"], **{"累计完成投资(万元)": "1.005"}),
    ]
    batch = upload(factories.user(Role.MANAGER), csv_bytes(rows[1:]))
    assert [(r, c) for r, c, _ in errors_of(batch)] == [(2, "累计完成投资(万元)")]
    batch = upload(clerk, csv_bytes(rows[:1]))
    assert {(r, c) for r, c, _ in errors_of(batch)} == {(2, "累计完成投资(万元)"), (2, "调减原因")}


def test_an_unexpected_error_while_applying_leaves_nothing_and_says_so(county, monkeypatch):
    clerk, mine = county["clerk"], county["mine"]
    batch = upload(clerk, csv_bytes([book_row(mine, **{"项目名称": "改名"})]))

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(project_import.services, "update_project", broken)
    with pytest.raises(ValidationError):
        imports.confirm(batch=batch, by=clerk)
    batch.refresh_from_db()
    assert batch.state == ImportState.FAILED and "未导入任何内容" in batch.message
    assert Project.objects.get(pk=mine.pk).name == "本县项目"


def test_a_view_id_that_is_a_digit_but_not_a_number_is_a_message(client, county):
    client.force_login(county["clerk"])
    for name in ("project_list", "problem_list", "inspection_list"):
        response = client.get(reverse(f"tracker:{name}"), {"view": "²"}, follow=True)
        assert response.status_code == 200


def test_a_project_moved_by_an_import_takes_its_problems_with_the_origin_noted(county):
    from tracker.models import Problem

    manager = factories.user(Role.MANAGER)
    mine = county["mine"]
    problem = Problem.objects.create(
        title="用地问题",
        project=mine,
        chain=mine.chain,
        region=mine.region,
        raised_on=datetime.date(2022, 5, 1),
        raised_by=manager,
    )
    batch = upload(manager, csv_bytes([book_row(mine, **{"县(市、区)": "乙县"})]))
    assert batch.plan["errors"] == [], batch.plan["errors"]
    imports.confirm(batch=batch, by=manager)
    problem.refresh_from_db()
    assert problem.region == county["other"]
    ctype = ContentType.objects.get_for_model(Problem)
    rows = ChangeLog.objects.filter(content_type=ctype, object_id=problem.pk, field="region")
    notes = set(rows.values_list("note", flat=True))
    assert notes == {f"Excel导入 #{batch.pk}"}


def test_a_commissioner_deactivated_after_the_preview_is_refused_on_confirm(county):
    manager = factories.user(Role.MANAGER)
    person = factories.user(Role.COMMISSIONER, display_name="李特派")
    mine = county["mine"]
    batch = upload(manager, csv_bytes([book_row(mine, **{"企业特派员": "李特派"})]))
    assert batch.plan["errors"] == [] and batch.plan["counts"]["update"] == 1
    person.is_active = False
    person.save(update_fields=["is_active"])
    with pytest.raises(ValidationError):
        imports.confirm(batch=batch, by=manager)
    assert Project.objects.get(pk=mine.pk).commissioner_id is None


def test_a_merged_cell_counts_for_every_row_it_spans(county):
    manager = factories.user(Role.MANAGER)
    second = factories.project(
        code="JX-2", name="本县二号项目", region=county["region"], chain=county["chain"]
    )
    header = ["项目编号", "项目名称", "县(市、区)"]
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    sheet.append(["JX-1", "本县项目", "甲县"])
    sheet.append(["JX-2", second.name, None])
    sheet.merge_cells("C2:C3")  # the region written once beside both projects
    out = io.BytesIO()
    book.save(out)
    batch = upload(manager, out.getvalue(), name="merged.xlsx")
    assert batch.plan["errors"] == []
    assert batch.plan["counts"]["unchanged"] == 2
