import os
import shutil

import pytest
from django.conf import settings
from django.db import connections
from playwright.sync_api import expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
# How long a browser step may take before it fails: a ceiling, not a pause. Every wait is
# for a condition (an element, a URL, a download); on a loaded machine they take longer.
BROWSER_TIMEOUT_MS = 30_000
expect.set_options(timeout=BROWSER_TIMEOUT_MS)


def pytest_report_header(config):
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    return f"database: {engine}"


def pytest_configure(config):
    """Tests run without DEBUG and without collectstatic, so pages render with the plain
    static storage. yichun/settings.py chooses it when it is loaded (pytest sets
    PYTEST_VERSION first): no test changes it, so the live server thread of the browser
    tests can never render with the manifest storage halfway through a run."""
    backend = settings.STORAGES["staticfiles"]["BACKEND"]
    if backend != "django.contrib.staticfiles.storage.StaticFilesStorage":
        raise pytest.UsageError(
            f"The tests render pages without collectstatic, but the static storage is {backend}"
            " (unset DJANGO_STATIC_MANIFEST)."
        )


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """Hashing with the production PBKDF2 cost makes every test user take ~0.3 s.

    Session-wide, so users made by module-scoped fixtures (the seed) use it too.
    """
    from django.conf import settings
    from django.contrib.auth.hashers import get_hashers, get_hashers_by_algorithm

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    get_hashers.cache_clear()
    get_hashers_by_algorithm.cache_clear()


def chromium_available():
    return os.path.exists(CHROMIUM) or shutil.which("chromium") is not None


def pytest_collection_modifyitems(config, items):
    """Browser tests skip on a laptop without Chromium; in CI they are mandatory."""
    if chromium_available() or not any(i.get_closest_marker("browser") for i in items):
        return
    if os.environ.get("CI") == "true":
        raise pytest.UsageError("Chromium is not installed; CI requires the browser tests.")
    skip = pytest.mark.skip(reason="Chromium not installed (apt-get install chromium)")
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(skip)


@pytest.fixture
def browser_page(live_server, transactional_db):
    """A Playwright page in Debian's headless Chromium, pointed at the live server.

    Console errors are collected in ``page.console_errors`` so tests can assert none.
    """
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs a loop

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(locale="zh-CN", accept_downloads=True)
        context.set_default_timeout(BROWSER_TIMEOUT_MS)  # each of its pages, a second tab too
        page = context.new_page()
        page.console_errors = []
        page.on(
            "console",
            lambda msg: page.console_errors.append(msg.text) if msg.type == "error" else None,
        )
        page.base_url = live_server.url
        try:
            yield page
        finally:
            # While Playwright's loop runs, the ORM keeps a separate connection for this
            # context; close it here or PostgreSQL cannot drop the test database later.
            connections.close_all()
            context.close()
            browser.close()


def login(page, username, password):
    """Log in through the form and wait for the logged-in header of the page it leads to."""
    page.goto(page.base_url + "/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    # Attached, not visible: on a phone the account links sit behind the header's menu button.
    expect(page.locator(".topbar .account")).to_be_attached()
