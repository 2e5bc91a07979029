"""The browser lock-down: every kind of response carries the Content-Security-Policy and the
other security headers, and no template can bring back what the policy would refuse (inline
handlers, inline scripts and styles, javascript: URLs). tests/test_browser_csp.py walks the
pages in Chromium with the policy enforced."""

import re
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls import include, path

from tests import factories
from tracker.choices import Role

pytestmark = pytest.mark.django_db

# What the policy must say, written out here rather than read from tracker/middleware.py.
REQUIRED = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
OTHER_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def boom(request):
    raise RuntimeError("a view that fails")


# This module doubles as a URLconf: the site plus one view that fails, for the 500 page.
urlpatterns = [path("boom/", boom), path("", include("yichun.urls"))]


def directives(policy):
    parsed = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        assert name not in parsed, f"{name} given twice"
        parsed[name] = sources
    return parsed


def assert_locked_down(response, *, page=True):
    policy = directives(response["Content-Security-Policy"])
    for name, sources in REQUIRED.items():
        assert policy[name] == sources, (name, policy.get(name))
    assert set(policy["img-src"]) <= {"'self'", "data:"}
    for sources in policy.values():
        assert not {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*"} & set(sources)
    for name, value in OTHER_HEADERS.items():
        if page or name != "X-Frame-Options":  # a file is never framed as a page
            assert response[name] == value, name
    assert "camera=()" in response["Permissions-Policy"]


@pytest.fixture
def manager():
    return factories.user(Role.MANAGER, username="csp-boss", is_staff=True, is_superuser=True)


def test_pages_the_login_page_and_the_admin_carry_the_policy(client, manager):
    assert_locked_down(client.get("/accounts/login/"))
    assert_locked_down(client.get("/admin/login/"))
    assert_locked_down(client.get("/projects/"))  # the redirect to the login page
    client.force_login(manager)
    for url in ("/", "/projects/", "/dashboard/", "/problems/", "/admin/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_locked_down(response)


def test_exports_carry_the_policy(client, manager):
    factories.project()
    client.force_login(manager)
    for kind, content_type in (("csv", "text/csv"), ("xlsx", "application/vnd.openxmlformats")):
        response = client.get("/projects/", {"export": kind})
        assert response["Content-Type"].startswith(content_type)
        assert_locked_down(response)


def test_error_pages_carry_the_policy(client, manager):
    client.force_login(factories.user(Role.CHAIN_OFFICE))
    forbidden = client.get("/dispatch/")
    assert forbidden.status_code == 403
    assert_locked_down(forbidden)
    client.force_login(manager)
    missing = client.get("/projects/0/")
    assert missing.status_code == 404
    assert_locked_down(missing)

    strict = Client(enforce_csrf_checks=True)
    refused = strict.post("/accounts/login/", {"username": "x", "password": "y"})
    assert refused.status_code == 403  # no CSRF token
    assert_locked_down(refused)
    # our page in the site's layout, not Django's, whose <style> block the policy refuses
    assert "表单已失效" in refused.content.decode()
    assert "<style" not in refused.content.decode()


@pytest.mark.urls(__name__)
def test_the_server_error_page_carries_the_policy(manager):
    client = Client(raise_request_exception=False)
    client.force_login(manager)
    response = client.get("/boom/")
    assert response.status_code == 500
    assert_locked_down(response)


@override_settings(WHITENOISE_USE_FINDERS=True)  # WhiteNoise serves static/ without collectstatic
def test_static_files_carry_the_policy():
    response = Client().get("/static/css/app.css")
    assert response.status_code == 200
    assert_locked_down(response, page=False)
    response.close()


# --- the templates ----------------------------------------------------------------------------
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href"}


class InlineCode(HTMLParser):
    """Collects, from a template's source, what a ``script-src``/``style-src 'self'`` policy
    refuses: on…= handlers, ``<script>`` without src (a ``json_script`` block, type
    application/json, is data and is allowed), ``<style>`` elements, style= attributes and
    javascript: URLs."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        where = f"line {self.getpos()[0]} <{tag}>"
        for name, value in attrs:
            if re.fullmatch(r"on[a-z]+", name):
                self.found.append(f"{where}: inline handler {name}=")
            elif name == "style":
                self.found.append(f"{where}: style= attribute")
            elif name in URL_ATTRIBUTES and re.match(r"\s*javascript:", value or "", re.I):
                self.found.append(f"{where}: javascript: URL in {name}=")
        if tag == "script" and "src" not in attributes:
            if (attributes.get("type") or "").lower() != "application/json":
                self.found.append(f"{where}: inline script")
        if tag == "style":
            self.found.append(f"{where}: <style> element")


TEMPLATE_COMMENT = re.compile(r"\{#.*?#\}|\{% comment %\}.*?\{% endcomment %\}", re.S)


def inline_code(source):
    source = TEMPLATE_COMMENT.sub("", source)  # what a comment names is not markup
    parser = InlineCode()
    parser.feed(source)
    parser.close()
    found = parser.found
    # Belt and braces for markup the parser reads differently inside template tags.
    found += [f"javascript: at {m.start()}" for m in re.finditer(r"javascript:", source, re.I)]
    return found


def our_templates():
    for directory in settings.TEMPLATES[0]["DIRS"]:
        yield from sorted(directory.rglob("*.html"))


def test_the_scanner_finds_every_kind_of_inline_code():
    source = """{% load static %}
    <select name="x" onchange="this.form.submit()"><option>1</option></select>
    <button type="button" onClick="window.print()">{% translate "Print" %}</button>
    <script>alert(1)</script>
    <script type="module">import "/x.js";</script>
    <style>p { color: red }</style>
    <div class="card" style="max-width:420px">x</div>
    <a href=" JavaScript:void(0)">x</a>
    <script src="{% static 'js/app.js' %}" defer></script>
    {{ data|json_script:"dashboard-data" }}
    <script id="x" type="application/json">{"a": 1}</script>
    <tr data-month="2022-12" data-onchange="x"><td title="style=1">ok</td></tr>
    {# a comment may name <style> or onclick= #}
    {% comment %}<script>x()</script>{% endcomment %}
    """
    found = inline_code(source)
    assert len([f for f in found if "inline handler" in f]) == 2
    assert len([f for f in found if "inline script" in f]) == 2
    assert len([f for f in found if "<style>" in f]) == 1
    assert len([f for f in found if "style= attribute" in f]) == 1
    assert len([f for f in found if "javascript:" in f]) == 2  # the attribute, and the text


def test_no_template_has_inline_code():
    templates = list(our_templates())
    assert len(templates) > 30  # the walk found the templates
    found = {
        str(path.relative_to(settings.BASE_DIR)): inline_code(path.read_text(encoding="utf-8"))
        for path in templates
    }
    assert {name: problems for name, problems in found.items() if problems} == {}


def test_the_headers_middleware_sits_above_whitenoise():
    """Static files are answered by WhiteNoise's middleware: only what sits above it adds
    headers to them."""
    middleware = settings.MIDDLEWARE
    assert middleware.index("tracker.middleware.SecurityHeadersMiddleware") < middleware.index(
        "whitenoise.middleware.WhiteNoiseMiddleware"
    )
