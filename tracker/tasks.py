"""The task functions the worker runs (django-tasks; started by ``manage.py run_worker``).

There is one task, ``run_job(job_id)``: it claims the job (tracker.jobs) and runs the work of
its kind. The work and the job's "done" are written in one transaction where the work writes
(publishing, the overdue check), so a worker killed in between leaves neither; an export's
file is kept only by ``finish``. Either way a job whose worker died is queued again and
re-run from its stored parameters.
"""

import datetime
import logging
import time
from urllib.parse import unquote

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, QueryDict
from django.urls import reverse
from django_tasks import task

from . import bulk, columns, exports, imports, jobs
from .models import Job, JobKind
from .overdue import flag_overdue
from .reports.publishing import publish_monthly_report
from .views.problems import ProblemListView
from .views.projects import ProjectListView
from .views.reviews import InspectionListView

logger = logging.getLogger(__name__)

# The list pages whose filter an export re-runs: the same view class, so the job's rows are
# exactly the page's (scope, annotations, filters).
LIST_VIEWS = {
    "projects": ProjectListView,
    "problems": ProblemListView,
    "inspections": InspectionListView,
}
WRITERS = {"csv": exports.list_csv, "xlsx": exports.list_xlsx}
PROGRESS_EVERY_SECONDS = 1.0


def list_filterset(list_name, *, user, query):
    """The bound FilterSet of list ``list_name`` as ``user`` opening it with ``query``:
    the page's own view builds it (its queryset is the user's scope)."""
    request = HttpRequest()
    request.method = "GET"
    request.GET = QueryDict(query)
    request.user = user
    view = LIST_VIEWS[list_name]()
    view.setup(request)
    return view.get_filterset(view.get_filterset_class())


def _counting(queryset, tick):
    """``queryset`` whose row iterations call ``tick()`` per row (the writers iterate the
    filtered set with ``.iterator()``; its clones keep the class, so every pass counts)."""

    class Counting(type(queryset)):
        def iterator(self, chunk_size=None):
            for row in super().iterator(chunk_size=chunk_size):
                tick()
                yield row

    counted = queryset.all()
    counted.__class__ = Counting
    return counted


class _Progress:
    def __init__(self, job, total):
        self.job, self.total, self.done, self.last = job, total, 0, 0.0

    def __call__(self):
        self.done += 1
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY_SECONDS:
            self.last = now
            jobs.progress(self.job, done=min(self.done, self.total), total=self.total)


def disposition_names(disposition):
    """(UTF-8 name, ASCII name) of a Content-Disposition (tracker.spreadsheets.attachment)."""
    names = {}
    for part in disposition.split(";"):
        key, _, value = part.strip().partition("=")
        names[key] = value
    utf8 = unquote(names.get("filename*", "").split("''", 1)[-1])
    return utf8, names.get("filename", "").strip('"')


def run_export(job):
    params = job.params
    filterset = list_filterset(params["list"], user=job.requested_by, query=params["query"])
    if not filterset.is_valid():
        jobs.fail(job, "; ".join(str(e) for e in filterset.errors.values()))
        return
    fmt = params["format"]
    rows = filterset.qs.order_by().count()
    tick = _Progress(job, rows)  # both writers read the rows once
    jobs.progress(job, done=0, total=tick.total)
    filterset._qs = _counting(filterset.qs, tick)  # django-filter caches the filtered set here
    # The columns chosen when the export was asked are in its query (FilteredListView.
    # export_job_query); none there is every column.
    chosen, _error = columns.resolve(
        params["list"], QueryDict(params["query"]).get(columns.PARAM), None
    )
    response = WRITERS[fmt](params["list"], filterset, chosen)
    name, fallback = disposition_names(response["Content-Disposition"])
    jobs.finish(
        job,
        file=response.streaming_content,  # stored part by part as it is written
        file_name=name[:255],
        fallback_name=fallback[:255],
        content_type=response["Content-Type"],
    )


def run_publish(job):
    params = job.params
    try:
        with transaction.atomic():  # the new version and the job's "done" together
            report = publish_monthly_report(
                year=params["year"],
                month=params["month"],
                by=job.requested_by,
                reason=params["reason"],
                expected_version=params["version"],
            )
            label = f"{report.year}-{report.month:02d}"
            url = reverse(
                "tracker:monthly_report_version",
                kwargs={"month": label, "version": report.version},
            )
            if not jobs.finish(job, result_url=url):
                transaction.set_rollback(True)  # retried elsewhere: that run publishes
    except (ValidationError, PermissionDenied) as error:
        messages = getattr(error, "messages", None) or [str(error)]
        jobs.fail(job, " ".join(str(m) for m in messages))


def run_overdue_check(job):
    with transaction.atomic():
        result = flag_overdue(today=job.run_for)
        job.params = {
            "problems": result.problems,
            "items": result.items,
            "dispatches": result.dispatches,
        }
        Job.objects.filter(pk=job.pk).update(params=job.params)
        if not jobs.finish(job):
            transaction.set_rollback(True)


def run_bulk(job):
    """A confirmed bulk change too large for a request: the change and the job's "done"
    commit together, so a killed worker leaves neither and the retry starts clean."""
    params = job.params
    stage_on = params.get("stage_on")
    tick = _Progress(job, params.get("count") or 0)
    try:
        with transaction.atomic():
            result = bulk.apply_bulk_change(
                by=job.requested_by,
                field=params["field"],
                value=params["value"],
                fingerprint=params["fingerprint"],
                ids=params.get("ids"),
                query=params.get("query"),
                stage_on=datetime.date.fromisoformat(stage_on) if stage_on else None,
                all_or_nothing=params["all_or_nothing"],
                progress=lambda done, total: tick(),
            )
            job.params = {**params, "result": bulk.summary(result)}
            Job.objects.filter(pk=job.pk).update(params=job.params)
            if not jobs.finish(job):
                transaction.set_rollback(True)
    except bulk.SetChanged as changed:
        jobs.fail(job, str(bulk.set_changed_message(changed.current.count)))
    except (ValidationError, PermissionDenied) as error:
        messages = getattr(error, "messages", None) or [str(error)]
        jobs.fail(job, " ".join(str(m) for m in messages))


RUNNERS = {
    JobKind.BULK: run_bulk,
    JobKind.IMPORT: imports.run_step,
    JobKind.EXPORT: run_export,
    JobKind.PUBLISH: run_publish,
    JobKind.OVERDUE_CHECK: run_overdue_check,
}


@task(takes_context=True)
def run_job(context, job_id):
    worker_ids = context.task_result.worker_ids
    job = jobs.claim(job_id, worker_id=worker_ids[-1] if worker_ids else "")
    if job is None:
        return "not waiting"  # done, failed, or already claimed by another worker
    try:
        RUNNERS[job.kind](job)
    except Exception as error:
        logger.exception("job %s failed", job.pk)
        jobs.fail(job, f"{type(error).__name__}: {error}")
        raise
    return "ran"
