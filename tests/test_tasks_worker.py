"""Background jobs run by a REAL worker process (``manage.py run_worker`` in a subprocess),
on SQLite and on PostgreSQL.

The worker must reach the test database: on PostgreSQL it connects to the test database by
name; on SQLite, whose test database lives in this process's memory, the fixture copies the
database to a file for the duration of the test and points this process's connection at it
too (the in-memory database is kept open underneath, untouched, and is the one restored).

Every wait is for a condition (a job's state), with a ceiling, never a pause.
"""

import io
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from openpyxl import load_workbook

from tests.databases import postgres_url
from tests.test_tasks import make_book
from tracker.models import Job, JobKind, JobState, MonthlyReport

pytestmark = pytest.mark.django_db(transaction=True)

CEILING_SECONDS = 60
HEARTBEAT = "0.2"
STALE = "2"
ROWS = 12

# A worker whose export stops after its first row until the file ``TEST_GATE`` exists: the
# test sees it mid-task (progress recorded, heartbeat beating) and kills it there. Otherwise
# exactly ``manage.py run_worker``.
WORKER = """
import os, sys, time
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yichun.settings")
django.setup()
from tracker import jobs, tasks
gate = os.environ.get("TEST_GATE")
if gate:
    counted = tasks._Progress.__call__
    def held(self):
        counted(self)
        if self.done == 1:
            jobs.progress(self.job, done=1, total=self.total)
            while not os.path.exists(gate):
                time.sleep(0.05)
    tasks._Progress.__call__ = held
from django.core.management import call_command
call_command("run_worker", *sys.argv[1:])
"""


@pytest.fixture
def worker_db(transactional_db, tmp_path):
    """The DATABASE_URL under which another process reaches this test's database."""
    if connection.vendor != "sqlite":
        yield postgres_url(connection.settings_dict)
        return
    path = str(tmp_path / "worker.sqlite3")
    connection.ensure_connection()
    memory = connection.connection
    target = sqlite3.connect(path)
    memory.backup(target)
    target.close()
    name = connection.settings_dict["NAME"]
    connection.connection = None
    connection.settings_dict["NAME"] = path
    try:
        yield f"sqlite:///{path}"
    finally:
        connection.close()
        connection.settings_dict["NAME"] = name
        connection.connection = memory


