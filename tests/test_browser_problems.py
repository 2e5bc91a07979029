"""The problem ledger in headless Chromium: county staff raise a problem, the chain office
assigns it, follows the overdue count, is refused an earlier deadline, extends it properly
and exports the filtered list."""

import datetime

import pytest
from django.utils import timezone

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
    page.wait_for_load_state()
    raised = Problem.objects.get(title="电力增容报装慢")
    assert page.url.endswith(f"/problems/{raised.pk}/")
    assert page.locator("#step-assign").count() == 0  # county staff do not assign

    page.click("button.link")  # log out
    page.wait_for_load_state()
    login(page, "lidian", factories.PASSWORD)
    page.console_errors.clear()
    page.goto(page.base_url + f"/problems/{raised.pk}/")
    page.fill("#id_assign-assigned_unit", "国网宜春供电公司")
    page.fill("#id_assign-deadline", (today + datetime.timedelta(days=10)).isoformat())
    page.click("#step-assign button[type=submit]")
    page.wait_for_load_state()
    assert "国网宜春供电公司" in page.locator("#fact-unit").inner_text()

    page.goto(page.base_url + "/problems/")
    page.click("#overdue-count")
    page.wait_for_load_state()
    assert "overdue=true" in page.url
    rows = page.locator("table.problems tbody tr")
    assert rows.count() == 1 and "用地指标未落实" in rows.first.inner_text()
    rows.first.locator("a").first.click()
    page.wait_for_load_state()

    page.fill("#id_extend-deadline", (late.deadline - datetime.timedelta(days=1)).isoformat())
    page.fill("#id_extend-note", "需省级审批")
    page.click("#step-extend button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#error-extend-deadline").count() == 1
    late.refresh_from_db()
    assert late.version == 1

    new = today + datetime.timedelta(days=30)
    page.fill("#id_extend-deadline", new.isoformat())
    page.click("#step-extend button[type=submit]")
    page.wait_for_load_state()
    assert new.isoformat() in page.locator("#fact-deadline").inner_text()
    assert "需省级审批" in page.locator("#events").inner_text()

    page.goto(page.base_url + "/problems/?status=assigned")
    with page.expect_download() as info:
        page.click("#export-csv")
    lines = open(info.value.path(), "rb").read().decode("utf-8-sig").splitlines()
    assert len(lines) == 3  # the header and the two assigned problems
    assert page.console_errors == []
