"""Backup and restore on the suite's database engine (SQLite or PostgreSQL), end to end.

A copy of the migrated test database is seeded by ``manage.py seed`` (the source), backed up by
``manage.py backup`` and restored by ``manage.py restore`` into a new, empty database, as an
operator would. The comparison is this file's own: every table's row count and a hash of all
its rows in primary-key order, read through the database driver, plus the 2022 totals in SQL
(DOMAIN.md: 338 projects, 1796.16 亿元 = 17,961,600 万元).
"""

import contextlib
import datetime
import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass

import psycopg
import pytest
from django.db import connection, connections

from tests.databases import postgres_url
from tracker import backups
from yichun.settings import BASE_DIR

pytestmark = pytest.mark.django_db  # so that pytest-django sets up the test database

LOAD_DAY = "2023-01-02"  # the seed's history up to the end of 2022
PUBLISHED_2022 = (338, 1_796_160_000)  # projects, signed amount in 万元 × 100 (DOMAIN.md)
IN_2022 = "signed_on >= '2022-01-01' AND signed_on <= '2022-12-31'"
SESSION_KEY = "backuptestsession0000000000000000"


@dataclass
class Database:
    vendor: str
    name: str  # PostgreSQL: the database; SQLite: the file
    settings_dict: dict

    @property
    def url(self):
        if self.vendor == "sqlite":
            return f"sqlite:///{self.name}"
        return postgres_url(self.settings_dict, self.name)

    def connect(self):
        if self.vendor == "sqlite":
            return sqlite3.connect(self.name)
        db = self.settings_dict
        return psycopg.connect(
            host=db["HOST"] or "127.0.0.1",
            port=db["PORT"] or 5432,
            user=db["USER"],
            password=db["PASSWORD"] or None,
            dbname=self.name,
            autocommit=True,
        )

    @contextlib.contextmanager
    def session(self):
        """One connection; yields ``run(sql, params)`` → the rows (or None), committed."""
        conn = self.connect()

        def run(sql, params=()):
            if self.vendor == "sqlite":
                sql = sql.replace("%s", "?")
            cursor = conn.execute(sql, params)
            rows = cursor.fetchall() if cursor.description else None
            conn.commit()
            return rows

        try:
            yield run
        finally:
            conn.close()

    def execute(self, sql, params=()):
        with self.session() as run:
            return run(sql, params)

    @contextlib.contextmanager
    def wrapper(self):
        """A Django connection to this database, for calling tracker.backups directly."""
        wrapper = backups.sibling(connections["default"], self.name, alias="backup-test")
        try:
            yield wrapper
        finally:
            wrapper.close()

    def restore(self, path, **options):
        with self.wrapper() as wrapper:
            return backups.restore(path, connection=wrapper, **options)


def insert_session(database):
    database.execute(
        "INSERT INTO django_session (session_key, session_data, expire_date) VALUES (%s, %s, %s)",
        (SESSION_KEY, "e30:signed-session-data", "2030-01-01 00:00:00+00:00"),
    )


def admin(sql):
    """Run ``sql`` on the server's ``postgres`` database (CREATE/DROP DATABASE)."""
    Database("postgresql", "postgres", connection.settings_dict).execute(sql)


@pytest.fixture(scope="module")
def new_database(django_db_setup, django_db_blocker, tmp_path_factory):
    """Make empty databases (PostgreSQL: on the test server; SQLite: new files); drop them."""
    made = []

    def _new(label, *, template=None):
        if connection.vendor == "sqlite":
            path = tmp_path_factory.mktemp("backup") / f"{label}.sqlite3"
            database = Database("sqlite", str(path), connection.settings_dict)
            if template:  # the in-memory test database, copied into the file
                copy = sqlite3.connect(path)
                connection.connection.backup(copy)
                copy.close()
        else:
            name = f"{connection.settings_dict['NAME']}_{label}"
            database = Database("postgresql", name, connection.settings_dict)
            admin(f'DROP DATABASE IF EXISTS "{name}"')
            if template:
                connection.close()  # a template database must have no other session
                admin(f'CREATE DATABASE "{name}" TEMPLATE "{connection.settings_dict["NAME"]}"')
            else:
                admin(f'CREATE DATABASE "{name}"')
            made.append(name)
        return database

    with django_db_blocker.unblock():
        connection.ensure_connection()
        yield _new
        for name in made:
            admin(f'DROP DATABASE IF EXISTS "{name}"')


