"""Back up the database, restore a backup into an empty database, and prove a backup by
restoring it into a scratch database (``manage.py backup`` / ``restore`` / ``verify_backup``).

PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore`` (the client must be the server's
major version or newer). The connection comes from settings.DATABASES through the PG*
environment variables that libpq reads, so the password never appears on a command line.
SQLite: the online backup API (``sqlite3.Connection.backup``), a consistent copy taken
while the app keeps running.

A backup file appears under its name only once it is complete and has been read back: it is
written to a hidden temporary file in the same directory, checked, then renamed.
"""

import datetime
import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connections
from django.utils import timezone

from tracker.models import Project

BACKUP_DIR_VARIABLE = "DJANGO_BACKUP_DIR"
SUFFIXES = {"postgresql": ".pgdump", "sqlite": ".sqlite3"}
# What each kind of file starts with: pg_dump's custom format, an SQLite database.
MAGIC = {"postgresql": b"PGDMP", "sqlite": b"SQLite format 3\x00"}
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
NAME_PATTERN = re.compile(r"^yichun-(?P<stamp>\d{8}T\d{6}Z)\.(?:pgdump|sqlite3)$")

# Connection options in DATABASES[...]["OPTIONS"] that libpq also reads from the environment.
LIBPQ_VARIABLES = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
    "options": "PGOPTIONS",
    "service": "PGSERVICE",
    "passfile": "PGPASSFILE",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "gssencmode": "PGGSSENCMODE",
}


class BackupError(Exception):
    """A backup, restore or check that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int
    check: str  # one line: how the written file was read back


@dataclass(frozen=True)
class TableSum:
    rows: int
    sha256: str  # of every row, in primary-key order


# --- where backups go -----------------------------------------------------------------------
def backup_directory():
    value = os.environ.get(BACKUP_DIR_VARIABLE, "").strip()
    return Path(value) if value else Path(settings.BASE_DIR) / "backups"


def default_backup_path(vendor, *, now):
    stamp = now.astimezone(datetime.UTC).strftime(STAMP_FORMAT)
    return backup_directory() / f"yichun-{stamp}{SUFFIXES[vendor]}"


def prune(directory, *, keep_days, now):
    """Delete the backups in ``directory`` taken more than ``keep_days`` days before ``now``.

    Only files named like ours (``yichun-<UTC timestamp>.pgdump|.sqlite3``) are looked at, and
    their age is the timestamp in the name, which a copy to another disk keeps.
    """
    if keep_days < 1:
        raise BackupError("--keep-days must be at least 1.")
    cutoff = now - datetime.timedelta(days=keep_days)
    removed = []
    for path in sorted(Path(directory).iterdir()):
        match = NAME_PATTERN.match(path.name)
        if not match or not path.is_file():
            continue
        taken = datetime.datetime.strptime(match["stamp"], STAMP_FORMAT).replace(
            tzinfo=datetime.UTC
        )
        if taken < cutoff:
            path.unlink()
            removed.append(path)
    return removed


# --- the database behind a connection -------------------------------------------------------
def vendor_of(connection):
    if connection.vendor not in SUFFIXES:
        raise BackupError(f"Backups are made for PostgreSQL and SQLite, not {connection.vendor}.")
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        raise BackupError("The SQLite database is in memory; there is no file to back up.")
    return connection.vendor


def describe(connection):
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"SQLite database {db['NAME']}"
    host = db["HOST"] or "local socket"
    return f"PostgreSQL database {db['NAME']} on {host}" + (f":{db['PORT']}" if db["PORT"] else "")


def table_names(connection):
    try:
        with connection.cursor() as cursor:
            return sorted(connection.introspection.table_names(cursor))
    except DatabaseError as exc:
        hint = ""
        if connection.vendor == "postgresql":
            name = connection.settings_dict["NAME"]
            hint = f" To restore into a new database, create it first: createdb {name}"
        raise BackupError(f"Cannot read the {describe(connection)}: {exc}.{hint}") from exc


def sibling(connection, name, alias):
    """A connection like ``connection`` (same server, user, options) to the database ``name``."""
    return connection.__class__({**connection.settings_dict, "NAME": name}, alias)


def kind_of_file(path):
    try:
        with open(path, "rb") as file:
            head = file.read(16)
    except OSError as exc:
        raise BackupError(f"Cannot read {path}: {exc.strerror}.") from exc
    for vendor, magic in MAGIC.items():
        if head.startswith(magic):
            return vendor
    raise BackupError(f"{path} is neither a pg_dump custom-format archive nor an SQLite file.")


# --- PostgreSQL -----------------------------------------------------------------------------
def pg_environment(settings_dict):
    """The environment for pg_dump/pg_restore: the PG* variables libpq reads, from DATABASES.

    The rest of the process environment is kept: libpq in the app reads it too.
    """
    env = dict(os.environ)
    values = {
        "PGHOST": settings_dict["HOST"],
        "PGPORT": settings_dict["PORT"],
        "PGUSER": settings_dict["USER"],
        "PGPASSWORD": settings_dict["PASSWORD"],
        "PGDATABASE": settings_dict["NAME"],
    }
    options = settings_dict.get("OPTIONS") or {}
    values.update({variable: options.get(option) for option, variable in LIBPQ_VARIABLES.items()})
    env.update({key: str(value) for key, value in values.items() if value not in (None, "")})
    return env


def pg_command(program, *arguments):
    executable = shutil.which(program)
    if executable is None:
        raise BackupError(
            f"{program} is not installed (Debian: apt-get install postgresql-client-15, the "
            "server's major version)."
        )
    # --no-password: fail at once instead of waiting for a password nobody will type (cron).
    return [executable, "--no-password", *arguments]


def run_pg(command, settings_dict):
    done = subprocess.run(
        command, env=pg_environment(settings_dict), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        program = Path(command[0]).name
        raise BackupError(f"{program} failed (exit {done.returncode}): {done.stderr.strip()}")
    return done.stdout


def archive_tables(settings_dict, path):
    """(tables defined, tables with data) listed in a pg_dump archive's table of contents."""
    listing = run_pg(pg_command("pg_restore", "--list", str(path)), settings_dict)
    defined, with_data = set(), set()
    for line in listing.splitlines():
        if line.startswith(";"):
            continue
        # "215; 1259 16390 TABLE public tracker_project postgres"
        # "3461; 0 16390 TABLE DATA public tracker_project postgres"
        match = re.match(r"^\d+; \d+ \d+ (TABLE DATA|TABLE) (\S+) (\S+) ", line)
        if match:
            (with_data if match[1] == "TABLE DATA" else defined).add(match[3])
    return defined, with_data


