"""An uploaded spreadsheet on its way into the book: the file, the preview made from it, and
what became of it (tracker/imports). Kept in the database, so the preview survives a reload
and any app process or worker on any host reads the same one."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ..choices import ImportKind, ImportState
from ..validators import TEXT_VALIDATORS, bounds_constraints
from .jobs import Job


class ImportBatch(models.Model):
    kind = models.CharField(_("kind"), max_length=16, choices=ImportKind.choices)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.CASCADE,
        related_name="imports",
    )
    file_name = models.CharField(
        _("file name"), max_length=255, blank=True, validators=TEXT_VALIDATORS
    )
    data = models.BinaryField(_("file"))
    # What the upload form said besides the file (the week of a weekly sheet).
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    state = models.CharField(
        _("state"), max_length=12, choices=ImportState.choices, default=ImportState.PREVIEWING
    )
    # The preview (tracker.imports.Plan as JSON): every row's action, changes and errors.
    plan = models.JSONField(_("preview"), default=dict, blank=True)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    errors = models.PositiveIntegerField(_("errors"), default=0)
    # Why the file could not be read, or why applying it was refused.
    message = models.TextField(_("message"), blank=True, validators=TEXT_VALIDATORS)
    job = models.ForeignKey(
        Job,
        verbose_name=_("background job"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at", "-pk"]
        constraints = [*bounds_constraints("importbatch", moments=["created_at", "applied_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"