def manage(database, *arguments, check=True, **env):
    run = subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=BASE_DIR,
        env={**os.environ, "DATABASE_URL": database.url, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check:
        assert run.returncode == 0, run.stdout + run.stderr
    return run


@pytest.fixture(scope="module")
def source(new_database):
    """The migrated schema (a copy of the test database) with the seed and a session."""
    database = new_database("source", template=True)
    manage(database, "seed", "--today", LOAD_DAY, DJANGO_DEBUG="1")  # history and demo users
    insert_session(database)
    return database


@pytest.fixture(scope="module")
def backup(source, tmp_path_factory):
    """``manage.py backup --keep-days 7`` into a directory that already holds old backups."""
    directory = tmp_path_factory.mktemp("backups")
    suffix = ".pgdump" if source.vendor == "postgresql" else ".sqlite3"
    yesterday = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    planted = {
        "old": directory / f"yichun-20200101T000000Z{suffix}",
        "recent": directory / f"yichun-{yesterday:%Y%m%dT%H%M%SZ}{suffix}",
        "other": directory / "yichun-20200101T000000Z.sqlite3.notes",
    }
    for path in planted.values():
        path.write_text("planted")
    run = manage(source, "backup", "--keep-days", "7", DJANGO_BACKUP_DIR=str(directory))
    made = sorted(set(directory.iterdir()) - set(planted.values()))
    return run.stdout, made, planted


@pytest.fixture(scope="module")
def restored(backup, new_database):
    """The backup restored by ``manage.py restore`` into a new, empty database."""
    _, made, _ = backup
    target = new_database("restored")
    run = manage(target, "restore", str(made[0]))
    return target, run.stdout


# --- this file's own comparison -------------------------------------------------------------
def tables(vendor, run):
    if vendor == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
    else:
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    return [row[0] for row in run(sql)]


def primary_key(vendor, run, table):
    if vendor == "sqlite":
        info = run(f'PRAGMA table_info("{table}")')
        return [row[1] for row in sorted(info, key=lambda row: row[5]) if row[5]] or [
            row[1] for row in info
        ]  # sqlite_sequence has no key: all its columns
    return [
        row[0]
        for row in run(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
            "ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) "
            "WHERE i.indrelid = %s::regclass AND i.indisprimary "
            "ORDER BY array_position(i.indkey, a.attnum)",
            (f'"{table}"',),
        )
    ]


def fingerprint(database):
    """{table: (rows, md5 of every row in primary-key order)}, and on PostgreSQL the
    sequences' positions (SQLite keeps them in its sqlite_sequence table)."""
    result = {}
    with database.session() as run:
        for table in tables(database.vendor, run):
            order = ", ".join(f'"{column}"' for column in primary_key(database.vendor, run, table))
            rows = run(f'SELECT * FROM "{table}" ORDER BY {order}')
            digest = hashlib.md5(usedforsecurity=False)
            for row in rows:
                digest.update(repr(row).encode())
            result[table] = (len(rows), digest.hexdigest())
        if database.vendor == "postgresql":
            result["(sequences)"] = tuple(
                run(
                    "SELECT sequencename, last_value FROM pg_sequences "
                    "WHERE schemaname = 'public' ORDER BY sequencename"
                )
            )
    return result


def totals_2022(database):
    (row,) = database.execute(
        "SELECT COUNT(*), SUM(CAST(ROUND(signed_amount * 100) AS INTEGER)) FROM tracker_project "
        f"WHERE {IN_2022}"
    )
    return tuple(row)


# --- the tests ------------------------------------------------------------------------------
def test_backup_and_restore_into_a_new_database_reproduce_every_table(source, backup, restored):
    stdout, made, planted = backup
    target, restore_stdout = restored

    assert [path.name for path in made] == [
        re.search(r"to \S+/(yichun-\d{8}T\d{6}Z\.(?:pgdump|sqlite3)): ", stdout)[1]
    ]
    assert made[0].stat().st_mode & 0o777 == 0o600  # it holds password hashes
    assert re.search(r": \d+ bytes \(\d+\.\d [KM]B\)\.\n", stdout)
    assert re.search(r"^Checked: .* all \d+ tables\.$", stdout, re.MULTILINE)
    # --keep-days 7 deleted the backup of 2020 and nothing else.
    assert not planted["old"].exists()
    assert planted["recent"].exists() and planted["other"].exists()
    assert f"deleted 1 older backup(s): {planted['old'].name}" in stdout

    expected = fingerprint(source)
    assert {"auth_group", "auth_permission", "django_session", "django_migrations"} <= set(expected)
    assert {"tracker_user", "tracker_project", "tracker_weeklydispatch"} <= set(expected)
    assert expected["django_session"][0] == 1
    assert expected["tracker_user"][0] > 0 and expected["tracker_weeklydispatch"][0] > 1000
    assert fingerprint(target) == expected
    assert totals_2022(target) == PUBLISHED_2022
    app_tables = {
        key: value for key, value in expected.items() if not key.startswith(("(", "sqlite"))
    }
    rows = sum(value[0] for value in app_tables.values())
    assert f": {len(app_tables)} tables, {rows} rows." in restore_stdout
    print(
        f"\nrestore comparison ({target.vendor}): {len(expected)} entries compared "
        f"({len(app_tables)} tables, {rows} rows); 2022 in the restored database: "
        f"{totals_2022(target)}\n{stdout}{restore_stdout}"
    )


def test_a_backup_taken_before_a_change_shows_the_difference(source, backup, restored):
    """The comparison can fail: change two rows after the backup, and it sees both."""
    _, made, _ = backup
    target, _ = restored
    (first_id,) = source.execute(f"SELECT MIN(id) FROM tracker_project WHERE {IN_2022}")[0]
    source.execute(
        "UPDATE tracker_project SET signed_amount = signed_amount + 1 WHERE id = %s",
        (first_id,),
    )
    source.execute("DELETE FROM django_session WHERE session_key = %s", (SESSION_KEY,))
    try:
        after, before = fingerprint(source), fingerprint(target)
        assert sorted(table for table in after if after[table] != before[table]) == [
            "django_session",
            "tracker_project",
        ]
        assert totals_2022(source) == (338, PUBLISHED_2022[1] + 100)
        assert totals_2022(target) == PUBLISHED_2022
        # manage.py verify_backup --compare sees it too.
        run = manage(source, "verify_backup", "--compare", str(made[0]), check=False)
        assert run.returncode == 1, run.stdout + run.stderr
        assert "2 of " in run.stderr and "tables differ" in run.stderr
        assert "django_session: backup 1 rows" in run.stdout
        assert "tracker_project: backup" in run.stdout
    finally:
        source.execute(
            "UPDATE tracker_project SET signed_amount = signed_amount - 1 WHERE id = %s",
            (first_id,),
        )
        insert_session(source)
    assert fingerprint(source) == fingerprint(target)


def test_verify_backup_restores_into_a_scratch_database_and_compares(source, backup):
    _, made, _ = backup
    run = manage(source, "verify_backup", "--compare", str(made[0]))
    assert "2022: 338 projects, 1796.16 亿元 (17961600.00 万元)." in run.stdout
    assert "Identical to the " in run.stdout
    assert "(dropped again)" in run.stdout
    if source.vendor == "postgresql":
        scratch = re.search(r"scratch PostgreSQL database (\S+) on", run.stdout)[1]
        assert not admin_rows("SELECT 1 FROM pg_database WHERE datname = %s", (scratch,))


def admin_rows(sql, params):
    return Database("postgresql", "postgres", connection.settings_dict).execute(sql, params)


def test_restore_refuses_a_database_that_has_tables(source, backup):
    _, made, _ = backup
    before = fingerprint(source)
    run = manage(source, "restore", str(made[0]), check=False)
    assert run.returncode == 1
    assert "already has" in run.stderr and "--clean" in run.stderr
    assert fingerprint(source) == before


def test_restore_clean_replaces_what_the_backup_holds(source, backup, new_database):
    _, made, _ = backup
    target = new_database("clean")
    target.restore(made[0])
    target.execute("DELETE FROM tracker_weeklydispatch")
    assert fingerprint(target) != fingerprint(source)

    target.restore(made[0], clean=True)
    assert fingerprint(target) == fingerprint(source)

    target.execute("CREATE TABLE not_in_the_backup (n integer)")
    if target.vendor == "postgresql":  # --clean would leave it: refused
        with pytest.raises(backups.BackupError, match="not_in_the_backup"):
            target.restore(made[0], clean=True)
    else:  # the whole file is replaced
        target.restore(made[0], clean=True)
        assert fingerprint(target) == fingerprint(source)


def test_a_backup_of_the_other_engine_or_no_backup_is_refused(backup, tmp_path, new_database):
    _, made, _ = backup
    target = new_database("wrong")
    fake = tmp_path / "other.bin"
    fake.write_bytes(b"PGDMP" if target.vendor == "sqlite" else b"SQLite format 3\x00")
    with pytest.raises(backups.BackupError, match="backup and the database is"):
        target.restore(fake)
    (tmp_path / "notes.txt").write_text("not a backup")
    with pytest.raises(backups.BackupError, match="neither a pg_dump"):
        target.restore(tmp_path / "notes.txt")
    with target.wrapper() as wrapper, pytest.raises(backups.BackupError, match="never overwrites"):
        backups.back_up(connection=wrapper, output=made[0])


def test_pg_tools_get_the_password_from_the_environment_not_the_command_line():
    settings_dict = {
        "HOST": "db.internal",
        "PORT": "6543",
        "USER": "yichun",
        "PASSWORD": "s3cret pass",
        "NAME": "yichun",
        "OPTIONS": {"sslmode": "require"},
    }
    env = backups.pg_environment(settings_dict)
    assert (env["PGHOST"], env["PGPORT"], env["PGUSER"], env["PGDATABASE"]) == (
        "db.internal",
        "6543",
        "yichun",
        "yichun",
    )
    assert env["PGPASSWORD"] == "s3cret pass" and env["PGSSLMODE"] == "require"
    if shutil.which("pg_dump"):  # the client tools may be missing on a laptop without PostgreSQL
        command = backups.pg_command("pg_dump", "--format=custom", "--file=/tmp/x")
        assert not any("s3cret" in part for part in command)
        assert "--no-password" in command
