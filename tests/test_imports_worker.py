"""A long import runs as background jobs on a REAL worker process: the preview, then the
applying, each with progress on the batch's page (issue 11 on the issue 10 task queue)."""

import io
import signal

import pytest
from django.conf import settings
from django.urls import reverse

from tests.test_imports import book_row, csv_bytes
from tests.test_tasks import make_book
from tests.test_tasks_worker import wait_for, worker_db, workers  # noqa: F401 (fixtures)
from tracker.choices import ImportState
from tracker.models import ChangeLog, ImportBatch, Job, JobState, Project

pytestmark = pytest.mark.django_db(transaction=True)

ROWS = 12


def batch_in(pk, *states):
    batch = ImportBatch.objects.get(pk=pk)
    return batch if batch.state in states else None


def test_a_long_file_is_previewed_and_applied_by_a_worker(client, workers, monkeypatch):  # noqa: F811
    book = make_book(ROWS)
    monkeypatch.setitem(settings.TRACKER, "IMPORT_BACKGROUND_ROWS", ROWS - 1)
    clerk = book["county"]
    projects = list(Project.objects.order_by("pk"))
    rows = [book_row(p, **{"项目名称": f"{p.name}（导入）"}) for p in projects]
    client.force_login(clerk)
    body = io.BytesIO(csv_bytes(rows))
    body.name = "book.csv"
    response = client.post(reverse("tracker:import_upload", args=["projects"]), {"file": body})
    batch = ImportBatch.objects.get()
    assert batch.state == ImportState.PREVIEWING and batch.job is not None
    page = client.get(response.url)
    assert b'http-equiv="refresh"' in page.content and b'id="import-progress"' in page.content

    proc = workers.start("w1")
    ready = wait_for(lambda: batch_in(batch.pk, ImportState.READY), "the preview", [proc])
    assert ready.plan["counts"] == {"create": 0, "update": ROWS, "unchanged": 0, "error": 0}
    assert Job.objects.get(pk=ready.job_id).state == JobState.DONE
    page = client.get(response.url)
    assert b'http-equiv="refresh"' not in page.content and b'id="import-confirm"' in page.content

    client.post(reverse("tracker:import_confirm", args=[batch.pk]))
    applied = wait_for(
        lambda: batch_in(batch.pk, ImportState.APPLIED, ImportState.FAILED), "applying", [proc]
    )
    assert applied.state == ImportState.APPLIED, applied.message
    names = list(Project.objects.order_by("pk").values_list("name", flat=True))
    assert names == [f"{p.name}（导入）" for p in projects]
    notes = set(ChangeLog.objects.filter(field="name").values_list("note", flat=True))
    assert notes == {f"Excel导入 #{batch.pk}"}
    proc.send_signal(signal.SIGTERM)
