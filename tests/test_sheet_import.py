"""Weekly-sheet import (issue 11): the sheet downloaded for a week, filled in offline and
uploaded, is checked by the web sheet's own rules and filed through file_weekly_dispatch."""

import datetime
import io
from decimal import Decimal
from urllib.parse import unquote

import openpyxl
import pytest
from django.urls import reverse

from tests import factories
from tests.test_imports import _services_speak_chinese  # noqa: F401 (autouse fixture)
from tracker import dispatching, imports
from tracker.choices import ImportKind, ImportState, Role, Stage
from tracker.imports import dispatch as sheet
from tracker.models import ChangeLog, WeeklyDispatch
from tracker.spreadsheets import HEADER_ROW

pytestmark = pytest.mark.django_db


WEEK = dispatching.week_label(*dispatching.current_week())
YEAR, NUMBER = dispatching.current_week()


@pytest.fixture
def county():
    region = factories.region(name="袁州区")
    clerk = factories.user(Role.COUNTY, region=region, display_name="陈丽华")
    projects = [
        factories.project(
            code=f"YZ-{n}",
            region=region,
            signed_on=datetime.date(2022, 1, 1),
            signed_amount=Decimal(10000),
            completed_investment=Decimal(100),
        )
        for n in (1, 2)
    ]
    other = factories.project(code="ZS-1", signed_on=datetime.date(2022, 1, 1))
    return {"clerk": clerk, "projects": projects, "other": other, "region": region}


def download(client, user, week=WEEK):
    client.force_login(user)
    response = client.get(reverse("tracker:import_template", args=["dispatch"]), {"week": week})
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    return response, book


def rows_of(book):
    sheet_ = book.worksheets[0]
    header = [c.value for c in sheet_[HEADER_ROW]]
    rows = [
        dict(zip(header, row, strict=False))
        for row in sheet_.iter_rows(min_row=HEADER_ROW + 1, values_only=True)
        if row[0]
    ]
    return header, rows


def xlsx(header, rows):
    book = openpyxl.Workbook()
    book.active.append(header)
    for row in rows:
        book.active.append([row.get(h) for h in header])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(user, data, week=WEEK):
    return imports.upload(
        kind=ImportKind.DISPATCH, by=user, name="sheet.xlsx", data=data, params={"week": week}
    )


def file_on_the_web(clerk, project, figure, progress=""):
    dispatching.file_weekly_dispatch(
        iso_year=YEAR,
        iso_week=NUMBER,
        by=clerk,
        rows=[
            {
                "project": project.pk,
                "stage": "",
                "completed_investment": Decimal(figure),
                "progress": progress,
                "problems": "",
            }
        ],
    )


def cells(batch):
    return [(e["row"], e["column"]) for e in batch.plan["errors"]]


def test_the_downloaded_sheet_is_the_users_sheet_of_the_week_with_versions(client, county):
    response, book = download(client, county["clerk"])
    assert "周调度" in unquote(response["Content-Disposition"])
    header, rows = rows_of(book)
    assert header == sheet.HEADERS
    assert [r["项目编号"] for r in rows] == ["YZ-1", "YZ-2"]  # not the other region's
    assert rows[0]["累计完成投资(万元)"] == 100
    assert (rows[0]["项目版本"], rows[0]["周报版本"]) == (county["projects"][0].version, 0)


def test_filled_in_offline_and_uploaded_it_is_filed_through_the_sheets_service(client, county):
    clerk = county["clerk"]
    _, book = download(client, clerk)
    header, rows = rows_of(book)
    rows[0].update({"累计完成投资(万元)": 250, "形象进度": "主体完工", "项目阶段": "开工"})
    batch = upload(clerk, xlsx(header, rows))
    assert batch.plan["errors"] == [], batch.plan["errors"]
    # the row left as downloaded is not a report (as on the web sheet)
    assert batch.plan["counts"] == {"create": 1, "update": 0, "unchanged": 1, "error": 0}
    imports.confirm(batch=batch, by=clerk)
    report = WeeklyDispatch.objects.get(
        project=county["projects"][0], iso_year=YEAR, iso_week=NUMBER
    )
    assert (report.completed_investment, report.progress, report.stage) == (
        Decimal(250),
        "主体完工",
        Stage.STARTED,
    )
    assert WeeklyDispatch.objects.filter(iso_year=YEAR, iso_week=NUMBER).count() == 1
    notes = set(ChangeLog.objects.filter(object_id=report.pk).values_list("note", flat=True))
    assert notes == {f"Excel导入 #{batch.pk}"}
    batch.refresh_from_db()
    assert batch.state == ImportState.APPLIED


def test_the_figure_never_goes_down_silently(client, county):
    clerk = county["clerk"]
    _, book = download(client, clerk)
    header, rows = rows_of(book)
    rows[0]["累计完成投资(万元)"] = 50
    batch = upload(clerk, xlsx(header, rows))
    assert cells(batch) == [(2, "累计完成投资(万元)")]
    assert "100.00" in batch.plan["errors"][0]["message"]


