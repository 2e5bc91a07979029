"""manage.py restore FILE: restore a backup into the (empty) database of DATABASE_URL."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from tracker import backups


class Command(BaseCommand):
    help = (
        "Restore a backup made by manage.py backup into the database of DATABASE_URL, which "
        "must be empty (PostgreSQL: createdb NAME first; SQLite: a new file). pg_restore runs "
        "in one transaction with --no-owner, so a failed restore leaves nothing behind. "
        "Refuses a database that already has tables unless --clean is given."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help="The backup file.")
        parser.add_argument(
            "--clean",
            action="store_true",
            help="Replace the contents of a database that has tables. PostgreSQL: drop and "
            "recreate what the backup holds, in the same transaction (refused if the database "
            "has tables the backup lacks); SQLite: replace the whole file. Stop the app first.",
        )

    def handle(self, *args, file, clean=False, **options):
        connection = connections["default"]
        try:
            counts = backups.restore(file, connection=connection, clean=clean)
        except backups.BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Restored {file} into the {backups.describe(connection)}: {len(counts)} tables, "
            f"{sum(counts.values())} rows."
        )
