import os
import shutil

import pytest
from django.conf import settings

CHROMIUM = "/usr/bin/chromium"


def pytest_report_header(config):
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    return f"database: {engine}"


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
