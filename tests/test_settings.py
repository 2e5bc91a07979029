"""Settings read from the environment, and the SQLite set-up that lets two processes share it."""

import os
import secrets
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.db.backends.sqlite3.base import DatabaseWrapper

from yichun.settings import BASE_DIR, parse_database_url


def test_postgres_url_is_parsed():
    db = parse_database_url("postgres://yc:p%40ss@db.internal:6543/yichun?sslmode=require")
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "yc",
        "p@ss",
        "db.internal",
        "6543",
        "yichun",
    )
    assert db["OPTIONS"] == {"sslmode": "require", "options": "-c jit=off"}


def test_postgres_url_may_set_its_own_server_options():
    db = parse_database_url("postgres://yc@db/yichun?options=-c%20jit%3Don")
    assert db["OPTIONS"] == {"options": "-c jit=on"}


@pytest.mark.django_db
def test_the_connection_runs_without_jit():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"


def test_sqlite_url_relative_and_absolute():
    assert parse_database_url("sqlite:///local.db")["NAME"] == str(BASE_DIR / "local.db")
    assert parse_database_url("sqlite:////var/lib/yc.db")["NAME"] == "/var/lib/yc.db"


def test_unknown_scheme_is_refused():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        parse_database_url("mysql://root@localhost/yichun")


def _sqlite_connection(path):
    settings_dict = {
        **parse_database_url(f"sqlite:///{path}"),
        "TIME_ZONE": None,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "AUTOCOMMIT": True,
        "ATOMIC_REQUESTS": False,
    }
    return DatabaseWrapper(settings_dict, alias=f"probe-{path.name}")


@pytest.fixture
def own_connections(django_db_blocker):
    """These tests open their own SQLite files, outside the test database."""
    with django_db_blocker.unblock():
        yield


def test_sqlite_file_runs_in_wal_mode_with_a_busy_timeout(tmp_path, own_connections):
    conn = _sqlite_connection(tmp_path / "wal.sqlite3")
    with conn.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] >= 10000
    conn.close()


def test_a_second_writer_waits_instead_of_failing(tmp_path, own_connections):
    """Two connections (as two app processes) write at once: the second waits for the lock."""
    path = tmp_path / "two.sqlite3"
    first = _sqlite_connection(path)
    with first.cursor() as cursor:
        cursor.execute("CREATE TABLE t (n integer)")
    errors = []
    first.set_autocommit(False)
    with first.cursor() as cursor:
        cursor.execute("INSERT INTO t VALUES (1)")  # holds the write lock

    def write_from_second():
        second = _sqlite_connection(path)  # a connection belongs to the thread that made it
        try:
            with second.cursor() as cursor:
                cursor.execute("INSERT INTO t VALUES (2)")
        except Exception as exc:  # "database is locked" would land here
            errors.append(exc)
        finally:
            second.close()

    thread = threading.Thread(target=write_from_second)
    thread.start()
    thread.join(timeout=0.5)
    assert thread.is_alive(), "the second writer should be waiting for the lock"
    first.commit()
    first.set_autocommit(True)
    thread.join(timeout=20)
    assert errors == []
    with first.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM t")
        assert cursor.fetchone()[0] == 2
    first.close()


def _run(code, env):
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "DJANGO_SETTINGS_MODULE": "yichun.settings"},
        cwd=Path(BASE_DIR),
        capture_output=True,
        text=True,
        check=False,
    )


