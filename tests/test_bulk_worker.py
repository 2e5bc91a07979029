"""A bulk change of more projects than TRACKER_BULK_BACKGROUND_ROWS is a background job on a
REAL worker: the confirmation leads to the job's page, the worker applies the change (or, the
set having moved, nothing), and the page reports the result."""

import pytest
from django.conf import settings
from django.urls import reverse

from tests.test_bulk import NEW_UNIT, OLD_UNIT, confirm, hidden_inputs, many, world  # noqa: F401
from tests.test_bulk import _multi as multi
from tests.test_tasks_worker import wait_for, worker_db, workers  # noqa: F401 (fixtures)
from tracker.models import ChangeLog, Job, JobKind, JobState, Project

pytestmark = pytest.mark.django_db(transaction=True)

APPLY = reverse("tracker:project_bulk_apply")


def job_in(pk, *states):
    job = Job.objects.get(pk=pk)
    return job if job.state in states else None


def test_a_large_bulk_change_runs_on_a_worker_and_reports_its_result(
    client,
    world,  # noqa: F811
    workers,  # noqa: F811
    monkeypatch,
):
    monkeypatch.setitem(settings.TRACKER, "BULK_BACKGROUND_ROWS", 5)
    inside = many(world, 8)
    many(world, 2, region="b", prefix="B")
    client.force_login(world["manager"])
    query = f"region={world['a'].pk}"
    confirmation = confirm(
        client, field="responsible_unit", value={"responsible_unit": NEW_UNIT}, query=query
    )
    response = client.post(APPLY, multi(hidden_inputs(confirmation)))
    job = Job.objects.get(kind=JobKind.BULK)
    assert response.status_code == 302
    assert response["Location"] == reverse("tracker:job_detail", args=[job.pk])
    assert set(Project.objects.values_list("responsible_unit", flat=True)) == {OLD_UNIT}
    again = client.post(APPLY, multi(hidden_inputs(confirmation)))  # a second click
    assert again["Location"] == response["Location"] and Job.objects.count() == 1

    proc = workers.start("w1")
    done = wait_for(lambda: job_in(job.pk, JobState.DONE, JobState.FAILED), "the change", [proc])
    assert done.state == JobState.DONE, done.error
    units = dict(Project.objects.values_list("pk", "responsible_unit"))
    assert {pk for pk, unit in units.items() if unit == NEW_UNIT} == {p.pk for p in inside}
    notes = set(ChangeLog.objects.filter(field="responsible_unit").values_list("note", flat=True))
    assert notes == {"批量修改（责任单位，8个项目）"}
    page = client.get(response["Location"]).content.decode()
    assert 'id="bulk-job-result"' in page and "8" in page
