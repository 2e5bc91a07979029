"""Django's stock validation messages, as a clerk reads them in Chinese on our forms, and the
county clerk's "new problem" form that can actually be submitted."""

import datetime
import re
from decimal import Decimal

import pytest
from django import forms
from django.forms import modelform_factory
from django.urls import reverse
from django.utils import translation

from tests import factories
from tests.test_dispatch import edit_form_data
from tracker.choices import Role
from tracker.models import Problem, Region

pytestmark = pytest.mark.django_db

STOCK_PHRASES = ("确保该变量", "这个字段是必填项", "选择一个有效的选项", "输入一个数字", "确认小数")


def errors_in(html):
    """The texts of every error list item on a page."""
    lists = re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', html, re.S)
    return [re.sub(r"<[^>]+>", "", item).strip() for ul in lists for item in ul.split("</li>")]


@pytest.fixture
def county():
    region = factories.region(name="袁州区")
    user = factories.user(Role.COUNTY, region=region)
    project = factories.project(
        region=region,
        park=factories.park(region=region),
        signed_on=datetime.date(2022, 3, 1),
        completed_investment=Decimal("1000"),
    )
    return user, project


def _post_edit(client, county, **changes):
    user, project = county
    client.force_login(user)
    url = reverse("tracker:project_edit", args=[project.pk])
    response = client.post(url, edit_form_data(client, project, **changes))
    assert response.status_code == 200  # refused, shown again
    html = response.content.decode()
    for phrase in STOCK_PHRASES:
        assert phrase not in html
    return errors_in(html)


def test_a_10000_character_project_note_gets_a_clear_message(client, county):
    errors = _post_edit(client, county, notes="问" * 10000)
    assert "内容最长 4000 字，现在是 10000 字。" in errors


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": ""}, "此项必须填写。"),
        ({"completed_investment": "abc"}, "请输入数字，例如 9100 或 9,100。"),
        ({"completed_investment": "1.234"}, "最多保留 2 位小数。"),
        # 14 digits with 2 decimals: at most 12 before the point.
        ({"completed_investment": "1234567890123"}, "整数部分最多 12 位。"),
        ({"planned_start_on": "2026-13-45"}, "请输入有效日期，例如 2026-12-02。"),
        ({"target_stage": "flying"}, "请从列表中选择：“flying”不是可选的一项。"),
        ({"park": "999999"}, "请从列表中选择：所选的一项不可选。"),
    ],
)
def test_the_stock_messages_read_as_chinese_on_the_project_form(client, county, changes, message):
    assert message in _post_edit(client, county, **changes)


def test_a_unique_field_says_which_value_is_taken():
    existing = factories.region(name="袁州区")
    form_class = modelform_factory(Region, fields=["code", "name"])
    with translation.override("zh-hans"):
        form = form_class({"code": "other", "name": existing.name})
        assert not form.is_valid()
        label = Region._meta.get_field("name").verbose_name
        model = Region._meta.verbose_name
        assert form.errors["name"] == [f"已有{label}相同的{model}。"]
        assert "具有" not in form.errors["name"][0]


def test_bounds_on_a_number_field_read_as_chinese():
    class Weights(forms.Form):
        weight = forms.DecimalField(min_value=0, max_value=100)

    with translation.override("zh-hans"):
        assert Weights({"weight": "101"}).errors["weight"] == ["不能大于 100。"]
        assert Weights({"weight": "-1"}).errors["weight"] == ["不能小于 0。"]


# --- the problem ledger's forms -------------------------------------------------------------------
def test_a_10000_character_problem_description_gets_a_clear_message(client, county):
    user, project = county
    client.force_login(user)
    response = client.post(
        reverse("tracker:problem_create"),
        {"project": project.pk, "title": "用地", "description": "问" * 10000},
    )
    assert response.status_code == 200
    assert "内容最长 4000 字，现在是 10000 字。" in errors_in(response.content.decode())
    assert not Problem.objects.exists()


def test_a_10000_character_step_note_gets_a_clear_message(client):
    office = factories.user(Role.CHAIN_OFFICE)
    project = factories.project(chain=office.chain)
    client.force_login(office)
    client.post(reverse("tracker:problem_create"), {"project": project.pk, "title": "用地"})
    problem = Problem.objects.get()
    response = client.post(
        reverse("tracker:problem_action", args=[problem.pk, "assign"]),
        {
            "assign-version": problem.version,
            "assign-assigned_unit": "市自然资源局",
            "assign-deadline": "2030-01-31",
            "assign-note": "问" * 10000,
        },
    )
    html = response.content.decode()
    assert "内容最长 2000 字，现在是 10000 字。" in errors_in(html)
    assert "确保该变量" not in html


def test_the_county_clerk_is_not_offered_a_chain_wide_problem(client, county):
    user, project = county
    client.force_login(user)
    html = client.get(reverse("tracker:problem_create")).content.decode()
    assert "全链问题" not in html  # neither the "(无：全链问题)" choice nor its error
    assert 'name="chain"' not in html
    assert "（请选择项目）" in html
    # Submitted without a project: a message the clerk can act on, beside the project field.
    response = client.post(reverse("tracker:problem_create"), {"project": "", "title": "用地"})
    assert "请选择问题所属的项目。" in errors_in(response.content.decode())
    # The one way offered: a problem of one of their projects.
    response = client.post(
        reverse("tracker:problem_create"), {"project": project.pk, "title": "用地指标未落实"}
    )
    assert response.status_code == 302
    problem = Problem.objects.get()
    assert (problem.project, problem.chain, problem.region) == (
        project,
        project.chain,
        project.region,
    )


def test_the_chain_office_can_submit_both_ways_it_is_offered(client):
    office = factories.user(Role.CHAIN_OFFICE)
    project = factories.project(chain=office.chain)
    client.force_login(office)
    html = client.get(reverse("tracker:problem_create")).content.decode()
    assert "（无：全链问题）" in html and 'name="chain"' in html
    response = client.post(
        reverse("tracker:problem_create"), {"project": project.pk, "title": "项目问题"}
    )
    assert response.status_code == 302
    response = client.post(
        reverse("tracker:problem_create"),
        {"project": "", "chain": office.chain_id, "title": "全链问题：用工"},
    )
    assert response.status_code == 302
    assert sorted(Problem.objects.values_list("title", "project_id")) == [
        ("全链问题：用工", None),
        ("项目问题", project.pk),
    ]


def test_a_commissioner_files_a_problem_of_an_assigned_project(client):
    commissioner = factories.user(Role.COMMISSIONER)
    project = factories.project(commissioner=commissioner)
    client.force_login(commissioner)
    html = client.get(reverse("tracker:problem_create")).content.decode()
    assert "全链问题" not in html
    response = client.post(reverse("tracker:problem_create"), {"project": project.pk, "title": "x"})
    assert response.status_code == 302
    assert Problem.objects.get().project == project
