"""manage.py verify_backup FILE: restore a backup into a scratch database and report on it."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from tracker import backups
from tracker.money import yi

YEAR = 2022  # the seeded project book, published as 338 projects, 1796.16 亿元


class Command(BaseCommand):
    help = (
        "Prove a backup: restore it into a scratch database beside the one of DATABASE_URL "
        "(PostgreSQL: a new database on the same server, which needs CREATEDB; SQLite: a "
        "temporary file), print its tables, rows and the 2022 project book totals, and drop "
        "it. With --compare, also compare every table's row count and a SHA-256 of its rows "
        "with the database of DATABASE_URL, and fail on any difference (right after a backup, "
        "with nobody using the app, they are identical)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help="The backup file.")
        parser.add_argument(
            "--compare",
            action="store_true",
            help="Compare every table with the database of DATABASE_URL.",
        )

    def handle(self, *args, file, compare=False, **options):
        connection = connections["default"]
        try:
            with backups.restored_copy(file, connection=connection) as scratch:
                restored = backups.table_sums(scratch)
                count, amount = backups.year_totals(scratch, YEAR)
                where = backups.describe(scratch)
            live = backups.table_sums(connection) if compare else None
        except backups.BackupError as exc:
            raise CommandError(str(exc)) from exc
        rows = sum(table.rows for table in restored.values())
        self.stdout.write(f"Restored {file} into the scratch {where} (dropped again).")
        self.stdout.write(f"{len(restored)} tables, {rows} rows.")
        self.stdout.write(f"{YEAR}: {count} projects, {yi(amount)} 亿元 ({amount} 万元).")
        if live is None:
            return
        differ = sorted(
            name for name in restored.keys() | live.keys() if restored.get(name) != live.get(name)
        )
        for name in differ:
            self.stdout.write(
                f"  {name}: backup {_rows(restored.get(name))}, database {_rows(live.get(name))}"
            )
        if differ:
            raise CommandError(
                f"{len(differ)} of {len(restored.keys() | live.keys())} tables differ from the "
                f"{backups.describe(connection)}."
            )
        self.stdout.write(
            f"Identical to the {backups.describe(connection)}: all {len(live)} tables "
            "(row count and SHA-256 of every row in primary-key order)."
        )


def _rows(table):
    return "missing" if table is None else f"{table.rows} rows, sha256 {table.sha256[:12]}"
