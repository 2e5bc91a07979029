"""The menu offers what the role may open, the 403 page leads somewhere else, and the 404
page is the Chinese one with DEBUG on too."""

import re

import pytest
from django.test import override_settings
from django.urls import reverse

from tests import factories
from tracker.choices import Role

pytestmark = pytest.mark.django_db

ROLES = [Role.MANAGER, Role.COUNTY, Role.COMMISSIONER, Role.CHAIN_OFFICE]


def nav_links(html):
    nav = re.search(r'<nav class="mainnav"[^>]*>(.*?)</nav>', html, re.S)
    assert nav, "the page has a main navigation"
    return re.findall(r'<a [^>]*href="([^"#?]+)"', nav[1])


@pytest.fixture
def book():
    project = factories.project()
    return project


def _user(role, project):
    if role == Role.COUNTY:
        return factories.user(role, region=project.region)
    if role == Role.CHAIN_OFFICE:
        return factories.user(role, chain=project.chain)
    if role == Role.COMMISSIONER:
        user = factories.user(role)
        project.commissioner = user
        project.save(update_fields=["commissioner"])
        return user
    return factories.user(role)


@pytest.mark.parametrize("role", ROLES)
def test_every_menu_link_offered_answers_200_for_that_role(client, book, role):
    client.force_login(_user(role, book))
    links = nav_links(client.get(reverse("tracker:home")).content.decode())
    assert reverse("tracker:project_list") in links
    for url in links:
        response = client.get(url, follow=True)  # /assessments/ opens the latest year
        assert response.status_code == 200, (role, url, response.redirect_chain)


def test_the_chain_office_is_not_offered_the_weekly_dispatch(client, book):
    client.force_login(_user(Role.CHAIN_OFFICE, book))
    links = nav_links(client.get(reverse("tracker:home")).content.decode())
    assert reverse("tracker:dispatch") not in links
    # … which it could not open anyway:
    assert client.get(reverse("tracker:dispatch")).status_code == 403


@pytest.mark.parametrize("role", [Role.MANAGER, Role.COUNTY, Role.COMMISSIONER])
def test_the_roles_that_file_are_offered_the_weekly_dispatch(client, book, role):
    client.force_login(_user(role, book))
    links = nav_links(client.get(reverse("tracker:home")).content.decode())
    assert reverse("tracker:dispatch") in links


def test_the_403_page_leads_away_from_the_forbidden_page(client, book):
    client.force_login(_user(Role.CHAIN_OFFICE, book))
    url = reverse("tracker:dispatch")
    response = client.get(url)
    assert response.status_code == 403
    main = response.content.decode().split("<main")[1].split("</main>")[0]
    links = re.findall(r'<a [^>]*href="([^"]+)"', main)
    assert links, "the page offers a way on"
    assert url not in links
    assert reverse("tracker:home") in links


def test_the_403_template_links_home_not_back(client, book):
    """The shared error layout: the way home, never the referrer (which may be the page)."""
    client.force_login(_user(Role.CHAIN_OFFICE, book))
    response = client.post(reverse("tracker:inspection_create"), HTTP_REFERER="/x/")
    assert response.status_code == 403
    body = response.content.decode()
    assert 'id="error-403"' in body
    assert f'href="{reverse("tracker:home")}"' in body and 'href="/x/"' not in body


@override_settings(DEBUG=True)
def test_an_unknown_address_is_the_chinese_404_with_debug_on(client, book):
    client.force_login(_user(Role.COUNTY, book))
    response = client.get("/no-such-page/")
    body = response.content.decode()
    assert response.status_code == 404
    assert 'id="error-404"' in body and "页面不存在" in body
    assert "Using the URLconf" not in body and "DEBUG = True" not in body


@override_settings(DEBUG=True)
def test_a_row_out_of_scope_is_the_chinese_404_with_debug_on(client, book):
    client.force_login(factories.user(Role.COMMISSIONER))  # not assigned to ``book``
    response = client.get(reverse("tracker:project_detail", args=[book.pk]))
    body = response.content.decode()
    assert response.status_code == 404
    assert 'id="error-404"' in body and "DEBUG = True" not in body


@override_settings(DEBUG=True)
def test_a_page_with_its_own_404_message_keeps_it_with_debug_on(client, book):
    client.force_login(_user(Role.COUNTY, book))
    response = client.get(reverse("tracker:dispatch_week", args=["2022-W60"]))
    assert response.status_code == 404
    assert "2022-W60" in response.content.decode()  # the sheet's own "not a week" message
    assert 'id="error-404"' not in response.content.decode()


@override_settings(DEBUG=True)
def test_static_addresses_keep_djangos_answer_with_debug_on(client):
    response = client.get("/static/no-such-file.css")
    assert response.status_code == 404
    assert 'id="error-404"' not in response.content.decode()