def test_a_row_changed_since_the_download_is_refused(client, county):
    clerk, project = county["clerk"], county["projects"][0]
    _, book = download(client, clerk)
    header, rows = rows_of(book)
    file_on_the_web(clerk, project, 120, "网页报送")
    batch = upload(clerk, xlsx(header, rows))
    assert cells(batch) == [(2, "项目编号")]
    assert "下载" in batch.plan["errors"][0]["message"]


def test_a_row_changed_after_the_preview_refuses_the_whole_import(client, county):
    clerk, project = county["clerk"], county["projects"][0]
    header = ["项目编号", "累计完成投资(万元)"]  # the clerk's own sheet, without versions
    batch = upload(
        clerk,
        xlsx(
            header,
            [
                {"项目编号": "YZ-1", "累计完成投资(万元)": 130},
                {"项目编号": "YZ-2", "累计完成投资(万元)": 140},
            ],
        ),
    )
    assert batch.plan["errors"] == []
    file_on_the_web(clerk, project, 125)
    with pytest.raises(imports.Stale):
        imports.confirm(batch=batch, by=clerk)
    assert WeeklyDispatch.objects.get(project=project).completed_investment == 125
    assert not WeeklyDispatch.objects.filter(project=county["projects"][1]).exists()
    batch.refresh_from_db()
    assert batch.state == ImportState.FAILED and "YZ-1" in batch.message


def test_another_regions_project_and_an_unknown_code_are_refused(county):
    header = ["项目编号", "累计完成投资(万元)"]
    batch = upload(
        county["clerk"],
        xlsx(
            header,
            [
                {"项目编号": "ZS-1", "累计完成投资(万元)": 1},
                {"项目编号": "NOPE", "累计完成投资(万元)": 1},
            ],
        ),
    )
    assert cells(batch) == [(2, "项目编号"), (3, "项目编号")]


def test_a_stage_move_back_is_refused_for_county_staff(county):
    clerk, project = county["clerk"], county["projects"][0]
    project.advance_to(Stage.STARTED, on=datetime.date(2022, 3, 1), by=factories.user(Role.MANAGER))
    header = ["项目编号", "项目阶段", "累计完成投资(万元)"]
    batch = upload(
        clerk, xlsx(header, [{"项目编号": "YZ-1", "项目阶段": "签约", "累计完成投资(万元)": 100}])
    )
    assert cells(batch) == [(2, "项目阶段")]


def test_a_closed_week_is_refused_for_county_staff(county):
    old = dispatching.week_label(*dispatching.shift_week(YEAR, NUMBER, -5))
    batch = upload(
        county["clerk"],
        xlsx(["项目编号", "累计完成投资(万元)"], [{"项目编号": "YZ-1", "累计完成投资(万元)": 100}]),
        week=old,
    )
    assert cells(batch) == [(0, "周次")]


def test_the_upload_page_asks_for_a_valid_week(client, county):
    client.force_login(county["clerk"])
    body = io.BytesIO(b"x")
    body.name = "sheet.csv"
    response = client.post(
        reverse("tracker:import_upload", args=["dispatch"]), {"week": "2026-W99", "file": body}
    )
    assert response.status_code == 200 and "不是" in response.content.decode()


def test_a_row_left_as_downloaded_is_filed_only_when_it_says_so(client, county):
    clerk = county["clerk"]
    _, book = download(client, clerk)
    header, rows = rows_of(book)
    rows[1]["无变化也报送"] = "是"
    batch = upload(clerk, xlsx(header, rows))
    assert [r["action"] for r in batch.plan["rows"]] == ["unchanged", "create"]
    imports.confirm(batch=batch, by=clerk)
    filed = WeeklyDispatch.objects.filter(iso_year=YEAR, iso_week=NUMBER)
    assert list(filed.values_list("project__code", "completed_investment")) == [("YZ-2", 100)]


def test_without_version_columns_a_report_filed_on_the_web_is_not_overwritten(county):
    clerk, project = county["clerk"], county["projects"][0]
    file_on_the_web(clerk, project, 120, "网页报送")
    header = ["项目编号", "累计完成投资(万元)"]
    batch = upload(clerk, xlsx(header, [{"项目编号": "YZ-1", "累计完成投资(万元)": 150}]))
    assert cells(batch) == [(2, "项目编号")]


def test_county_staff_give_no_lowering_reason_and_huge_figures_are_refused(county):
    header = ["项目编号", "累计完成投资(万元)", "调减原因"]
    batch = upload(
        county["clerk"],
        xlsx(
            header,
            [
                {"项目编号": "YZ-1", "累计完成投资(万元)": 150, "调减原因": "市局同意"},
                {"项目编号": "YZ-2", "累计完成投资(万元)": 1e30},
            ],
        ),
    )
    assert cells(batch) == [(2, "调减原因"), (3, "累计完成投资(万元)")]
