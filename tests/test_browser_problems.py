"""The problem ledger in headless Chromium: county staff raise a problem, the chain office
assigns it, follows the overdue count, is refused an earlier deadline, extends it properly
and exports the filtered list."""

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests import factories
from tests.conftest import login
from tracker.choices import ProblemStatus, Role
from tracker.models import Problem

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_raise_assign_follow_overdue_extend_and_export(browser_page):
    page = browser_page
    today = timezone.localdate()
    region = factories.region(name="袁州区")
    chain = factories.chain(name="锂电新能源")
    project = factories.project(region=region, chain=chain, name="锂电池隔膜项目")
    factories.user(Role.COUNTY, region=region, username="yuanzhou")
    office = factories.user(Role.CHAIN_OFFICE, chain=chain, username="lidian")
    late = Problem.objects.create(
        project=project,
        chain=chain,
        region=region,
        title="用地指标未落实",
        status=ProblemStatus.ASSIGNED,
        assigned_unit="袁州区自然资源分局",
        raised_on=today - datetime.timedelta(days=20),
        deadline=today - datetime.timedelta(days=3),
        raised_by=office,
    )

    login(page, "yuanzhou", factories.PASSWORD)
    page.goto(page.base_url + "/problems/new/")
    page.select_option("select[name=project]", str(project.pk))
    page.fill("input[name=title]", "电力增容报装慢")
    page.click("#save")
    page.wait_for_url(re.compile(r"/problems/\d+/$"))
    raised = Problem.objects.get(title="电力增容报装慢")
    assert page.url.endswith(f"/problems/{raised.pk}/")
    expect(page.locator("#step-assign")).to_have_count(0)  # county staff do not assign

    page.click("button.link")  # log out
    page.wait_for_url("**/accounts/login/")
    login(page, "lidian", factories.PASSWORD)
    page.console_errors.clear()
    page.goto(page.base_url + f"/problems/{raised.pk}/")
    page.fill("#id_assign-assigned_unit", "国网宜春供电公司")
    page.fill("#id_assign-deadline", (today + datetime.timedelta(days=10)).isoformat())
    page.click("#step-assign button[type=submit]")
    expect(page.locator("#fact-unit")).to_contain_text("国网宜春供电公司")

    page.goto(page.base_url + "/problems/")
    page.click("#overdue-count")
    page.wait_for_url(re.compile(r"overdue=true"))
    rows = page.locator("table.problems tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("用地指标未落实")
    rows.first.locator("a").first.click()
    page.wait_for_url(f"**/problems/{late.pk}/")

    page.fill("#id_extend-deadline", (late.deadline - datetime.timedelta(days=1)).isoformat())
    page.fill("#id_extend-note", "需省级审批")
    page.click("#step-extend button[type=submit]")
    expect(page.locator("#error-extend-deadline")).to_have_count(1)
    late.refresh_from_db()
    assert late.version == 1

    new = today + datetime.timedelta(days=30)
    page.fill("#id_extend-deadline", new.isoformat())
    page.click("#step-extend button[type=submit]")
    expect(page.locator("#fact-deadline")).to_contain_text(new.isoformat())
    expect(page.locator("#events")).to_contain_text("需省级审批")

    page.goto(page.base_url + "/problems/?status=assigned")
    with page.expect_download() as info:
        page.click("#export-csv")
    lines = open(info.value.path(), "rb").read().decode("utf-8-sig").splitlines()
    assert len(lines) == 3  # the header and the two assigned problems
    assert page.console_errors == []
