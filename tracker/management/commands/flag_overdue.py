"""manage.py flag_overdue: the daily overdue check (see tracker/overdue.py for the rules)."""

import argparse
import datetime
import textwrap

from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter

from tracker.dispatching import week_label
from tracker.overdue import flag_overdue, lookback_weeks

# /etc/yichun/env exports what the app processes get (DATABASE_URL, DJANGO_SECRET_KEY, …).
CRONTAB = (
    "CRON_TZ=Asia/Shanghai\n"
    "30 0 * * * cd /srv/yichun && . /etc/yichun/env && .venv/bin/python manage.py "
    "flag_overdue >> /var/log/yichun/flag_overdue.log 2>&1"
)


class _HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


class Command(BaseCommand):
    help = textwrap.fill(
        "Flag overdue problems (链长制问题) and rectification items (overdue_since = the day "
        "after the deadline) and weekly dispatches missing after their deadline "
        "(MissingDispatch), as of today in Asia/Shanghai. Running it again changes nothing "
        "more, and a missed day is caught up by the next run. The background workers "
        "(manage.py run_worker) run it daily by themselves; without them, run it daily from "
        "cron, shortly after midnight Asia/Shanghai, with the environment of the app processes "
        "(DATABASE_URL, DJANGO_SECRET_KEY, TRACKER_* settings), e.g. this crontab "
        "(CRON_TZ is read by cronie; with Debian's cron, the host's time zone applies):",
        width=79,
    ) + ("\n\n" + CRONTAB)

    def create_parser(self, prog_name, subcommand, **kwargs):
        # Keep the crontab lines of the help as they are written.
        kwargs.setdefault("formatter_class", _HelpFormatter)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument(
            "--today",
            metavar="YYYY-MM-DD",
            help="Check as of this day (default: today in Asia/Shanghai). A deadline on this "
            "day is not overdue yet.",
        )
        parser.add_argument(
            "--weeks",
            type=int,
            default=None,
            help="How many past weeks to check for missing dispatches (default: "
            "TRACKER['OVERDUE_LOOKBACK_WEEKS'] or 8).",
        )

    def handle(self, *args, today=None, weeks=None, **options):
        day = None
        if today is not None:
            try:
                day = datetime.date.fromisoformat(today)
            except ValueError:
                raise CommandError(
                    f"--today must be a date as YYYY-MM-DD, not {today!r}."
                ) from None
        weeks = lookback_weeks() if weeks is None else weeks
        if not 1 <= weeks <= 104:
            raise CommandError("--weeks must be between 1 and 104.")
        result = flag_overdue(today=day, weeks=weeks)
        span = ""
        if result.weeks:
            oldest, newest = result.weeks[-1], result.weeks[0]
            span = f" (weeks {week_label(*oldest)} to {week_label(*newest)})"
        self.stdout.write(
            f"Newly flagged: {result.problems} overdue problem(s), {result.items} overdue "
            f"rectification item(s), {result.dispatches} missing dispatch(es){span}."
        )
