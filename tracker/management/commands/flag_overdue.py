"""manage.py flag_overdue: the daily overdue check (see tracker/overdue.py for the rules)."""

import datetime

from django.core.management.base import BaseCommand, CommandError

from tracker.dispatching import week_label
from tracker.overdue import flag_overdue, lookback_weeks

CRONTAB = (
    "CRON_TZ=Asia/Shanghai\n"
    "30 0 * * * cd /srv/yichun && .venv/bin/python manage.py flag_overdue "
    ">> /var/log/yichun/flag_overdue.log 2>&1"
)


class Command(BaseCommand):
    help = (
        "Flag overdue problems (链长制问题) and rectification items (overdue_since = the day "
        "after the deadline) and weekly dispatches missing after their deadline "
        "(MissingDispatch), as of today in Asia/Shanghai. Running it again changes nothing "
        "more. Run it daily from cron, shortly after midnight, with the same environment as "
        "the app (DATABASE_URL, DJANGO_SECRET_KEY), e.g.:  " + CRONTAB.replace("\n", "  ")
    )

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
