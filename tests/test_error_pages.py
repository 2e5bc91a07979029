"""Error pages are Chinese, say what happened in words a clerk reads, and lead somewhere
that works (the home page, which every role may open), never back to the same error."""

import pytest
from django.core.exceptions import SuspiciousOperation
from django.test import Client, RequestFactory
from django.urls import reverse
from django.views import defaults

from tests import factories
from tracker.choices import Role
from tracker.models import Inspection

pytestmark = pytest.mark.django_db


@pytest.fixture
def county(client):
    user = factories.user(Role.COUNTY)
    client.force_login(user)
    return client


def test_a_missing_page_is_a_chinese_404_with_the_way_home(county):
    response = county.get("/no-such-page/")
    body = response.content.decode()
    assert response.status_code == 404
    assert 'id="error-404"' in body and "页面不存在" in body
    assert f'href="{reverse("tracker:home")}">返回首页' in body
    assert "Page not found" not in body and "Not Found" not in body


def test_a_row_out_of_scope_is_the_same_404(client):
    client.force_login(factories.user(Role.COMMISSIONER))
    other = factories.project()  # not assigned to this commissioner
    response = client.get(reverse("tracker:project_detail", args=[other.pk]))
    assert response.status_code == 404
    assert "页面不存在" in response.content.decode()


def test_a_forbidden_action_is_a_chinese_403_with_the_way_home(county):
    """A county clerk may see the inspection of their region but not add items to it."""
    project = factories.project()
    inspection = Inspection.objects.create(
        year=2022,
        quarter=2,
        region=project.region,
        inspected_on="2022-05-10",
        leader="市工信局局长",
        title="督查",
    )
    user = factories.user(Role.COUNTY, region=project.region)
    county.force_login(user)
    response = county.post(
        reverse("tracker:inspection_item_add", args=[inspection.pk]),
        {"description": "x", "owner_unit": "y", "deadline": "2022-06-30"},
    )
    body = response.content.decode()
    assert response.status_code == 403
    assert 'id="error-403"' in body and "无权操作" in body and "返回首页" in body
    assert "403 Forbidden" not in body
    home = county.get(reverse("tracker:home"))
    assert home.status_code == 200  # the way back is not another 403


def test_a_stale_form_is_a_chinese_csrf_page():
    client = Client(enforce_csrf_checks=True)
    client.force_login(factories.user(Role.MANAGER))
    response = client.post(reverse("tracker:project_list"), {})
    body = response.content.decode()
    assert response.status_code == 403
    assert 'id="error-csrf"' in body and "表单已失效" in body and "未保存" in body
    assert "CSRF verification failed" not in body


def test_the_500_page_renders_without_a_request_context_or_database(django_assert_num_queries):
    request = RequestFactory().get("/")
    with django_assert_num_queries(0):
        response = defaults.server_error(request)
    body = response.content.decode()
    assert response.status_code == 500
    assert 'id="error-500"' in body and "系统出错" in body and 'href="/"' in body
    assert "Server Error (500)" not in body


def test_a_bad_request_is_a_chinese_400(rf):
    response = defaults.bad_request(rf.get("/"), SuspiciousOperation("x"))
    assert response.status_code == 400
    assert 'id="error-400"' in response.content.decode()
