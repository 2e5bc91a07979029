"""Spreadsheet imports in two steps: upload → preview (stored, survives a reload), confirm →
applied in one transaction through the services, or nothing.

The one write path of ImportBatch. Small files are previewed and applied in the request;
from ``IMPORT_BACKGROUND_ROWS`` rows on, each step is a background job (tracker.jobs, the
worker runs ``run_step``), and the batch's page shows the job's progress. A worker killed
in the middle of applying leaves nothing applied (the transaction), and the job is retried.

Who may import: who may edit projects (the project book) or file the weekly dispatch (the
sheet); each row is then checked by the importer against the rules of the edit form or the
sheet. A batch is its uploader's alone (``permissions``, target "importbatch").
"""

import io
import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import jobs, permissions
from ..choices import ImportKind, ImportState, JobState
from ..models import ImportBatch, Job
from ..spreadsheets import Column, TitledWorkbook
from .base import Stale
from .dispatch import DispatchImporter
from .projects import ProjectImporter
from .reader import FileError, limit, read_table

IMPORTERS = {ImportKind.PROJECTS: ProjectImporter, ImportKind.DISPATCH: DispatchImporter}
# What a user must be allowed to do on projects to import each kind.
NEEDS = {ImportKind.PROJECTS: permissions.EDIT, ImportKind.DISPATCH: permissions.DISPATCH}
ORIGIN = "Excel导入 #%(pk)s"
NOT_ALLOWED = _("You may not make these changes; nothing was applied.")
UNEXPECTED = _(
    "The import stopped on an unexpected error; nothing was applied. Upload the file again, "
    "or tell the administrator if it happens again."
)
logger = logging.getLogger(__name__)

__all__ = ["FileError", "Stale", "confirm", "may_import", "upload", "visible_to"]


def may_import(user, kind):
    return kind in IMPORTERS and permissions.may(user, NEEDS[kind], "project")


def visible_to(user):
    return permissions.restrict(ImportBatch.objects.all(), user, permissions.VIEW)


def register(kind, importer):
    IMPORTERS[kind] = importer


def _importer(batch):
    return IMPORTERS[batch.kind](by=batch.owner, params=batch.params)


def upload(*, kind, by, name, data, params=None):
    """A new batch for the file ``data`` (its bytes) named ``name``: previewed now, or queued
    for a worker when the file is long. FileError (nothing stored) when it cannot be read;
    PermissionDenied when ``by`` may not import ``kind``."""
    if not may_import(by, kind):
        raise PermissionDenied
    importer = IMPORTERS[kind](by=by, params=params or {})
    table = read_table(data, name=name, key_header=importer.key_header)
    if not table.rows:
        raise FileError(_("The file has a header row but no data rows."))
    with transaction.atomic():
        batch = ImportBatch.objects.create(
            kind=kind,
            owner=by,
            file_name=(name or "")[:255],
            data=data,
            params=params or {},
            rows=len(table.rows),
        )
        if len(table.rows) >= limit("IMPORT_BACKGROUND_ROWS"):
            _queue(batch, "preview")
            return batch
    _preview(batch, importer, table)
    return batch


def _queue(batch, step):
    job = jobs.queue_import(user=batch.owner, batch=batch.pk, step=step)
    ImportBatch.objects.filter(pk=batch.pk).update(job=job)
    batch.job = job


def _preview(batch, importer, table, *, progress=None):
    plan = importer.plan(table, progress=progress)
    batch.plan = plan
    batch.errors = len(plan["errors"])
    batch.state = ImportState.READY
    batch.save(update_fields=["plan", "errors", "state"])


def confirm(*, batch, by):
    """Apply the preview of ``batch``: at once, or as a job for a long file. ValidationError
    when there is nothing to apply (errors in the preview, already applied, still being
    made); ``Stale`` (nothing applied) when rows changed since the preview."""
    if batch.owner_id != by.pk:
        raise PermissionDenied
    with transaction.atomic():
        locked = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if locked.state != ImportState.READY or locked.kind not in IMPORTERS:
            raise ValidationError(
                _("This import cannot be applied now: %(state)s.")
                % {"state": locked.get_state_display()}
            )
        if locked.errors:
            raise ValidationError(
                _("The preview has errors: correct the file and upload it again.")
            )
        if locked.rows >= limit("IMPORT_BACKGROUND_ROWS"):
            locked.state = ImportState.APPLYING
            locked.save(update_fields=["state"])
            _queue(locked, "apply")
            return locked
        locked.state = ImportState.APPLYING
        locked.save(update_fields=["state"])
    return _apply(locked)