def pg_back_up(connection, path, tables):
    settings_dict = connection.settings_dict
    run_pg(pg_command("pg_dump", "--format=custom", f"--file={path}"), settings_dict)
    _, with_data = archive_tables(settings_dict, path)
    missing = sorted(set(tables) - with_data)
    if missing:
        raise BackupError(f"The archive lacks the data of {len(missing)} tables: {missing}.")
    return f"Checked: pg_restore reads the archive; it holds the data of all {len(tables)} tables."


def pg_restore(connection, path, *, clean, existing):
    settings_dict = connection.settings_dict
    arguments = [
        f"--dbname={settings_dict['NAME']}",
        "--no-owner",  # the objects belong to the user who restores
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",  # all of it or nothing
    ]
    if clean:
        defined, _ = archive_tables(settings_dict, path)
        extra = sorted(set(existing) - defined)
        if extra:
            raise BackupError(
                f"--clean replaces only what the backup holds, and the database also has "
                f"{len(extra)} tables the backup lacks ({', '.join(extra[:5])}"
                f"{', …' if len(extra) > 5 else ''}): restore into a new, empty database instead."
            )
        arguments += ["--clean", "--if-exists"]
    connection.close()
    run_pg(pg_command("pg_restore", *arguments, str(path)), settings_dict)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # pg_restore brings no planner statistics


# --- SQLite ---------------------------------------------------------------------------------
def sqlite_back_up(connection, path, tables):
    connection.ensure_connection()
    target = sqlite3.connect(path)
    try:
        connection.connection.backup(target)  # a consistent snapshot, writers may go on
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    finally:
        target.close()
    copy = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        verdict = copy.execute("PRAGMA integrity_check").fetchone()[0]
        copied = {
            row[0]
            for row in copy.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
            )
        }
    finally:
        copy.close()
    expected = {name for name in tables if not name.startswith("sqlite")}
    if verdict != "ok" or copied != expected:
        raise BackupError(
            f"The copy does not check out: integrity_check {verdict!r}, "
            f"tables that differ: {sorted(expected ^ copied)}."
        )
    return f"Checked: PRAGMA integrity_check ok; the copy has all {len(expected)} tables."


def sqlite_restore(connection, path):
    connection.close()
    source = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    target = sqlite3.connect(connection.settings_dict["NAME"])
    try:
        source.backup(target)  # replaces every page of the target, in one go
    finally:
        source.close()
        target.close()


# --- the three operations -------------------------------------------------------------------
def back_up(*, connection=None, output=None, now=None):
    connection = connection or connections["default"]
    vendor = vendor_of(connection)
    path = Path(output) if output else default_backup_path(vendor, now=now or timezone.now())
    if path.exists():
        raise BackupError(f"{path} exists already; a backup never overwrites a file.")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # backups hold password hashes
    tables = table_names(connection)
    descriptor, partial = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".partial", dir=path.parent
    )  # mode 0600
    os.close(descriptor)
    partial = Path(partial)
    try:
        if vendor == "postgresql":
            check = pg_back_up(connection, partial, tables)
        else:
            check = sqlite_back_up(connection, partial, tables)
        _fsync(partial)
        os.replace(partial, path)
        _fsync(path.parent)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return Backup(path=path, size=path.stat().st_size, check=check)


