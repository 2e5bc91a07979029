"""Background jobs in this process: who sees a job, which exports become jobs, progress,
recovery of a dead worker's job, the daily schedule and pruning (tracker.jobs).
The real worker processes are in tests/test_tasks_worker.py."""

import datetime

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from tests import factories
from tracker import jobs, tasks
from tracker.choices import Role
from tracker.models import FILE_PART_BYTES, Job, JobFilePart, JobKind, JobState, MonthlyReport
from tracker.reports.publishing import publish_monthly_report

pytestmark = pytest.mark.django_db

ROWS = 6


def make_book(rows=ROWS):
    """``rows`` projects of one county, its clerk and another, and a manager."""
    region = factories.region(name="袁州区")
    for _ in range(rows):
        factories.project(region=region)
    return {
        "manager": factories.user(Role.MANAGER),
        "county": factories.user(Role.COUNTY, region=region),
        "other_county": factories.user(Role.COUNTY, region=region),
    }


@pytest.fixture
def book():
    return make_book()


def finished_export(user, content=b"code\n"):
    job = Job.objects.create(kind=JobKind.EXPORT, requested_by=user)
    job = jobs.claim(job.pk, worker_id="here")
    assert jobs.finish(
        job,
        file=content,
        file_name="项目清单.csv",
        fallback_name="projects.csv",
        content_type="text/csv; charset=utf-8",
    )
    job.refresh_from_db()
    return job