class Workers:
    def __init__(self, url, tmp_path):
        self.url, self.tmp_path, self.procs = url, tmp_path, []

    def start(self, name, *, gate=None, **env):
        environ = {
            **os.environ,
            "DATABASE_URL": self.url,
            "DJANGO_SECRET_KEY": "test-only",
            "TRACKER_JOB_HEARTBEAT_SECONDS": HEARTBEAT,
            "TRACKER_JOB_STALE_SECONDS": STALE,
            "TRACKER_OVERDUE_CHECK_TIME": "23:59",
            **env,
        }
        environ.pop("DJANGO_DEBUG", None)
        if gate:
            environ["TEST_GATE"] = str(gate)
        command = [sys.executable, "-c", WORKER, "--interval", "0.1", "--no-startup-delay"]
        proc = subprocess.Popen(
            [*command, "--worker-id", name],
            cwd=settings.BASE_DIR,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def stop_all(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def workers(worker_db, tmp_path):
    pool = Workers(worker_db, tmp_path)
    yield pool
    pool.stop_all()


def wait_for(condition, what, procs=()):
    deadline = time.monotonic() + CEILING_SECONDS
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        for proc in procs:
            if proc.poll() is not None:
                output = proc.stdout.read().decode(errors="replace")
                raise AssertionError(f"worker exited ({proc.returncode}) before {what}:\n{output}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def job_in(pk, *states):
    job = Job.objects.get(pk=pk)
    return job if job.state in states else None


@pytest.fixture
def book():
    return make_book(ROWS)


def queue_big_export(client, user, fmt, monkeypatch):
    monkeypatch.setitem(settings.TRACKER, "EXPORT_BACKGROUND_ROWS", ROWS - 1)
    client.force_login(user)
    response = client.get(reverse("tracker:project_list"), {"region": "", "export": fmt})
    assert response.status_code == 302, response.content[:300]
    job = Job.objects.get()
    assert response["Location"] == reverse("tracker:job_detail", args=[job.pk])
    return job


def immediate_export(client, fmt, monkeypatch):
    monkeypatch.setitem(settings.TRACKER, "EXPORT_BACKGROUND_ROWS", ROWS)
    response = client.get(reverse("tracker:project_list"), {"region": "", "export": fmt})
    assert response.status_code == 200
    return response


def cells(content):
    sheet = load_workbook(io.BytesIO(content)).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_big_export_becomes_a_job_whose_file_equals_the_immediate_export(
    client, book, workers, monkeypatch, fmt
):
    job = queue_big_export(client, book["county"], fmt, monkeypatch)
    page = client.get(reverse("tracker:job_detail", args=[job.pk]))
    assert page.status_code == 200
    assert b'http-equiv="refresh"' in page.content and b'id="job-progress"' in page.content
    proc = workers.start("w1")
    done = wait_for(lambda: job_in(job.pk, JobState.DONE, JobState.FAILED), "the export", [proc])
    assert done.state == JobState.DONE, done.error
    assert done.total == done.done == ROWS  # each writer reads the rows once

    page = client.get(reverse("tracker:job_detail", args=[job.pk]))
    assert b'http-equiv="refresh"' not in page.content and b'id="job-download"' in page.content
    download = client.get(reverse("tracker:job_download", args=[job.pk]))
    immediate = immediate_export(client, fmt, monkeypatch)
    assert download["Content-Disposition"] == immediate["Content-Disposition"]
    assert download["Content-Type"] == immediate["Content-Type"]
    stored = b"".join(download.streaming_content)  # served part by part
    assert int(download["Content-Length"]) == len(stored)
    if fmt == "csv":
        assert stored == b"".join(immediate.streaming_content)
    else:  # the same cells; the package's creation time is the only other difference
        assert cells(stored) == cells(b"".join(immediate.streaming_content))
        assert len(cells(stored)) > ROWS


def test_a_killed_worker_loses_nothing_another_worker_finishes_the_job(
    client, book, workers, monkeypatch, tmp_path
):
    job = queue_big_export(client, book["county"], "csv", monkeypatch)
    gate = tmp_path / "never"
    first = workers.start("doomed", gate=gate)
    running = wait_for(
        lambda: Job.objects.filter(pk=job.pk, state=JobState.RUNNING, done=1).first(),
        "the first worker mid-task",
        [first],
    )
    assert running.worker_id == "doomed" and running.total == ROWS
    page = client.get(reverse("tracker:job_detail", args=[job.pk]))
    percent = 100 // ROWS  # one row of ROWS done
    assert f'<progress id="job-progress" max="100" value="{percent}">'.encode() in page.content
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=20)

    second = workers.start("rescuer")
    done = wait_for(lambda: job_in(job.pk, JobState.DONE, JobState.FAILED), "the retry", [second])
    assert done.state == JobState.DONE, done.error
    assert done.attempts == 2 and done.worker_id == "rescuer"
    # The engine's row of the killed run is closed as failed; the retry's succeeded.
    statuses = set(DBTaskResult.objects.values_list("status", flat=True))
    assert statuses == {"FAILED", "SUCCESSFUL"}
    download = client.get(reverse("tracker:job_download", args=[job.pk]))
    assert b"".join(download.streaming_content) == b"".join(
        immediate_export(client, "csv", monkeypatch).streaming_content
    )


def test_two_workers_run_the_daily_check_once_and_prune_old_jobs(book, workers):
    old = Job.objects.create(kind=JobKind.EXPORT, requested_by=book["county"], state=JobState.DONE)
    Job.objects.filter(pk=old.pk).update(created_at=timezone.now() - timezone.timedelta(days=8))
    kept = Job.objects.create(kind=JobKind.EXPORT, requested_by=book["county"], state=JobState.DONE)
    procs = [workers.start(name, TRACKER_OVERDUE_CHECK_TIME="00:00") for name in ("a", "b")]
    check = wait_for(
        lambda: Job.objects.filter(kind=JobKind.OVERDUE_CHECK, state=JobState.DONE).first(),
        "the daily check",
        procs,
    )
    assert check.run_for == timezone.localdate()
    assert set(check.params) == {"problems", "items", "dispatches"}
    # Both workers keep trying to schedule the day: let each do several more rounds.
    rounds_done = time.monotonic() + 10 * float(HEARTBEAT)
    wait_for(lambda: time.monotonic() > rounds_done, "more housekeeping rounds", procs)
    assert Job.objects.filter(kind=JobKind.OVERDUE_CHECK).count() == 1
    assert not Job.objects.filter(pk=old.pk).exists()
    assert Job.objects.filter(pk=kept.pk).exists()


def test_publishing_runs_through_the_queue_and_lands_on_the_published_version(
    client, book, workers
):
    client.force_login(book["manager"])
    url = reverse("tracker:monthly_report_publish", kwargs={"month": "2022-12"})
    form = {"confirm": "yes", "version": "1", "reason": ""}
    first = client.post(url, form)
    second = client.post(url, form)  # a double click: the same job, not a second version
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Job.objects.filter(kind=JobKind.PUBLISH).count() == 1
    assert not MonthlyReport.objects.exists()
    job = Job.objects.get(kind=JobKind.PUBLISH)
    proc = workers.start("w1")
    done = wait_for(lambda: job_in(job.pk, JobState.DONE, JobState.FAILED), "publishing", [proc])
    assert done.state == JobState.DONE, done.error
    report = MonthlyReport.objects.get()
    assert (report.year, report.month, report.version, report.published_by_id) == (
        2022,
        12,
        1,
        book["manager"].pk,
    )
    landing = client.get(reverse("tracker:job_detail", args=[job.pk]))
    assert landing.status_code == 302
    assert landing["Location"] == reverse(
        "tracker:monthly_report_version", kwargs={"month": "2022-12", "version": 1}
    )
    # Confirming version 1 again now is refused on the page: nothing is queued.
    again = client.post(url, form)
    assert again.status_code == 200
    assert Job.objects.filter(kind=JobKind.PUBLISH).count() == 1