def test_serving_requires_the_secret_key_without_debug():
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    serve = "import yichun.wsgi"
    result = _run(serve, env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr
    assert _run(serve, {**env, "DJANGO_SECRET_KEY": "x" * 50}).returncode == 0
    assert _run(serve, {**env, "DJANGO_DEBUG": "1"}).returncode == 0
    asgi = _run("import yichun.asgi", env)
    assert asgi.returncode != 0 and "DJANGO_SECRET_KEY must be set" in asgi.stderr


def test_management_commands_run_without_the_secret_key():
    """makemigrations --check, migrate or seed sign nothing lasting: a throw-away key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.SECRET_KEY_IS_EPHEMERAL, len(settings.SECRET_KEY) > 40)"
    )
    result = _run(code, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]


# --- production settings: HTTPS and the deploy check (issue 8) -----------------------------
def _production_env(**extra):
    """The environment with the documented production variables and nothing else of ours.

    The variables the test run sets to serve plain HTTP (pyproject's [tool.pytest_env]) are
    dropped, so the defaults of production apply; DATABASE_URL stays as it is.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    return {
        **env,
        "DJANGO_SECRET_KEY": "k" + secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "tracker.example",
        **extra,
    }


def _check_deploy(env):
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        cwd=Path(BASE_DIR),
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_settings_pass_the_deploy_check_without_a_warning():
    result = _check_deploy(_production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (1 silenced)." in result.stdout


@pytest.mark.parametrize(
    ("switch", "warning"),
    [
        ("DJANGO_SECURE_SSL_REDIRECT", "security.W008"),
        ("DJANGO_SECURE_HSTS_SECONDS", "security.W004"),
        ("DJANGO_SECURE_COOKIES", "security.W012"),
    ],
)
def test_the_deploy_check_warns_about_each_plain_http_switch(switch, warning):
    result = _check_deploy(_production_env(**{switch: "0"}))
    assert result.returncode != 0
    assert warning in result.stderr


_SECURITY = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
    "s.SECURE_HSTS_PRELOAD, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
    "s.SECURE_PROXY_SSL_HEADER)"
)


def test_https_is_on_by_default_in_production():
    result = _run(_SECURITY, _production_env())
    assert result.stdout.split() == ["True", "31536000", "True", "False", "True", "True", "None"]


def test_the_bench_variables_serve_plain_http():
    env = _production_env(
        DJANGO_SECURE_SSL_REDIRECT="0", DJANGO_SECURE_HSTS_SECONDS="0", DJANGO_SECURE_COOKIES="0"
    )
    result = _run(_SECURITY, env)
    assert result.stdout.split() == ["False", "0", "True", "False", "False", "False", "None"]


def test_debug_serves_plain_http():
    result = _run(_SECURITY, _production_env(DJANGO_DEBUG="1"))
    assert result.stdout.split()[:2] == ["False", "0"]
    assert result.stdout.split()[4:6] == ["False", "False"]


def test_the_proxy_header_is_trusted_only_when_asked():
    result = _run(_SECURITY, _production_env(DJANGO_SECURE_PROXY_SSL_HEADER="1"))
    assert result.stdout.strip().endswith("('HTTP_X_FORWARDED_PROTO', 'https')")


def test_the_login_and_session_limits_are_read_from_the_environment():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME.total_seconds(), "
        "s.SESSION_IDLE_SECONDS, s.SESSION_MAX_SECONDS, s.SESSION_COOKIE_AGE, "
        "s.TRUSTED_PROXY_COUNT)"
    )
    assert _run(code, _production_env()).stdout.split() == [
        "5",
        "900.0",
        "1800",
        "43200",
        "43200",
        "0",
    ]
    env = _production_env(
        DJANGO_LOGIN_FAILURE_LIMIT="8",
        DJANGO_LOGIN_COOLOFF_MINUTES="30",
        DJANGO_SESSION_IDLE_SECONDS="900",
        DJANGO_SESSION_MAX_SECONDS="28800",
        DJANGO_TRUSTED_PROXY_COUNT="1",
    )
    assert _run(code, env).stdout.split() == ["8", "1800.0", "900", "28800", "28800", "1"]


def test_the_test_run_serves_plain_http(settings):
    """pyproject's [tool.pytest_env] sets the documented switches before settings load."""
    assert settings.SECURE_SSL_REDIRECT is False
    assert settings.SECURE_HSTS_SECONDS == 0
    assert settings.SESSION_COOKIE_SECURE is False


@pytest.mark.django_db
def test_the_https_redirect_spares_the_health_check(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/accounts/login/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/accounts/login/"
    for path in ("/healthz", "/healthz/"):
        response = client.get(path)
        assert not (300 <= response.status_code < 400 and response["Location"].startswith("https"))
