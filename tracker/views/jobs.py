"""A background job's page (its progress, refreshing itself until it is done) and its file.

Only the requester reaches either (tracker.jobs.visible_to): anyone else gets a 404.
"""

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path

from .. import jobs
from ..models import JobKind, JobState

REFRESH_SECONDS = 2


def job_detail(request, pk):
    job = get_object_or_404(jobs.visible_to(request.user), pk=pk)
    if job.state == JobState.DONE and job.kind == JobKind.PUBLISH and job.result_url:
        return redirect(job.result_url)  # the published version
    return render(
        request,
        "tracker/job_detail.html",
        {
            "job": job,
            "refresh": None if job.finished else REFRESH_SECONDS,
            "downloadable": job.state == JobState.DONE and job.file is not None,
        },
    )


def job_download(request, pk):
    job = get_object_or_404(
        jobs.visible_to(request.user).filter(state=JobState.DONE, file__isnull=False), pk=pk
    )
    if not job.content_type:
        raise Http404
    response = HttpResponse(bytes(job.file), content_type=job.content_type)
    response["Content-Disposition"] = job.disposition
    return response


urlpatterns = [
    path("jobs/<int:pk>/", job_detail, name="job_detail"),
    path("jobs/<int:pk>/file/", job_download, name="job_download"),
]
