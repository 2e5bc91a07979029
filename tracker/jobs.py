"""The one write path of background jobs (tracker.models.Job): queue, claim, progress,
finish, fail, and the worker's housekeeping (heartbeat, recovery, the daily schedule, pruning).

The engine (django-tasks, database backend) only carries "run job N" to a worker. Whether a
job runs, and once, is decided here by conditional UPDATEs on the job's row, so that any
number of workers on any number of hosts can share the queue:

- ``claim`` turns a queued job into a running one for one worker (``WHERE state = queued``);
  a duplicate delivery finds nothing to claim and does nothing.
- A running job's worker writes ``heartbeat_at`` every ``JOB_HEARTBEAT_SECONDS`` (and on each
  progress step). A job whose heartbeat is older than ``JOB_STALE_SECONDS`` lost its worker
  (killed, host gone): ``recover_stale`` queues it again, as a new engine task, until it has
  had ``JOB_MAX_ATTEMPTS`` attempts; then it fails with a message.
- ``finish`` and ``fail`` count only for the worker that holds the job, so a worker that was
  presumed dead and comes back cannot overwrite the retry's result.
- The daily overdue check is one job per day (a partial unique constraint on
  ``(kind, run_for)``): every worker may try to schedule it, one succeeds.

Who may see a job: its requester only (tracker.permissions, target "job").
"""

import datetime
import logging

import psycopg
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from . import permissions
from .choices import ImportState
from .models import FILE_PART_BYTES, ImportBatch, Job, JobFilePart, JobKind, JobState

logger = logging.getLogger(__name__)

EXPORT_FORMATS = ("csv", "xlsx")
EXPORT_LISTS = ("projects", "problems", "inspections")
WORKER_LOST = _(
    "The worker running this job stopped %(attempts)s times; the job was given up. "
    "Please try again."
)
ONLY_MANAGERS = _("Only city bureau managers publish the monthly report.")
PUBLISHING_BY_ANOTHER = _(
    "%(name)s is publishing this version right now; "
    "it appears in the list of versions when it is done."
)


def setting(name):
    return settings.TRACKER[name]


def visible_to(user):
    """The jobs ``user`` may see and download: their own."""
    return permissions.restrict(Job.objects.all(), user, permissions.VIEW)


def _enqueue_task(job):
    # The task module imports the views (to re-run a list's filter as its page does), and
    # the views import this module: imported here to break that cycle.
    from .tasks import run_job

    result = run_job.enqueue(job.pk)
    Job.objects.filter(pk=job.pk).update(task_id=str(result.id))
    job.task_id = str(result.id)
    return job


def _queue(**fields):
    with transaction.atomic():  # the job and its engine task appear together
        job = Job.objects.create(**fields)
        return _enqueue_task(job)


def queue_export(*, user, list_name, fmt, query):
    """Queue the export of list ``list_name`` as ``fmt`` with the page's query string.

    The same export asked again by the same user while it still waits or runs (a reload of
    the export link, a second click) gets that job back instead of a second one."""
    if list_name not in EXPORT_LISTS or fmt not in EXPORT_FORMATS:
        raise ValueError(f"no such export: {list_name} {fmt}")
    params = {"list": list_name, "format": fmt, "query": query}
    return _queue_once(kind=JobKind.EXPORT, user=user, params=params)


def _queue_once(*, kind, user, params):
    """A new job of ``kind`` for ``user`` with ``params``, or the same one still waiting or
    running (a reload, a second click)."""
    with transaction.atomic():
        pending = (
            Job.objects.select_for_update()
            .filter(
                kind=kind,
                requested_by=user,
                state__in=[JobState.QUEUED, JobState.RUNNING],
                params=params,
            )
            .first()
        )
        return pending or _queue(kind=kind, requested_by=user, params=params)


def queue_publish(*, user, year, month, version, reason):
    """Queue publishing ``year``-``month`` as ``version``. A second confirmation of the
    same version while the first is still waiting or running gets the first job back; one
    that arrives later fails in the service's own check (``expected_version``)."""
    if not permissions.may(user, permissions.PUBLISH, "report"):
        raise PermissionDenied(ONLY_MANAGERS)
    params = {"year": year, "month": month, "version": version, "reason": reason}
    with transaction.atomic():
        pending = (
            Job.objects.select_for_update()
            .filter(
                kind=JobKind.PUBLISH,
                state__in=[JobState.QUEUED, JobState.RUNNING],
                params__year=year,
                params__month=month,
                params__version=version,
            )
            .first()
        )
        if pending is not None:
            if pending.requested_by_id != user.pk:  # its page is its requester's alone
                raise ValidationError(
                    PUBLISHING_BY_ANOTHER % {"name": pending.requested_by.display()}
                )
            return pending
        return _queue(kind=JobKind.PUBLISH, requested_by=user, params=params)


