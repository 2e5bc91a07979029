"""A month or a week has one spelling in a URL: anything else is a 404, not the same page."""

import datetime

import pytest
from django.urls import reverse

from tests import factories
from tracker.choices import Role
from tracker.dispatching import WeekError, parse_week

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client):
    factories.project(signed_on=datetime.date(2022, 3, 1))
    client.force_login(factories.user(Role.MANAGER))
    return client


@pytest.mark.parametrize(
    "month, status",
    [
        ("2022-12", 200),
        ("2022-12%0A", 404),  # "$" used to accept a trailing newline
        ("2022-12%0D", 404),
        ("%202022-12", 404),
        ("2022-12%20", 404),
        ("２０２２-１２", 404),  # full-width digits are \d too
        ("2022-1", 404),
    ],
)
def test_a_monthly_report_url_has_one_spelling(manager_client, month, status):
    response = manager_client.get(f"/reports/monthly/{month}/")
    assert response.status_code == status
    if status == 404:
        assert "不是有效月份" in response.content.decode()


def test_a_published_version_url_has_one_spelling_too(manager_client):
    assert manager_client.get("/reports/monthly/2022-12%0A/v1/").status_code == 404


@pytest.mark.parametrize(
    "text", ["2023-W07\n", " 2023-W07", "2023-W07 ", "２０２３-W０７", "2023-W7", "2023-w07"]
)
def test_a_week_has_one_spelling(text):
    with pytest.raises(WeekError):
        parse_week(text)


def test_the_canonical_week_parses():
    assert parse_week("2023-W07") == (2023, 7)


def test_a_week_url_with_a_trailing_newline_is_a_404(client):
    client.force_login(factories.user(Role.COUNTY))
    assert (
        client.get(reverse("tracker:dispatch_week", kwargs={"week": "2023-W07"})).status_code == 200
    )
    response = client.get("/dispatch/2023-W07%0A/")
    assert response.status_code == 404
    assert "不是有效的周次" in response.content.decode()
