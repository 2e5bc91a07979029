"""manage.py generate_scale_data: province-scale illustrative data for measuring (DEBUG only).

Adds to a database the seed has loaded (``manage.py seed``): see tracker/seed/scale.py.
"""

import datetime
import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tracker.seed import EARLIEST_LOAD_DATE
from tracker.seed.scale import NotReady, generate


class ProgressBar:
    """A one-line progress bar on stderr (redrawn in place on a terminal)."""

    def __init__(self, stream, label):
        self.stream, self.label = stream, label
        self.started = time.monotonic()
        self.tty = stream.isatty()
        self.shown = -1

    def __call__(self, done, total):
        percent = 100 * done // max(total, 1)
        if not self.tty and percent // 10 == self.shown // 10 and done < total:
            return  # a log file gets a line per 10 %
        self.shown = percent
        elapsed = time.monotonic() - self.started
        eta = elapsed / done * (total - done) if done else 0
        bar = "#" * (percent // 4) + "." * (25 - percent // 4)
        line = (
            f"{self.label} [{bar}] {percent:3d}% {done:,}/{total:,}  "
            f"{elapsed:6.0f} s elapsed, ~{eta:5.0f} s left"
        )
        self.stream.write(("\r" if self.tty else "") + line + ("" if self.tty else "\n"))
        if self.tty and done >= total:
            self.stream.write("\n")
        self.stream.flush()


class Command(BaseCommand):
    help = (
        "DEBUG only: add province-scale illustrative data (11 cities' regions, projects with "
        "their history, weekly dispatches, problems, inspections) to a seeded database."
    )

    def add_arguments(self, parser):
        parser.add_argument("--projects", type=int, required=True, help="Projects to add.")
        parser.add_argument(
            "--weeks",
            type=int,
            required=True,
            help="Weekly dispatches per project: the last WEEKS full ISO weeks (from the "
            "project's signing week on).",
        )
        parser.add_argument("--seed", type=int, default=0, help="Random seed (default 0).")
        parser.add_argument(
            "--today", metavar="YYYY-MM-DD", help="Load date (default: today, Asia/Shanghai)."
        )

    def handle(self, *args, projects, weeks, seed, today=None, **options):
        if projects < 1 or weeks < 1:
            raise CommandError("--projects and --weeks must be at least 1.")
        day = timezone.localdate()
        if today:
            try:
                day = datetime.date.fromisoformat(today)
            except ValueError:
                raise CommandError(f"--today must be YYYY-MM-DD, not {today!r}.") from None
        if day < EARLIEST_LOAD_DATE:
            raise CommandError(f"--today must be on or after {EARLIEST_LOAD_DATE}.")
        started = time.monotonic()
        try:
            counts = generate(
                projects=projects,
                weeks=weeks,
                seed=seed,
                today=day,
                progress=ProgressBar(getattr(self.stderr, "_out", sys.stderr), "projects"),
            )
        except NotReady as error:
            raise CommandError(str(error)) from None
        elapsed = time.monotonic() - started
        first, last = counts.window
        self.stdout.write(
            self.style.SUCCESS(
                f"Scale data generated in {elapsed:.1f} s (seed {seed}, weeks "
                f"{first.isoformat()} … {last.isoformat()})."
            )
        )
        self.stdout.write(
            f"Added: {counts.regions} regions, {counts.parks} parks, {counts.users} county "
            f"clerk accounts, {counts.enterprises} enterprises, {counts.projects} projects, "
            f"{counts.stage_changes} stage changes, {counts.dispatches} weekly dispatches, "
            f"{counts.problems} problems ({counts.problem_events} events), "
            f"{counts.inspections} inspections ({counts.rectification_items} items)."
        )