def queue_bulk(*, user, params):
    """Queue a confirmed bulk change (tracker.bulk; ``params``: its arguments as JSON). The
    same change confirmed again while it waits or runs is that job."""
    return _queue_once(kind=JobKind.BULK, user=user, params=params)


def queue_import(*, user, batch, step):
    """Queue a step ("preview" or "apply") of import batch ``batch`` (tracker.imports)."""
    return _queue(kind=JobKind.IMPORT, requested_by=user, params={"batch": batch, "step": step})


# --- what a worker does with one job -----------------------------------------------------------
def claim(job_id, *, worker_id):
    """The job, now running for ``worker_id``; None when it is not waiting (done, failed,
    or already taken by another worker)."""
    now = timezone.now()
    taken = Job.objects.filter(pk=job_id, state=JobState.QUEUED).update(
        state=JobState.RUNNING,
        worker_id=worker_id,
        attempts=F("attempts") + 1,
        started_at=now,
        heartbeat_at=now,
        done=0,
        total=0,
    )
    return Job.objects.select_related("requested_by").get(pk=job_id) if taken else None


def _held(job):
    return Job.objects.filter(pk=job.pk, state=JobState.RUNNING, worker_id=job.worker_id)


def progress(job, *, done, total):
    """Record how far the job got (and that its worker is alive)."""
    total = max(total, done)
    _held(job).update(done=done, total=total, heartbeat_at=timezone.now())
    job.done, job.total = done, total


def write_file(job, chunks):
    """Store the byte strings ``chunks`` as the file of the job's current attempt, in parts of
    FILE_PART_BYTES, one part in memory at a time. Each part commits on its own, so the
    progress and heartbeats of a long export stay visible to the other workers. Returns the
    size."""
    JobFilePart.objects.filter(job=job, attempt=job.attempts).delete()
    number, size, buffer = 0, 0, bytearray()

    def flush():
        nonlocal number
        _insert_part(job, number, bytes(buffer))
        number += 1
        buffer.clear()

    for chunk in chunks:
        buffer += chunk
        size += len(chunk)
        if len(buffer) >= FILE_PART_BYTES:
            flush()
    if buffer or not number:
        flush()
    return size


def _insert_part(job, number, data):
    """Store part ``number`` of the file of the job's current attempt.

    On PostgreSQL the bytes go as a binary parameter (a cursor that binds on the server):
    Django's client-side binding sends them as a hex literal, twice their size, for the
    server to parse; a 30 MB export in 1 MB parts took 1.96 s to store that way, 0.87 s
    this way."""
    if connection.vendor != "postgresql":
        JobFilePart.objects.create(job=job, attempt=job.attempts, number=number, data=data)
        return
    meta = JobFilePart._meta
    columns = ", ".join(
        connection.ops.quote_name(meta.get_field(name).column)
        for name in ("job", "attempt", "number", "data")
    )
    table = connection.ops.quote_name(meta.db_table)
    sql = f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s)"
    connection.ensure_connection()
    with connection._prepare_cursor(psycopg.Cursor(connection.connection)) as cursor:
        cursor.execute(sql, [job.pk, job.attempts, number, data])


def read_file(job):
    """The file of a finished job, part after part (one part read at a time)."""
    parts = JobFilePart.objects.filter(job=job, attempt=job.attempts).order_by("number")
    for pk in list(parts.values_list("pk", flat=True)):
        yield bytes(JobFilePart.objects.values_list("data", flat=True).get(pk=pk))


def finish(job, *, file=None, file_name="", fallback_name="", content_type="", result_url=""):
    """The job is done: its file (bytes, or an iterable of byte strings, stored in parts) or
    the page of its result. False when the job is no longer this worker's (it was presumed
    dead and retried): then the parts it wrote go, and the retry's stay."""
    size = None
    if file is not None:
        if not _held(job).exists():
            return False
        size = write_file(job, [file] if isinstance(file, bytes | bytearray) else file)
    with transaction.atomic():
        done = _held(job).update(
            state=JobState.DONE,
            finished_at=timezone.now(),
            done=F("total"),
            file_size=size,
            file_name=file_name,
            content_type=content_type,
            fallback_name=fallback_name,
            result_url=result_url,
            error="",
        )
        mine = JobFilePart.objects.filter(job=job, attempt=job.attempts)
        if done:  # a dead run's parts are not the file
            JobFilePart.objects.filter(job=job).exclude(attempt=job.attempts).delete()
        else:
            mine.delete()
    return bool(done)


