"""The 月通报 as a document (issue 9): its head (issuing body, reference number, issue date),
the 数据说明 that replaced the list of ISO weeks, the red/yellow rows linking to their
projects, and publishing in two steps (a confirmation page that says what is frozen as
which version; only its POST with confirm=yes publishes).

The PDF (page count, no near-empty page, page numbers) is in test_browser_report_pdf.py.
"""

import datetime
import io
import re

import pytest
from django.urls import reverse
from django.utils.html import escape
from openpyxl import load_workbook

from tests import factories
from tests import test_reports as tr
from tests.test_tasks import run_queued_jobs
from tracker.choices import Role
from tracker.models import MonthlyReport, Project
from tracker.reports.publishing import publish_monthly_report, reference_number
from tracker.views.reports import NOT_CONFIRMED

pytestmark = pytest.mark.django_db
june, readers, article = tr.june, tr.readers, tr.article  # the hand-made June of test_reports

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))
LIVE = reverse("tracker:monthly_report", kwargs={"month": "2022-06"})
CONFIRM = reverse("tracker:monthly_report_publish", kwargs={"month": "2022-06"})


def version_url(version):
    return reverse(
        "tracker:monthly_report_version", kwargs={"month": "2022-06", "version": version}
    )


def text(html):
    """The visible text of an HTML fragment, whitespace collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def head(response):
    match = re.search(r'<header class="report-head">.*?</header>', article(response), re.S)
    assert match, "no document head"
    return text(match.group(0))


# --- the reference number (发文字号) ---------------------------------------------------------
def test_the_reference_number_is_the_month_and_year_and_from_version_2_the_version():
    assert reference_number(year=2022, month=12, version=1) == "宜工信通〔2022〕12号"
    assert reference_number(year=2022, month=12, version=2) == "宜工信通〔2022〕12号（第2版）"
    assert reference_number(year=2023, month=1, version=1) == "宜工信通〔2023〕1号"
    assert reference_number(year=2023, month=1, version=11) == "宜工信通〔2023〕1号（第11版）"


def test_the_reference_prefix_is_a_setting(settings):
    settings.TRACKER = {**settings.TRACKER, "REPORT_REFERENCE_PREFIX": "宜工信字"}
    assert reference_number(year=2022, month=6, version=1) == "宜工信字〔2022〕6号"


# --- the head of the document ---------------------------------------------------------------
def test_a_published_version_is_headed_by_the_issuer_its_number_and_its_publication_day(
    june, client, settings
):
    settings.TRACKER = {**settings.TRACKER, "ISSUING_BODY": "宜春市工业和信息化局"}
    manager = factories.user(Role.MANAGER)
    publish_monthly_report(year=2022, month=6, by=manager)
    publish_monthly_report(year=2022, month=6, by=manager, reason="更正")
    # v1 published at 23:30 on 4 July in Shanghai (15:30 UTC); v2 at 00:30 on 6 July there
    # (16:30 UTC on the 5th): the issue date is the day in Shanghai, not in UTC.
    MonthlyReport.objects.filter(version=1).update(
        published_at=datetime.datetime(2022, 7, 4, 23, 30, tzinfo=SHANGHAI)
    )
    MonthlyReport.objects.filter(version=2).update(
        published_at=datetime.datetime(2022, 7, 6, 0, 30, tzinfo=SHANGHAI)
    )
    client.force_login(manager)
    first = head(client.get(version_url(1)))
    assert first.startswith("宜春市工业和信息化局 宜工信通〔2022〕6号 印发日期：2022年7月4日")
    assert "第1版" not in first
    second = head(client.get(version_url(2)))
    assert second.startswith(
        "宜春市工业和信息化局 宜工信通〔2022〕6号（第2版） 印发日期：2022年7月6日"
    )
    body = article(client.get(version_url(2)))
    sign = text(re.search(r'<footer class="report-sign".*?</footer>', body, re.S).group(0))
    assert sign == "宜春市工业和信息化局 2022年7月6日"


def test_a_published_version_keeps_the_issuer_and_number_it_was_issued_with(june, client, settings):
    """Renaming the bureau or its abbreviation later changes neither the page nor the file
    of a version already issued; the live report takes the new settings."""
    settings.TRACKER = {
        **settings.TRACKER,
        "ISSUING_BODY": "宜春市工业和信息化局",
        "REPORT_REFERENCE_PREFIX": "宜工信通",
    }
    manager = factories.user(Role.MANAGER)
    publish_monthly_report(year=2022, month=6, by=manager)
    settings.TRACKER = {
        **settings.TRACKER,
        "ISSUING_BODY": "宜春市工业和信息化委员会",
        "REPORT_REFERENCE_PREFIX": "宜工信委",
    }
    client.force_login(manager)
    assert head(client.get(version_url(1))).startswith("宜春市工业和信息化局 宜工信通〔2022〕6号")
    workbook = load_workbook(io.BytesIO(client.get(version_url(1), {"export": "xlsx"}).content))
    sheet = workbook.worksheets[0]
    assert "宜工信通〔2022〕6号" in sheet["A2"].value
    assert sheet["A3"].value.startswith("宜春市工业和信息化局")
    assert sheet.oddHeader.left.text == "宜春市工业和信息化局"
    assert head(client.get(LIVE)).startswith("宜春市工业和信息化委员会 未发布（草稿）")


def test_the_live_report_is_a_draft_dated_today_without_a_number(june, client, settings):
    settings.TRACKER = {**settings.TRACKER, "ISSUING_BODY": "某市工业和信息化局"}
    client.force_login(factories.user(Role.COUNTY))
    today = datetime.datetime.now(SHANGHAI).date()
    top = head(client.get(LIVE))
    assert top.startswith(
        f"某市工业和信息化局 未发布（草稿） 打印日期：{today.year}年{today.month}月{today.day}日"
    )
    assert "〔" not in top


def test_the_iso_week_list_is_replaced_by_what_the_figures_mean(june, client):
    client.force_login(factories.user(Role.MANAGER))
    body = article(client.get(LIVE))
    notes = text(re.search(r'id="report-definitions">(.*?)</section>', body, re.S).group(1))
    assert not re.search(r"20\d\d-W\d\d", body), "the ISO weeks are still listed"
    assert notes.startswith("数据说明 数据截至 2022年6月30日（本月最后一天）")
    assert "变化与截至 2022-05-31 的上月通报相比" in notes
    assert "数据来源：" in notes and "指标口径" in notes


# --- the red/yellow list links to the projects ------------------------------------------------
def _links(page):
    section = re.search(r'id="report-warnings">.*?</section>', page, re.S).group(0)
    return re.findall(
        r'<a href="/projects/(\d+)/" class="project-link"><strong>([^<]+)</strong>', section
    )


@pytest.mark.parametrize("route", ["live", "published"])
@pytest.mark.parametrize(
    ("who", "names"), [("manager", {"六号", "八号", "九号"}), ("chain", {"九号"})]
)
def test_each_listed_project_links_to_its_page_which_the_reader_may_open(
    readers, client, route, who, names
):
    client.force_login(readers[who])
    url = LIVE if route == "live" else version_url(1)
    links = _links(article(client.get(url)))
    expected = {(str(Project.objects.get(name=n).pk), readers["codes"][n]) for n in names}
    assert set(links) == expected
    for pk, _code in links:
        assert client.get(reverse("tracker:project_detail", kwargs={"pk": pk})).status_code == 200


def test_a_project_deleted_since_publication_is_listed_without_a_link(readers, client):
    nine = readers["nine"]
    nine.stage_changes.all().delete()
    Project.objects.filter(pk=nine.pk).delete()
    client.force_login(readers["manager"])
    page = article(client.get(version_url(1)))
    assert readers["codes"]["九号"] in page  # the frozen list keeps it
    assert {code for _pk, code in _links(page)} == {readers["codes"][n] for n in ("六号", "八号")}


# --- publishing in two steps --------------------------------------------------------------
def test_the_live_reports_button_opens_the_confirmation_page_and_publishes_nothing(june, client):
    client.force_login(factories.user(Role.MANAGER))
    page = client.get(LIVE).content.decode()
    button = re.search(r'<a class="btn" id="publish" href="([^"]+)">', page)
    assert button and button.group(1) == CONFIRM
    response = client.get(CONFIRM)
    assert response.status_code == 200
    assert not MonthlyReport.objects.exists()
    confirm = text(
        re.search(r'id="publish-confirm">(.*?)</section>', response.content.decode(), re.S).group(1)
    )
    assert confirm.startswith(
        "发布后，本期通报的数据（截至 2022年6月30日）将被冻结为第 1 版，"
        "之后对数据的修改不会改变已发布的版本。"
    )
    # What is frozen: June's year to date (signed 1 January to 30 June: 一二三四五 and 八号,
    # 1+3+2+4+1+5 亿元; 六号 was signed in 2021, 七号 in July), the two regions and two
    # chains, 六号 red and 八号 yellow.
    assert "年初至今签约项目 6 个（16.00 亿元）；2 个县（市、区）和 2 条产业链" in confirm
    assert "红灯 1 个，黄灯 1 个" in confirm
    assert "发文字号 宜工信通〔2022〕6号" in confirm
    assert "确认发布为第 1 版" in confirm


def test_a_post_without_the_confirmation_publishes_nothing(june, client):
    client.force_login(factories.user(Role.MANAGER))
    response = client.post(CONFIRM, {"version": 1})
    assert response.status_code == 200
    assert escape(str(NOT_CONFIRMED)) in response.content.decode()
    assert not MonthlyReport.objects.exists()
    response = client.post(CONFIRM, {"version": 1, "confirm": "no"})
    assert not MonthlyReport.objects.exists()


def test_the_live_report_itself_no_longer_publishes_on_post(june, client):
    client.force_login(factories.user(Role.MANAGER))
    assert client.post(LIVE, {"reason": "", "confirm": "yes", "version": 1}).status_code == 405
    assert not MonthlyReport.objects.exists()


def test_the_confirmed_post_publishes_version_1_and_opens_it(june, client):
    manager = factories.user(Role.MANAGER)
    client.force_login(manager)
    response = client.post(CONFIRM, {"version": 1, "confirm": "yes"})
    assert response.status_code == 302  # to the background job's page
    run_queued_jobs()
    response = client.get(response["Location"])  # done: it opens the published version
    assert response["Location"] == version_url(1)
    report = MonthlyReport.objects.get()
    assert (report.year, report.month, report.version, report.published_by) == (2022, 6, 1, manager)


def test_republishing_confirms_version_2_and_needs_a_reason(june, client):
    manager = factories.user(Role.MANAGER)
    publish_monthly_report(year=2022, month=6, by=manager)
    client.force_login(manager)
    page = client.get(CONFIRM).content.decode()
    confirm = text(re.search(r'id="publish-confirm">(.*?)</section>', page, re.S).group(1))
    assert "将被冻结为第 2 版" in confirm
    assert "已发布的 1 个版本保持不变" in confirm
    assert "宜工信通〔2022〕6号（第2版）" in confirm
    assert 'name="reason"' in page
    assert client.post(CONFIRM, {"version": 2, "confirm": "yes"}).status_code == 200
    assert MonthlyReport.objects.count() == 1  # no reason: nothing published
    response = client.post(CONFIRM, {"version": 2, "confirm": "yes", "reason": "补报数据"})
    run_queued_jobs()
    assert client.get(response["Location"])["Location"] == version_url(2)
    assert MonthlyReport.objects.get(version=2).reason == "补报数据"


def test_a_confirmation_overtaken_by_another_publication_publishes_nothing(june, client):
    """The page said "version 1"; meanwhile someone published version 1: the confirmed POST
    must not freeze version 2 behind the publisher's back."""
    manager = factories.user(Role.MANAGER)
    client.force_login(manager)
    assert "将被冻结为第 1 版" in client.get(CONFIRM).content.decode()
    publish_monthly_report(year=2022, month=6, by=factories.user(Role.MANAGER))
    response = client.post(CONFIRM, {"version": 1, "confirm": "yes", "reason": "重发"})
    assert response.status_code == 200
    assert MonthlyReport.objects.count() == 1
    body = response.content.decode()
    assert "下一版现为第 2 版" in body
    assert "将被冻结为第 2 版" in body  # the page now says what a new confirmation does


@pytest.mark.parametrize("role", [Role.COUNTY, Role.COMMISSIONER, Role.CHAIN_OFFICE])
def test_a_role_that_does_not_publish_gets_403_and_nothing_is_published(june, client, role):
    client.force_login(factories.user(role))
    assert client.get(CONFIRM).status_code == 403
    assert client.post(CONFIRM, {"version": 1, "confirm": "yes"}).status_code == 403
    assert not MonthlyReport.objects.exists()
    assert 'id="publish"' not in client.get(LIVE).content.decode()


def test_the_confirmation_of_a_month_that_cannot_be_reported_is_404(june, client):
    client.force_login(factories.user(Role.MANAGER))
    url = reverse("tracker:monthly_report_publish", kwargs={"month": "2099-01"})
    assert client.get(url).status_code == 404
    assert client.post(url, {"version": 1, "confirm": "yes"}).status_code == 404
    assert not MonthlyReport.objects.exists()