def test_a_file_is_stored_in_parts_and_served_whole(client, book):
    """A file of 2.5 parts: three rows of at most FILE_PART_BYTES, served back byte for byte
    with its length, and a dead attempt's parts are neither served nor kept."""
    content = bytes(range(256)) * (FILE_PART_BYTES * 5 // 2 // 256) + b"end"
    job = Job.objects.create(kind=JobKind.EXPORT, requested_by=book["county"])
    dead = jobs.claim(job.pk, worker_id="dead")
    jobs.write_file(dead, [b"stale " * 1000])  # the first attempt died after writing
    Job.objects.filter(pk=job.pk).update(state=JobState.QUEUED)
    retry = jobs.claim(job.pk, worker_id="alive")
    chunks = (content[i : i + 70_000] for i in range(0, len(content), 70_000))
    assert jobs.finish(retry, file=chunks, file_name="a.csv", content_type="text/csv")
    parts = list(JobFilePart.objects.filter(job=job).values_list("attempt", "number"))
    assert parts == [(2, 0), (2, 1), (2, 2)]
    assert all(
        len(data) <= FILE_PART_BYTES + 70_000
        for data in JobFilePart.objects.values_list("data", flat=True)
    )
    client.force_login(book["county"])
    response = client.get(reverse("tracker:job_download", args=[job.pk]))
    assert response.streaming and int(response["Content-Length"]) == len(content)
    assert b"".join(response.streaming_content) == content


def test_only_the_requester_sees_and_downloads_a_job(client, book):
    job = finished_export(book["county"])
    detail = reverse("tracker:job_detail", args=[job.pk])
    download = reverse("tracker:job_download", args=[job.pk])
    for who in ("other_county", "manager"):  # the same region, or a manager: still not theirs
        client.force_login(book[who])
        assert client.get(detail).status_code == 404
        assert client.get(download).status_code == 404
    client.force_login(book["county"])
    assert client.get(detail).status_code == 200
    response = client.get(download)
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"code\n"
    assert response["Content-Disposition"] == (
        "attachment; filename=\"projects.csv\"; filename*=UTF-8''"
        "%E9%A1%B9%E7%9B%AE%E6%B8%85%E5%8D%95.csv"
    )


def test_an_unfinished_job_has_no_file_and_its_page_refreshes_without_script(client, book):
    job = Job.objects.create(kind=JobKind.EXPORT, requested_by=book["county"], done=3, total=12)
    client.force_login(book["county"])
    assert client.get(reverse("tracker:job_download", args=[job.pk])).status_code == 404
    page = client.get(reverse("tracker:job_detail", args=[job.pk])).content.decode()
    assert '<meta http-equiv="refresh" content="2">' in page
    assert 'value="25"' in page and "<script>" not in page


@pytest.mark.parametrize(("limit", "background"), [(ROWS, False), (ROWS - 1, True)])
def test_an_export_beyond_the_limit_becomes_a_job(client, book, monkeypatch, limit, background):
    monkeypatch.setitem(settings.TRACKER, "EXPORT_BACKGROUND_ROWS", limit)
    client.force_login(book["county"])
    response = client.get(reverse("tracker:project_list"), {"region": "", "export": "csv"})
    assert Job.objects.exists() is background
    if background:
        job = Job.objects.get()
        assert response.status_code == 302
        assert (job.kind, job.requested_by, job.state) == (
            JobKind.EXPORT,
            book["county"],
            JobState.QUEUED,
        )
        assert job.params == {"list": "projects", "format": "csv", "query": "region=&export=csv"}
        assert DBTaskResult.objects.get(pk=job.task_id).task_path == "tracker.tasks.run_job"
    else:
        assert response.status_code == 200 and response.streaming


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_progress_is_recorded_as_the_rows_are_written(book, monkeypatch, fmt):
    monkeypatch.setattr(tasks, "PROGRESS_EVERY_SECONDS", 0)
    job = jobs.queue_export(user=book["county"], list_name="projects", fmt=fmt, query="region=")
    job = jobs.claim(job.pk, worker_id="here")
    seen = []
    recorded = jobs.progress

    def spy(job, *, done, total):
        seen.append((done, total))
        recorded(job, done=done, total=total)

    monkeypatch.setattr(jobs, "progress", spy)
    tasks.run_export(job)
    # both formats read the rows once (the XLSX spools them while measuring its columns)
    assert seen[0] == (0, ROWS)
    assert [done for done, _ in seen[1:]] == list(range(1, ROWS + 1))
    job.refresh_from_db()
    assert job.state == JobState.DONE and job.done == job.total == ROWS


def test_a_stale_job_is_queued_again_then_given_up_and_the_old_worker_cannot_finish_it(book):
    job = jobs.queue_export(user=book["county"], list_name="projects", fmt="csv", query="")
    first_task = job.task_id
    job = jobs.claim(job.pk, worker_id="dead")
    stale = settings.TRACKER["JOB_STALE_SECONDS"]
    now = timezone.now()
    # A heartbeat just within the limit is alive.
    Job.objects.filter(pk=job.pk).update(heartbeat_at=now - datetime.timedelta(seconds=stale))
    assert jobs.recover_stale(now=now) == (0, 0)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=now - datetime.timedelta(seconds=stale + 1))
    assert jobs.recover_stale(now=now) == (1, 0)
    job.refresh_from_db()
    assert job.state == JobState.QUEUED and job.task_id != first_task
    assert not jobs.finish(job, file=b"late")  # the presumed dead worker comes back
    for attempt in range(2, settings.TRACKER["JOB_MAX_ATTEMPTS"] + 1):
        job = jobs.claim(job.pk, worker_id=f"dead-{attempt}")
        # as the engine marks the task its worker took (and never closes, the worker killed)
        DBTaskResult.objects.filter(pk=job.task_id).update(status=TaskResultStatus.RUNNING)
        assert job.attempts == attempt
        Job.objects.filter(pk=job.pk).update(heartbeat_at=now - datetime.timedelta(hours=1))
        expected = (1, 0) if attempt < settings.TRACKER["JOB_MAX_ATTEMPTS"] else (0, 1)
        assert jobs.recover_stale(now=now) == expected
    job.refresh_from_db()
    assert job.state == JobState.FAILED and job.file_size is None and job.error
    assert not job.file_parts.exists()
    # no engine row is left "running" for ever by the attempts that died
    assert not DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).exists()


def test_the_same_export_asked_again_while_it_waits_is_the_same_job(client, book, monkeypatch):
    monkeypatch.setitem(settings.TRACKER, "EXPORT_BACKGROUND_ROWS", ROWS - 1)
    client.force_login(book["county"])
    url = reverse("tracker:project_list")
    first = client.get(url, {"region": "", "export": "csv"})
    again = client.get(url, {"region": "", "export": "csv"})
    assert first["Location"] == again["Location"] and Job.objects.count() == 1
    # another format, another user: jobs of their own
    client.get(url, {"region": "", "export": "xlsx"})
    client.force_login(book["other_county"])
    client.get(url, {"region": "", "export": "csv"})
    assert Job.objects.count() == 3
    # once the first has finished, asking again exports the book as it is now
    job = jobs.claim(Job.objects.order_by("pk").first().pk, worker_id="here")
    tasks.run_export(job)
    client.force_login(book["county"])
    client.get(url, {"region": "", "export": "csv"})
    assert Job.objects.filter(requested_by=book["county"], params__format="csv").count() == 2


