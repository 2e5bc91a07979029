"""manage.py seed: load the reference data, the 2022 project book and the demo accounts.

Safe to run again: reference rows are matched on natural keys, projects are created once,
history is only extended (see tracker/seed/loader.py), demo accounts are created when
missing and never reset. Everything happens in one transaction.
"""

import datetime
import time
import unicodedata

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from tracker import permissions
from tracker.choices import Role
from tracker.models import Project
from tracker.money import yi
from tracker.seed import EARLIEST_LOAD_DATE, load
from tracker.seed.history import last_full_week_end
from tracker.seed.living import FIRST_YEAR as LIVING_FROM
from tracker.seed.problems import load_2022_problems, load_demo_problems
from tracker.seed.reviews import load_reviews

BOOK_YEAR = 2022


def _width(text):
    """Columns ``text`` takes in a terminal (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text, width):
    return text + " " * (width - _width(text))


class Command(BaseCommand):
    help = (
        "Load the regions, parks, chains, 2022 indicators and the 2022 project book with its "
        "history up to the last full week, and (DEBUG only) the demo accounts. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--today",
            metavar="YYYY-MM-DD",
            help="Load date (default: today in Asia/Shanghai); history stops at the last "
            "full ISO week before it.",
        )
        parser.add_argument(
            "--no-demo-users",
            action="store_true",
            help="Load the data only, without the demo accounts (required when DEBUG is off; "
            "with DEBUG off the generated history and sample inspections are not loaded either).",
        )
        parser.add_argument(
            "--living",
            action="store_true",
            help="DEBUG only (make run passes it): also the living demo, illustrative "
            "signings (示例) of every year from 2023 to the load date with their history, "
            "so that today's weekly sheets and the current year's figures have substance.",
        )
        parser.add_argument(
            "--skip-history",
            action="store_true",
            help="Reference data and the project book only: no stage changes after signing, "
            "no weekly dispatches (fast, for tests).",
        )

    def handle(
        self, *args, today=None, no_demo_users=False, skip_history=False, living=False, **options
    ):
        if not no_demo_users and not settings.DEBUG:
            raise CommandError(
                "The demo accounts share a published password and are for a local demo only: "
                "DEBUG is off, so nothing was loaded. Run with DJANGO_DEBUG=1, or pass "
                "--no-demo-users to load the data without them."
            )
        if living and not settings.DEBUG:
            raise CommandError(
                "The living demo's signings are illustrative and would count in the real "
                "figures: DEBUG is off, so nothing was loaded. Run without --living."
            )
        day = self._load_date(today)
        if not settings.DEBUG:
            # Generated history (stage changes, weekly dispatches, sample inspections) would
            # feed the real rates and lights unmarked: production gets the book at signing.
            skip_history = True
        started = time.monotonic()
        with transaction.atomic():
            summary, users = load(
                today=day,
                with_history=not skip_history,
                demo_users=not no_demo_users,
                living=living,
            )
            if users:  # demo problems need the demo accounts that raise and handle them
                load_2022_problems(summary=summary)
                load_demo_problems(today=day, summary=summary)
            # 2022 inspections (示例) in the demo only; default assessment weights always
            load_reviews(today=day, summary=summary, with_samples=settings.DEBUG)
        elapsed = time.monotonic() - started

        out = self.stdout
        until = last_full_week_end(day)
        week = until.isocalendar()
        out.write(
            self.style.SUCCESS(f"Seed loaded in {elapsed:.1f} s (load date {day.isoformat()}).")
        )
        if skip_history:
            out.write("History skipped: projects are at their signing stage.")
        else:
            out.write(f"History up to {until.isoformat()} (ISO week {week.year}-W{week.week:02d}).")
        created = ", ".join(f"{n} {name}" for name, n in summary.created.items() if n)
        updated = ", ".join(f"{n} {name}" for name, n in summary.updated.items() if n)
        out.write(f"Created: {created or 'nothing'}.")
        out.write(f"Updated: {updated or 'nothing'}.")
        if summary.kept_projects:
            out.write(
                f"{len(summary.kept_projects)} project(s) changed in the app since they were "
                "seeded: their history was left as it is."
            )
        if summary.ahead_projects:
            out.write(
                f"{len(summary.ahead_projects)} project(s) already have history past this load "
                "date: left as they are."
            )
        totals = Project.objects.signed_in(BOOK_YEAR).totals()
        amount = totals["amount"] or 0
        out.write(
            f"{BOOK_YEAR} project book: {totals['count']} projects, "
            f"{yi(amount)} 亿元 ({amount:.0f} 万元), "
            f'{totals["count_5020"]} "5020" projects, '
            f"{totals['count_billion']} projects of ≥ 1 亿元."
        )
        if living:
            added = Project.objects.filter(signed_on__year__gte=LIVING_FROM)
            out.write(
                f"Living demo (示例): {added.count()} projects signed {LIVING_FROM}–{day.year}."
            )
        if users:
            out.write("")
            out.write(f"Demo accounts (password: {settings.DEMO_PASSWORD}):")
            rows = [("username", "role", "scope")]
            rows += [(u.username, self._role(u), self._scope(u)) for u in users]
            widths = [max(_width(row[i]) for row in rows) for i in range(2)]
            for name, role, scope in rows:
                out.write(f"  {_pad(name, widths[0])}  {_pad(role, widths[1])}  {scope}")

    def _load_date(self, value):
        if value is None:
            day = timezone.localdate()
        elif isinstance(value, datetime.date):
            day = value
        else:
            try:
                day = datetime.date.fromisoformat(value)
            except ValueError:
                raise CommandError(
                    f"--today must be a date as YYYY-MM-DD, not {value!r}."
                ) from None
        if day < EARLIEST_LOAD_DATE:
            raise CommandError(
                f"The load date must be on or after {EARLIEST_LOAD_DATE.isoformat()}: the "
                f"{BOOK_YEAR} project book needs the whole of {BOOK_YEAR} behind it."
            )
        return day

    @staticmethod
    def _role(user):
        if user.is_superuser:
            return "superuser"
        return str(Role(user.role).label) if user.role else "-"

    @staticmethod
    def _scope(user):
        """What the account reaches, as the permission module says (no second copy of it)."""
        seen = Project.objects.visible_to(user).count()
        edited = Project.objects.editable_by(user).count()
        text = f"sees {seen} project(s), edits {edited}"
        return text + (", /admin/" if permissions.may_enter_admin(user) else "")
