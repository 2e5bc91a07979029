"""A background job's page (its progress, refreshing itself until it is done) and its file.

Only the requester reaches either (tracker.jobs.visible_to): anyone else gets a 404.
"""

from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.http import url_has_allowed_host_and_scheme

from .. import jobs
from ..models import JobKind, JobState
from ..spreadsheets import XLSX_TYPE, attachment

REFRESH_SECONDS = 2
CSV_TYPE = "text/csv; charset=utf-8"
FILE_TYPES = {CSV_TYPE, XLSX_TYPE}


def _local(url):
    return bool(url) and url_has_allowed_host_and_scheme(url, allowed_hosts=None)


def _bulk_result(job):
    """A finished bulk change's result (tracker.bulk.summary), read defensively."""
    if job.kind != JobKind.BULK or job.state != JobState.DONE or not isinstance(job.params, dict):
        return None
    result = job.params.get("result")
    if not isinstance(result, dict):
        return None
    refused = result.get("refused")
    return {
        "applied": result.get("applied"),
        "unchanged": result.get("unchanged"),
        "rolled_back": bool(result.get("rolled_back")),
        "refused": [r for r in refused if isinstance(r, list) and len(r) == 3]
        if isinstance(refused, list)
        else [],
    }


def job_detail(request, pk):
    job = get_object_or_404(jobs.visible_to(request.user), pk=pk)
    if job.state == JobState.DONE and job.kind == JobKind.PUBLISH and _local(job.result_url):
        return redirect(job.result_url)  # the published version
    batch = job.params.get("batch") if isinstance(job.params, dict) else None
    if job.kind == JobKind.IMPORT and isinstance(batch, int):  # its page shows the progress
        return redirect("tracker:import_detail", pk=batch)
    return render(
        request,
        "tracker/job_detail.html",
        {
            "job": job,
            "refresh": None if job.finished else REFRESH_SECONDS,
            "downloadable": job.state == JobState.DONE and job.file_size is not None,
            "bulk_result": _bulk_result(job),
        },
    )


def job_download(request, pk):
    job = get_object_or_404(
        jobs.visible_to(request.user).filter(state=JobState.DONE, file_size__isnull=False), pk=pk
    )
    # The headers are rebuilt from the stored names (quoted, ASCII-only fallback), and only
    # the two types the exports write are sent as such.
    kind = job.content_type if job.content_type in FILE_TYPES else "application/octet-stream"
    response = StreamingHttpResponse(jobs.read_file(job), content_type=kind)
    response["Content-Length"] = str(job.file_size)
    response["Content-Disposition"] = attachment(job.file_name, job.fallback_name or "export")
    return response


urlpatterns = [
    path("jobs/<int:pk>/", job_detail, name="job_detail"),
    path("jobs/<int:pk>/file/", job_download, name="job_download"),
]
