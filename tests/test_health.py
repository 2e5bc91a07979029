"""/healthz for the load balancer: 200 "ok" only when the database answers and is fully
migrated, 503 "unavailable" otherwise; no login, nothing revealed, other pages still locked."""

import json
import os
import socket
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.test.utils import override_settings

from yichun.settings import BASE_DIR

pytestmark = pytest.mark.django_db

HEALTHZ = "/healthz"


def assert_reveals_nothing(response, body):
    assert response.content == body
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "no-store" in response["Cache-Control"]
    assert not response.cookies  # no session, no CSRF cookie
    assert "Server" not in response.headers


def test_healthz_answers_ok_to_anyone_on_a_migrated_database(client):
    response = client.get(HEALTHZ)
    assert response.status_code == 200
    assert_reveals_nothing(response, b"ok")


def test_healthz_answers_head_but_no_other_method(client):
    head = client.head(HEALTHZ)
    assert head.status_code == 200
    assert head.content == b""
    for method in (client.post, client.put, client.delete):
        assert method(HEALTHZ).status_code == 405


def test_other_pages_still_need_a_login(client):
    for url in ("/", "/projects/", "/dashboard/", "/reports/monthly/"):
        response = client.get(url, secure=True)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/"), url


@pytest.mark.skipif(
    not getattr(settings, "SECURE_REDIRECT_EXEMPT", None),
    reason="SECURE_REDIRECT_EXEMPT comes with the HTTPS settings (issue 8, item 4)",
)
def test_healthz_is_not_redirected_to_https(client):
    with override_settings(SECURE_SSL_REDIRECT=True):
        assert client.get("/accounts/login/").status_code == 301
        response = client.get(HEALTHZ)
    assert response.status_code == 200
    assert response.content == b"ok"


def test_healthz_is_unavailable_while_a_migration_is_unapplied(client, caplog):
    """The database forgets the newest tracker migration, as after a release without migrate."""
    loader = MigrationLoader(connection)
    app, name = max(key for key in loader.graph.leaf_nodes() if key[0] == "tracker")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE app = %s AND name = %s", [app, name])
        assert cursor.rowcount == 1

    response = client.get(HEALTHZ)

    assert response.status_code == 503
    assert_reveals_nothing(response, b"unavailable")
    assert name in caplog.text  # the reason is in the server log, not in the answer


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the probe is closed


PROBE = """
import json, django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()  # lets the test client's host name in, as pytest does
response = Client().get("/healthz")
print(json.dumps({"status": response.status_code, "body": response.content.decode(),
                  "headers": dict(response.headers)}))
"""


@pytest.mark.parametrize(
    "database_url",
    [
        pytest.param("postgres://yichun:s3cret@127.0.0.1:{port}/yichun", id="postgres-closed-port"),
        pytest.param("sqlite:////nonexistent-directory/{port}/db.sqlite3", id="sqlite-no-file"),
    ],
)
def test_healthz_is_unavailable_when_the_database_cannot_be_reached(database_url):
    port = closed_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "yichun.settings",
        "DATABASE_URL": database_url.format(port=port),
        "DJANGO_SECRET_KEY": "test-only",
    }
    env.pop("DJANGO_DEBUG", None)
    run = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    answer = json.loads(run.stdout)
    assert answer["status"] == 503
    assert answer["body"] == "unavailable"
    shown = answer["body"] + json.dumps(answer["headers"])
    for secret in (str(port), "127.0.0.1", "s3cret", "yichun", "sqlite", "Error"):
        assert secret not in shown
    assert "health check: database 'default' is not reachable" in run.stderr