def test_a_second_delivery_of_a_task_finds_nothing_to_claim(book):
    job = jobs.queue_export(user=book["county"], list_name="projects", fmt="csv", query="")
    assert jobs.claim(job.pk, worker_id="a") is not None
    assert jobs.claim(job.pk, worker_id="b") is None


def test_the_daily_check_is_scheduled_once_its_time_has_come_and_once_a_day(monkeypatch):
    monkeypatch.setitem(settings.TRACKER, "OVERDUE_CHECK_TIME", "00:30")
    day = datetime.date(2026, 12, 2)
    at = timezone.make_aware(datetime.datetime.combine(day, datetime.time(0, 29)))
    assert jobs.schedule_daily(now=at) is None
    at += datetime.timedelta(minutes=1)
    job = jobs.schedule_daily(now=at)
    assert (job.kind, job.run_for, job.requested_by) == (JobKind.OVERDUE_CHECK, day, None)
    assert jobs.schedule_daily(now=at + datetime.timedelta(hours=5)) is None  # another worker
    nextday = jobs.schedule_daily(now=at + datetime.timedelta(days=1))
    assert nextday.run_for == day + datetime.timedelta(days=1)
    assert Job.objects.filter(kind=JobKind.OVERDUE_CHECK).count() == 2


def test_pruning_deletes_finished_jobs_older_than_the_keep_days_only(book):
    keep = settings.TRACKER["JOB_KEEP_DAYS"]
    now = timezone.now()
    made = {}
    for name, state, age in (
        ("old_done", JobState.DONE, keep + 1),
        ("old_failed", JobState.FAILED, keep + 1),
        ("old_running", JobState.RUNNING, keep + 1),
        ("recent_done", JobState.DONE, keep - 1),
    ):
        job = Job.objects.create(kind=JobKind.EXPORT, requested_by=book["county"], state=state)
        Job.objects.filter(pk=job.pk).update(created_at=now - datetime.timedelta(days=age))
        made[name] = job.pk
    assert jobs.prune(now=now) == 2
    assert set(Job.objects.values_list("pk", flat=True)) == {
        made["old_running"],
        made["recent_done"],
    }


def test_publishing_is_refused_on_the_page_before_anything_is_queued(client, book):
    publish_monthly_report(year=2022, month=12, by=book["manager"])
    client.force_login(book["manager"])
    url = reverse("tracker:monthly_report_publish", kwargs={"month": "2022-12"})
    response = client.post(url, {"confirm": "yes", "version": "2", "reason": ""})
    assert response.status_code == 200  # version 2 needs a reason
    response = client.post(url, {"confirm": "yes", "version": "1", "reason": "再发"})
    assert response.status_code == 200  # version 1 is taken
    assert not Job.objects.exists()
    response = client.post(url, {"confirm": "yes", "version": "2", "reason": "更正"})
    assert response.status_code == 302
    job = Job.objects.get()
    assert job.params == {"year": 2022, "month": 12, "version": 2, "reason": "更正"}
    client.force_login(book["county"])
    assert client.post(url, {"confirm": "yes", "version": "2", "reason": "x"}).status_code == 403
    assert MonthlyReport.objects.count() == 1 and Job.objects.count() == 1


def test_a_second_manager_confirming_the_same_version_is_told_who_is_publishing_it(client, book):
    other = factories.user(Role.MANAGER, display_name="李处长")
    url = reverse("tracker:monthly_report_publish", kwargs={"month": "2022-12"})
    book["manager"].display_name = "王科长"
    book["manager"].save()
    client.force_login(book["manager"])
    assert client.post(url, {"confirm": "yes", "version": "1", "reason": ""}).status_code == 302
    client.force_login(other)
    response = client.post(url, {"confirm": "yes", "version": "1", "reason": ""})
    assert response.status_code == 200  # not the first manager's job page, which is his alone
    assert "王科长正在发布此版本" in response.content.decode()
    assert Job.objects.count() == 1 and Job.objects.get().requested_by == book["manager"]


def run_queued_jobs():
    """Run every queued job here, as a worker would (for tests of the pages that queue)."""
    for pk in Job.objects.filter(state=JobState.QUEUED).order_by("pk").values_list("pk", flat=True):
        job = jobs.claim(pk, worker_id="test")
        tasks.RUNNERS[job.kind](job)
