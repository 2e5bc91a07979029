"""The bulk-change form of the project list: which set, which field, the new value.

It is posted three times with the same names: from the list (the set and the field), from
the page asking the new value, and from the confirmation page (with the set's fingerprint).
``step`` says how much is required: the value from the second post on.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .. import bulk
from ..models import Project
from ..validators import TEXT_VALIDATORS
from .fields import PersonChoiceField
from .widgets import DATE_WIDGET

SELECTED, ALL = "selected", "all"
CHOOSE, REVIEW, APPLY = "choose", "review", "apply"
# The input that holds the new value of each field.
VALUE_INPUTS = {
    "commissioner": ("commissioner",),
    "responsible_unit": ("responsible_unit",),
    "responsible_leader": ("responsible_leader",),
    bulk.STAGE: ("stage", "stage_on"),
}


class IdListField(forms.Field):
    """The ticked rows: any number of ``ids`` values, each a project id."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        if not value:
            return []
        if isinstance(value, str):
            value = [value]
        try:
            ids = [int(item) for item in value]
        except (TypeError, ValueError):
            raise ValidationError(
                _("The selected rows are not valid. Nothing was changed."), code="invalid"
            ) from None
        if any(pk < 1 or pk >= 2**63 for pk in ids):
            raise ValidationError(
                _("The selected rows are not valid. Nothing was changed."), code="invalid"
            )
        return sorted(set(ids))


class BulkChangeForm(forms.Form):
    scope = forms.ChoiceField(
        label=_("Change"),
        choices=[(SELECTED, _("the selected rows")), (ALL, _("all matching this filter"))],
        widget=forms.RadioSelect,
        initial=SELECTED,
    )
    query = forms.CharField(
        required=False, widget=forms.HiddenInput, max_length=4000, validators=TEXT_VALIDATORS
    )
    ids = IdListField(required=False)
    field = forms.ChoiceField(label=_("Field"))
    commissioner = PersonChoiceField(
        label=_("New commissioner"), queryset=bulk.commissioner_choices(), required=False
    )
    responsible_unit = forms.CharField(
        label=_("New responsible unit"),
        required=False,
        max_length=Project._meta.get_field("responsible_unit").max_length,
        validators=TEXT_VALIDATORS,
    )
    responsible_leader = forms.CharField(
        label=_("New responsible leader"),
        required=False,
        max_length=Project._meta.get_field("responsible_leader").max_length,
        validators=TEXT_VALIDATORS,
    )
    stage = forms.ChoiceField(label=_("Move to stage"), required=False)
    stage_on = forms.DateField(
        label=_("Effective date of the stage change"), required=False, widget=DATE_WIDGET
    )
    all_or_nothing = forms.BooleanField(
        label=_("All or nothing: if any project is refused, change none"), required=False
    )
    fingerprint = forms.CharField(
        required=False, widget=forms.HiddenInput, max_length=100, validators=TEXT_VALIDATORS
    )

    def __init__(self, data, *, user, step):
        super().__init__(data)
        self.user, self.step = user, step
        self.fields["field"].choices = [
            (name, bulk.field_label(name)) for name in bulk.offered_fields(user)
        ]
        self.fields["commissioner"].queryset = bulk.commissioner_choices()
        self.fields["stage"].choices = [("", "—"), *bulk.offered_stages(user)]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("scope") == SELECTED and "ids" not in self.errors and not cleaned.get("ids"):
            self.add_error(None, _("Tick at least one row, or choose all matching this filter."))
        name = cleaned.get("field")
        if self.step == CHOOSE or not name or self.errors:
            return cleaned
        value_input = VALUE_INPUTS[name][0]
        try:
            cleaned["value"] = bulk.clean_value(
                by=self.user,
                field=name,
                value=cleaned.get(value_input),
                stage_on=cleaned.get("stage_on"),
            )
        except ValidationError as error:
            target = "stage_on" if name == bulk.STAGE and cleaned.get("stage") else value_input
            self.add_error(target, error)
        return cleaned

    def value_fields(self):
        """The bound inputs of the chosen field's new value."""
        name = self.cleaned_data.get("field") if hasattr(self, "cleaned_data") else None
        return [self[input_name] for input_name in VALUE_INPUTS.get(name, ())]

    def set_kwargs(self):
        """``ids=`` or ``query=`` for ``bulk.resolve_set`` / ``bulk.apply_bulk_change``."""
        if self.cleaned_data["scope"] == ALL:
            return {"query": self.cleaned_data["query"]}
        return {"ids": self.cleaned_data["ids"]}

    def carried(self, *, without=()):
        """(name, value) of every posted input of this form, for the hidden fields of the
        next page (the set, the field, the value so far)."""
        return [
            (name, value)
            for name in self.fields
            if name not in without and name != "fingerprint"
            for value in self.data.getlist(name)
        ]

    def value_text(self):
        """The new value as the confirmation page says it."""
        name, value = self.cleaned_data["field"], self.cleaned_data["value"]
        if name == "commissioner":
            return value.display(with_unit=True)
        if name == bulk.STAGE:
            return dict(self.fields["stage"].choices)[value]
        return value or _("(empty)")
