"""The static storage is chosen once, when the settings load: the manifest storage in
production, the plain one with DEBUG and in a test run, never switched by a test."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

from yichun.settings import BASE_DIR

PLAIN = "django.contrib.staticfiles.storage.StaticFilesStorage"
MANIFEST = "whitenoise.storage.CompressedManifestStaticFilesStorage"
CODE = "import yichun.settings as s; print(s.STORAGES['staticfiles']['BACKEND'])"


def storage_under(**env):
    """The static storage that yichun/settings.py picks in a fresh process with ``env``."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith("DJANGO_") and k != "PYTEST_VERSION"
    }
    result = subprocess.run(
        [sys.executable, "-c", CODE],
        env={**clean, **env},
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("env", "backend"),
    [
        ({}, MANIFEST),  # production
        ({"DJANGO_DEBUG": "1"}, PLAIN),
        ({"PYTEST_VERSION": "9"}, PLAIN),  # a test run, by make or by hand
        ({"PYTEST_VERSION": "9", "DJANGO_STATIC_MANIFEST": "1"}, MANIFEST),
        ({"DJANGO_STATIC_MANIFEST": "0"}, PLAIN),
    ],
)
def test_the_static_storage_is_chosen_when_the_settings_load(env, backend):
    assert storage_under(**env) == backend


def test_this_run_renders_with_the_plain_storage():
    assert settings.STORAGES["staticfiles"]["BACKEND"] == PLAIN
