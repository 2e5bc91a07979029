"""Two gunicorn instances on one host, started with the repo's gunicorn.conf.py on two ports,
both serve /healthz and do not share (or delete) each other's control socket."""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connection
from gunicorn.ctl.client import ControlClient

from tests.databases import postgres_url
from yichun.settings import BASE_DIR

GUNICORN = Path(sys.executable).parent / "gunicorn"  # the one installed beside this Python
BOOT_DEADLINE = 60  # seconds: only a limit for a broken start, never a measurement

pytestmark = pytest.mark.django_db  # so that pytest-django sets up the test database


@pytest.fixture(scope="module")
def database_url(django_db_setup, django_db_blocker, tmp_path_factory):
    """The migrated test database, reachable from other processes."""
    with django_db_blocker.unblock():
        connection.ensure_connection()
        if connection.vendor == "sqlite":  # in memory: copy it to a file the servers can open
            path = tmp_path_factory.mktemp("gunicorn") / "db.sqlite3"
            copy = sqlite3.connect(path)
            connection.connection.backup(copy)
            copy.close()
            yield f"sqlite:///{path}"
        else:
            # conn_max_age=0: no connection outlives its request, so the test database
            # can be dropped at the end of the run.
            yield postgres_url(connection.settings_dict, conn_max_age=0)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Instance:
    def __init__(self, port, env, log):
        self.port = port
        self.log = log
        self.process = subprocess.Popen(
            [str(GUNICORN), "-c", "gunicorn.conf.py", "yichun.wsgi"],
            cwd=BASE_DIR,
            env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )

    def get(self, path, headers=None):
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", headers=headers or {}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode(), response.headers
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), error.headers

    def wait_until_serving(self):
        deadline = time.monotonic() + BOOT_DEADLINE
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                return self.get("/healthz")
            except OSError:  # not listening yet
                time.sleep(0.1)
        raise AssertionError(f"no answer on port {self.port}:\n{self.log.read_text()}")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=BOOT_DEADLINE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@pytest.fixture
def start(database_url, tmp_path):
    """Start gunicorn instances with the repo's config; HOME and XDG_RUNTIME_DIR point into
    tmp_path, where gunicorn would put its default control socket."""
    home, runtime = tmp_path / "home", tmp_path / "run"
    home.mkdir()
    runtime.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GUNICORN_", "DJANGO_")) and key not in {"FORWARDED_ALLOW_IPS"}
    }
    env.update(
        HOME=str(home),
        XDG_RUNTIME_DIR=str(runtime),
        DATABASE_URL=database_url,
        DJANGO_SECRET_KEY="test-only-secret",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        GUNICORN_WORKERS="1",
    )
    started = []

    def _start(count, **extra_env):
        instances = [
            Instance(
                free_port(), {**env, **extra_env}, tmp_path / f"gunicorn-{len(started) + n}.log"
            )
            for n in range(count)
        ]
        started.extend(instances)
        return instances

    _start.home, _start.runtime = home, runtime
    yield _start
    for instance in started:
        instance.stop()


def sockets_under(*directories):
    return sorted(
        str(path) for directory in directories for path in directory.rglob("*") if path.is_socket()
    )


def test_two_instances_on_one_host_both_serve_without_a_control_socket(start):
    first, second = start(2)
    for instance in (first, second):
        status, body, headers = instance.wait_until_serving()
        assert (status, body) == (200, "ok")
        assert headers["Server"] == "gunicorn"  # no version

    # Neither created the per-user control socket the two would otherwise fight over.
    assert sockets_under(start.home, start.runtime) == []

    # Each keeps serving when the other stops.
    assert first.stop() == 0
    assert second.get("/healthz", {"X-Forwarded-For": "203.0.113.7"})[:2] == (200, "ok")
    assert second.stop() == 0
    for instance in (first, second):
        log = instance.log.read_text()
        assert "Control socket" not in log
        assert f"Listening at: http://127.0.0.1:{instance.port}" in log
        assert "Using worker: gthread" in log
    # Access log: the forwarded client address, the peer (the proxy) and the time taken.
    access = [line for line in second.log.read_text().splitlines() if "GET /healthz" in line]
    assert access[-1].startswith("203.0.113.7 via 127.0.0.1 [")
    assert access[-1].split()[-1].endswith("s")
    float(access[-1].split()[-1][:-1])


def test_per_instance_control_sockets_each_answer_for_their_own_instance(start, tmp_path):
    """With GUNICORN_CONTROL_SOCKET set to one path per instance, gunicornc reaches each."""
    paths = [tmp_path / f"ctl-{n}.sock" for n in range(2)]
    first, second = (start(1, GUNICORN_CONTROL_SOCKET=str(path))[0] for path in paths)
    for instance in (first, second):
        assert instance.wait_until_serving()[:2] == (200, "ok")

    def listeners(path):
        with ControlClient(str(path), timeout=10) as client:
            return json.dumps(client.send_command("show listeners"))

    assert f"127.0.0.1:{first.port}" in listeners(paths[0])
    assert f"127.0.0.1:{second.port}" in listeners(paths[1])
    assert first.stop() == 0
    assert not paths[0].exists()
    assert f"127.0.0.1:{second.port}" in listeners(paths[1])  # the first left it alone
    assert sockets_under(start.home, start.runtime) == []
