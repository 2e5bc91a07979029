"""manage.py backup: back up the database to a timestamped file (see tracker/backups.py)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.utils import timezone

from tracker import backups


def human_size(size):
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return None  # not reached


class Command(BaseCommand):
    help = (
        "Back up the database of DATABASE_URL: pg_dump --format=custom for PostgreSQL, "
        "SQLite's online backup for SQLite. The file is written under a temporary name, read "
        "back, and only then renamed, by default to "
        "$DJANGO_BACKUP_DIR/yichun-<UTC timestamp>.pgdump|.sqlite3 (default directory: "
        "backups/ in the project). Restore it with manage.py restore FILE."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output", metavar="FILE", help="Write the backup to FILE (never overwritten)."
        )
        parser.add_argument(
            "--keep-days",
            type=int,
            metavar="N",
            help="After a successful backup, delete the backups named yichun-<timestamp>.* in "
            "the same directory that were taken more than N days ago.",
        )

    def handle(self, *args, output=None, keep_days=None, **options):
        if keep_days is not None and keep_days < 1:
            raise CommandError("--keep-days must be at least 1.")
        connection = connections["default"]
        now = timezone.now()
        try:
            backup = backups.back_up(connection=connection, output=output, now=now)
            removed = (
                backups.prune(backup.path.parent, keep_days=keep_days, now=now) if keep_days else []
            )
        except backups.BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Backed up the {backups.describe(connection)} to {backup.path}: "
            f"{backup.size} bytes ({human_size(backup.size)})."
        )
        self.stdout.write(backup.check)
        if keep_days:
            self.stdout.write(
                f"Kept {keep_days} days: deleted {len(removed)} older backup(s)"
                + (": " + ", ".join(path.name for path in removed) if removed else ".")
            )