def _apply(batch, *, progress=None, job=None):
    importer = _importer(batch)
    try:
        with transaction.atomic():
            count = importer.apply(batch.plan, origin=ORIGIN % {"pk": batch.pk}, progress=progress)
            batch.state, batch.applied_at = ImportState.APPLIED, timezone.now()
            batch.message = str(_("%(count)s rows applied.") % {"count": count})
            batch.save(update_fields=["state", "applied_at", "message"])
            if job is not None and not jobs.finish(job):
                transaction.set_rollback(True)  # retried elsewhere: that run applies
    except Stale as stale:
        _refused(batch, stale_message(stale.rows))
        raise
    except ValidationError as error:
        _refused(batch, " ".join(str(m) for m in error.messages))
        raise
    except PermissionDenied:
        _refused(batch, NOT_ALLOWED)
        raise ValidationError(NOT_ALLOWED) from None
    except Exception:  # a bug must not leave the batch "being applied" for ever
        logger.exception("import %s failed while applying", batch.pk)
        _refused(batch, UNEXPECTED)
        raise ValidationError(UNEXPECTED) from None
    return batch


def _refused(batch, message):
    batch.state, batch.message = ImportState.FAILED, str(message)[:4000]
    batch.save(update_fields=["state", "message"])


def stale_message(rows):
    shown = "、".join(f"{number}（{code}）" for number, code in rows[:20])
    more = "…" if len(rows) > 20 else ""
    return _(
        "Nothing was applied: %(count)s rows changed in the system since the preview was "
        "made (rows %(rows)s). Upload the file again to see a new preview."
    ) % {"count": len(rows), "rows": shown + more}


def run_step(job):
    """The background half (tracker.tasks): make the preview of, or apply, ``job``'s batch."""
    batch = ImportBatch.objects.select_related("owner").get(pk=job.params["batch"])

    def progress(done, total):
        if done == total or done % 200 == 0:
            jobs.progress(job, done=done, total=total)

    if job.params["step"] == "preview":
        try:
            importer = _importer(batch)
            table = read_table(
                bytes(batch.data), name=batch.file_name, key_header=importer.key_header
            )
            with transaction.atomic():
                _preview(batch, importer, table, progress=progress)
                if not jobs.finish(job):
                    transaction.set_rollback(True)
        except FileError as error:
            _refused(batch, error.message)
            jobs.fail(job, str(error.message))
        except Exception:  # a bug: the batch says so instead of "being made" for ever
            logger.exception("import %s failed in its preview", batch.pk)
            _refused(batch, UNEXPECTED)
            jobs.fail(job, str(UNEXPECTED))
        return
    try:
        _apply(batch, progress=progress, job=job)
    except (Stale, ValidationError):
        jobs.fail(job, batch.message)


def template(kind, *, by, params=None):
    """The import template of ``kind`` for ``by`` as XLSX bytes: the columns with example or
    pre-filled rows, and a second sheet describing every column (its unit, allowed values,
    required or not)."""
    importer = IMPORTERS[kind](by=by, params=params or {})
    headers = importer.template_headers()
    buffer = io.BytesIO()
    today = timezone.localdate()
    with TitledWorkbook(buffer, title=importer.title) as book:
        book.add_table(
            importer.sheet_name,
            title=importer.title,
            subtitle=importer.subtitle,
            columns=[Column(h, importer.template_format(h)) for h in headers],
            rows=importer.template_rows(),
            issued_on=today,
        )
        book.add_table(
            "填写说明",
            title="各列填写说明",
            subtitle=importer.notes_subtitle,
            columns=[Column(h, None) for h in ("列名", "说明", "单位", "可填的值", "必填")],
            rows=[[*row[:4], "是" if row[4] else "否"] for row in importer.describe_columns()],
            issued_on=today,
        )
    return buffer.getvalue()


def failed_job(batch):
    """The batch's job when it failed before the batch could say so (its workers died)."""
    return Job.objects.filter(pk=batch.job_id, state=JobState.FAILED).first()


def pending_job(batch):
    """The batch's job while it runs (its progress), else None."""
    if batch.job_id and batch.state in (ImportState.PREVIEWING, ImportState.APPLYING):
        job = Job.objects.filter(pk=batch.job_id).first()
        return job if job is not None and not job.finished else None
    return None