def restore(path, *, connection=None, clean=False):
    """Restore the backup at ``path`` into the database of ``connection``.

    The database must have no tables, unless ``clean``: then everything the backup holds is
    dropped and recreated (PostgreSQL: in one transaction, and only if the database has no
    table the backup lacks; SQLite: the whole file is replaced). Returns the row counts.
    """
    connection = connection or connections["default"]
    vendor = vendor_of(connection)
    path = Path(path)
    kind = kind_of_file(path)
    if kind != vendor:
        raise BackupError(
            f"{path} is a {kind} backup and the database is {vendor}: restore it into a "
            f"{kind} database."
        )
    existing = table_names(connection)
    if existing and not clean:
        raise BackupError(
            f"The {describe(connection)} already has {len(existing)} tables: a backup is "
            "restored into an empty database (create a new one and point DATABASE_URL at it), "
            "or pass --clean to replace its contents."
        )
    if vendor == "postgresql":
        pg_restore(connection, path, clean=clean, existing=existing)
    else:
        sqlite_restore(connection, path)
    return row_counts(connection)


def _fsync(path):
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# --- what a database holds ------------------------------------------------------------------
def row_counts(connection):
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        counts = {}
        for table in sorted(connection.introspection.table_names(cursor)):
            cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


def table_sums(connection):
    """Every table's row count and a SHA-256 of all its rows in primary-key order."""
    quote = connection.ops.quote_name
    sums = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            order = connection.introspection.get_primary_key_columns(cursor, table) or [
                column.name
                for column in connection.introspection.get_table_description(cursor, table)
            ]
            cursor.execute(f"SELECT * FROM {quote(table)} ORDER BY {', '.join(map(quote, order))}")
            digest, rows = hashlib.sha256(), 0
            while batch := cursor.fetchmany(2000):
                for row in batch:
                    digest.update(repr(tuple(row)).encode() + b"\n")
                rows += len(batch)
            sums[table] = TableSum(rows=rows, sha256=digest.hexdigest())
    return sums


def year_totals(connection, year):
    """(projects signed in ``year``, their signed amount in 万元), straight from the table."""
    table = Project._meta.db_table
    signed_on = Project._meta.get_field("signed_on").column
    amount = Project._meta.get_field("signed_amount").column
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*), SUM({quote(amount)}) FROM {quote(table)} "
            f"WHERE {quote(signed_on)} >= %s AND {quote(signed_on)} < %s",
            [datetime.date(year, 1, 1), datetime.date(year + 1, 1, 1)],
        )
        count, total = cursor.fetchone()
    # SQLite may sum the NUMERIC column as a float: back to 万元 with two decimals.
    return count, Decimal(str(total or 0)).quantize(Decimal("0.01"))


def restored_copy(path, *, connection=None):
    """A context manager: the backup at ``path`` restored into a scratch database next to the
    one of ``connection`` (PostgreSQL: a new database on the same server, which needs the
    CREATEDB privilege; SQLite: a temporary file), dropped on exit."""
    return _ScratchRestore(Path(path), connection or connections["default"])


class _ScratchRestore:
    def __init__(self, path, connection):
        self.path, self.connection = path, connection
        self.scratch, self._directory = None, None

    def __enter__(self):
        vendor = vendor_of(self.connection)
        if vendor == "postgresql":
            base = self.connection.settings_dict["NAME"][:40]
            name = f"{base}_verify_{os.getpid()}"
            self._admin(f"DROP DATABASE IF EXISTS {self.connection.ops.quote_name(name)}")
            self._admin(f"CREATE DATABASE {self.connection.ops.quote_name(name)}")
        else:
            self._directory = tempfile.TemporaryDirectory(prefix="yichun-verify-")
            name = str(Path(self._directory.name) / "restored.sqlite3")
        self.scratch = sibling(self.connection, name, alias="verify_backup")
        try:
            restore(self.path, connection=self.scratch)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self.scratch

    def __exit__(self, *exc_info):
        self.scratch.close()
        if self._directory is not None:
            self._directory.cleanup()
        else:
            name = self.scratch.settings_dict["NAME"]
            self._admin(f"DROP DATABASE IF EXISTS {self.connection.ops.quote_name(name)}")

    def _admin(self, sql):
        """Run ``sql`` outside a transaction, connected to the server's ``postgres`` database."""
        admin = sibling(self.connection, "postgres", alias="verify_backup_admin")
        try:
            with admin.cursor() as cursor:
                cursor.execute(sql)
        finally:
            admin.close()
