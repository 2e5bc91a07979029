"""manage.py run_worker: a background worker (README, "Background work").

The engine's database worker (django-tasks-db's ``db_worker``) runs the tasks; beside it a
housekeeping thread of this process, every ``TRACKER['JOB_HEARTBEAT_SECONDS']``:

- writes the heartbeat of the job this worker is running (so a killed worker's job is seen
  as stale by the others and queued again: tracker.jobs.recover_stale);
- queues again the jobs of workers that stopped beating, on any host;
- schedules the daily overdue check once its time has come (once per day in all, however many
  workers run: tracker.jobs.schedule_daily);
- once an hour deletes jobs and task rows older than ``TRACKER['JOB_KEEP_DAYS']``.

Start as many as needed, on any host that reaches the database; each gets its own id.
"""

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections, connection
from django_tasks_db.management.commands import db_worker

from tracker import jobs

logger = logging.getLogger(__name__)
PRUNE_EVERY_SECONDS = 3600


def housekeeping_loop(worker_id, stop):
    last_prune = None
    while not stop.is_set():
        now = time.monotonic()
        prune_now = last_prune is None or now - last_prune >= PRUNE_EVERY_SECONDS
        try:
            close_old_connections()
            jobs.housekeeping(worker_id, prune_now=prune_now)
            if prune_now:
                last_prune = now
        except Exception:  # a database hiccup must not end the worker's heartbeat for good
            logger.exception("housekeeping of worker %s failed", worker_id)
        stop.wait(settings.TRACKER["JOB_HEARTBEAT_SECONDS"])
    connection.close()


class Command(db_worker.Command):
    help = (
        "Run a background worker: the task engine's database worker plus the tracker's "
        "housekeeping (heartbeat, retry of jobs whose worker died, the daily overdue check, "
        "pruning of old jobs). Start one or more per host."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        # Reloading would run the housekeeping in the reloader's parent process too.
        parser.set_defaults(reload=False)

    def handle(self, *args, **options):
        stop = threading.Event()
        thread = threading.Thread(
            target=housekeeping_loop,
            args=(options["worker_id"], stop),
            name="housekeeping",
            daemon=True,
        )
        thread.start()
        try:
            super().handle(*args, **options)
        finally:
            stop.set()
