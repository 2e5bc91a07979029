"""Background jobs: long work a person asked for (a big export, publishing a 月通报) or the
scheduler queued (the daily overdue check), run by ``manage.py run_worker``.

The task engine (django-tasks with its database backend) carries the work to a worker; this
row is what the tracker knows about it: who asked, with which parameters, how far it got, the
file it made (kept in the database, so any app process on any host can serve it), and the
worker's heartbeat, from which a dead worker's job is found and queued again (tracker/jobs.py).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..choices import JobKind, JobState
from ..validators import TEXT_VALIDATORS, bounds_constraints, validate_date_in_range


class Job(models.Model):
    kind = models.CharField(_("kind"), max_length=20, choices=JobKind.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="jobs",
        help_text=_("Empty for the scheduled daily check."),
    )
    # What the request said: the list and format and its query string for an export, the
    # month, version and reason for publishing. The task re-runs it from these alone.
    params = models.JSONField(_("parameters"), default=dict)
    state = models.CharField(
        _("state"), max_length=10, choices=JobState.choices, default=JobState.QUEUED
    )
    done = models.PositiveIntegerField(_("rows done"), default=0)
    total = models.PositiveIntegerField(_("rows in all"), default=0)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    task_id = models.CharField(
        _("engine task id"), max_length=64, blank=True, validators=TEXT_VALIDATORS
    )
    worker_id = models.CharField(_("worker"), max_length=64, blank=True, validators=TEXT_VALIDATORS)
    # The scheduled day of a daily check: one per day and kind (the constraint below), so
    # two workers that both find the day due queue it once.
    run_for = models.DateField(
        _("scheduled day"), null=True, blank=True, validators=[validate_date_in_range]
    )
    created_at = models.DateTimeField(_("queued at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    file_name = models.CharField(
        _("file name"), max_length=255, blank=True, validators=TEXT_VALIDATORS
    )
    content_type = models.CharField(
        _("content type"), max_length=100, blank=True, validators=TEXT_VALIDATORS
    )
    # The ASCII name for clients that do not read the UTF-8 one (Content-Disposition).
    fallback_name = models.CharField(
        _("ASCII file name"), max_length=255, blank=True, validators=TEXT_VALIDATORS
    )
    # The file's size in bytes once it is complete (its bytes are the job's JobFileParts).
    file_size = models.PositiveBigIntegerField(_("file size"), null=True, blank=True)
    result_url = models.CharField(
        _("result page"), max_length=300, blank=True, validators=TEXT_VALIDATORS
    )
    error = models.TextField(_("error"), blank=True, validators=TEXT_VALIDATORS)

    class Meta:
        verbose_name = _("background job")
        verbose_name_plural = _("background jobs")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["state", "heartbeat_at"], name="job_state_heartbeat_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "run_for"],
                condition=Q(run_for__isnull=False),
                name="job_one_scheduled_run_per_day",
                violation_error_message=_("This day's check is already scheduled."),
            ),
            models.CheckConstraint(
                condition=Q(done__lte=models.F("total")) | Q(total=0),
                name="job_done_within_total",
            ),
            *bounds_constraints(
                "job",
                dates=["run_for"],
                moments=["created_at", "started_at", "heartbeat_at", "finished_at"],
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def percent(self):
        if self.state == JobState.DONE:
            return 100
        if not self.total:
            return 0
        return min(99, self.done * 100 // self.total)

    @property
    def finished(self):
        return self.state in (JobState.DONE, JobState.FAILED)


# A part's size: large enough for few rows, small enough that writing or serving a 30 MB
# export holds one part in memory at a time.
FILE_PART_BYTES = 1024 * 1024


class JobFilePart(models.Model):
    """One part of the file a job's attempt wrote, in order (``number`` from 0)."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="file_parts")
    attempt = models.PositiveSmallIntegerField(_("attempt"))
    number = models.PositiveIntegerField(_("part"))
    data = models.BinaryField(_("data"))

    class Meta:
        verbose_name = _("part of a job's file")
        verbose_name_plural = _("parts of jobs' files")
        constraints = [
            models.UniqueConstraint(
                fields=["job", "attempt", "number"], name="job_file_part_unique"
            ),
        ]

    def __str__(self):
        return f"{self.job_id}/{self.attempt}/{self.number}"