def fail(job, message):
    """The job failed for a reason a retry cannot fix (the message is shown to the user)."""
    return bool(
        _held(job).update(state=JobState.FAILED, finished_at=timezone.now(), error=message[:2000])
    )


# --- the worker's housekeeping ---------------------------------------------------------------
def beat(worker_id):
    """Heartbeat of every job ``worker_id`` is running."""
    return Job.objects.filter(state=JobState.RUNNING, worker_id=worker_id).update(
        heartbeat_at=timezone.now()
    )


def recover_stale(*, now=None):
    """Queue again each running job whose worker stopped beating; fail it after the last
    attempt. Returns (requeued, failed)."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(seconds=setting("JOB_STALE_SECONDS"))
    stale = Job.objects.filter(state=JobState.RUNNING, heartbeat_at__lt=cutoff)
    requeued = failed = 0
    for job in stale.only("pk", "attempts", "worker_id", "heartbeat_at", "task_id"):
        held = Job.objects.filter(
            pk=job.pk, state=JobState.RUNNING, worker_id=job.worker_id, heartbeat_at__lt=cutoff
        )
        if job.attempts >= setting("JOB_MAX_ATTEMPTS"):
            with transaction.atomic():
                given_up = held.update(
                    state=JobState.FAILED,
                    finished_at=now,
                    error=str(WORKER_LOST % {"attempts": job.attempts}),
                )
                if given_up:
                    _close_dead_task(job.task_id, now=now)
                failed += given_up
            continue
        with transaction.atomic():
            # Only the worker whose UPDATE moves the row queues the new task.
            if held.update(state=JobState.QUEUED, worker_id="", heartbeat_at=None):
                _close_dead_task(job.task_id, now=now)
                _enqueue_task(job)
                requeued += 1
                logger.warning("job %s lost its worker %s: queued again", job.pk, job.worker_id)
    return requeued, failed


def _close_dead_task(task_id, *, now):
    """The engine leaves a killed worker's task "running" for ever: mark it failed, so that
    its table says what happened and pruning removes it."""
    DBTaskResult.objects.filter(pk=task_id, status=TaskResultStatus.RUNNING).update(
        status=TaskResultStatus.FAILED, finished_at=now
    )


def _check_time():
    hours, minutes = setting("OVERDUE_CHECK_TIME").split(":")
    return datetime.time(int(hours), int(minutes))


def schedule_daily(*, now=None):
    """Queue today's overdue check once its time has come; None when it is not due yet
    or already queued (by this worker or another)."""
    local = timezone.localtime(now or timezone.now())
    if local.time() < _check_time():
        return None
    try:
        with transaction.atomic():
            return _queue(kind=JobKind.OVERDUE_CHECK, run_for=local.date())
    except IntegrityError:  # job_one_scheduled_run_per_day: another worker was first
        return None


def prune(*, now=None):
    """Delete the jobs (with their files) and the engine's finished task rows older than
    ``JOB_KEEP_DAYS``. Unfinished jobs stay. Returns the number of jobs deleted."""
    cutoff = (now or timezone.now()) - datetime.timedelta(days=setting("JOB_KEEP_DAYS"))
    deleted, _ = Job.objects.filter(
        state__in=[JobState.DONE, JobState.FAILED], created_at__lt=cutoff
    ).delete()
    DBTaskResult.objects.finished().filter(finished_at__lt=cutoff).delete()
    # Uploaded spreadsheets (up to IMPORT_MAX_BYTES each) and their previews: as long.
    ImportBatch.objects.filter(created_at__lt=cutoff).exclude(
        state__in=[ImportState.PREVIEWING, ImportState.APPLYING]
    ).delete()
    return deleted


def housekeeping(worker_id, *, now=None, prune_now=False):
    """One round of a worker's housekeeping (manage.py run_worker calls it periodically)."""
    beat(worker_id)
    recover_stale(now=now)
    schedule_daily(now=now)
    if prune_now:
        prune(now=now)
