"""The upload form of an import (tracker.imports)."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ..choices import ImportKind
from ..imports.dispatch import validate_week
from ..imports.reader import limit, too_large

ACCEPT = ".xlsx,.csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,text/csv"


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("Spreadsheet (.xlsx or .csv)"),
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPT}),
    )

    def __init__(self, *args, kind, week="", **kwargs):
        super().__init__(*args, **kwargs)
        if kind == ImportKind.DISPATCH:  # the week the sheet is for
            self.fields["week"] = forms.CharField(
                label=_("Week"),
                max_length=8,
                initial=week,
                validators=[validate_week],
                help_text=_("Written like 2026-W49."),
            )
            self.order_fields(["week", "file"])

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > limit("IMPORT_MAX_BYTES"):
            raise ValidationError(too_large(upload.size))
        return upload
