"""Forms of the 链长制 problem ledger: raising a problem and the steps on one. The rules
(which step needs which field, who may take it) are in tracker/problems.py."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .. import problems as ledger
from ..validators import TEXT_VALIDATORS
from .widgets import DATE_WIDGET


class ProjectChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.code} {obj.name}"


class RaiseForm(forms.Form):
    project = ProjectChoice(
        label=_("Project"),
        queryset=None,
        required=False,
        empty_label=_("(none: a chain-wide problem)"),
    )
    chain = forms.ModelChoiceField(
        label=_("Industry chain (for a chain-wide problem)"),
        queryset=None,
        required=False,
        help_text=_("Leave empty for a project's problem: it takes the project's chain."),
    )
    title = forms.CharField(
        label=_("Problem"), max_length=ledger.TITLE_MAX, required=False, validators=TEXT_VALIDATORS
    )
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=ledger.TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 5}),
        validators=TEXT_VALIDATORS,
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = ledger.raisable_projects(user).order_by("code")
        chains = ledger.raisable_chains(user)
        self.fields["chain"].queryset = chains
        if not chains.exists():
            # A role that cannot raise a chain-wide problem (county staff, commissioners) is
            # not offered one: the problem is about one of their projects.
            del self.fields["chain"]
            project = self.fields["project"]
            project.required = True
            project.empty_label = _("(choose the project)")
            project.error_messages["required"] = _("Choose the project the problem is about.")


class StepForm(forms.Form):
    """A step on one problem; ``version`` is the problem's version when the page was opened.

    Which fields a step needs is checked by its service (tracker/problems.py), so that every
    message about the input (a missing reason and a deadline too early) comes at once.
    """

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


def _note_field(label):
    return forms.CharField(
        label=label,
        required=False,
        max_length=ledger.NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        validators=TEXT_VALIDATORS,
    )


class AssignForm(StepForm):
    title = _("Assign to a unit")
    assigned_unit = forms.CharField(
        label=_("Responsible unit"),
        max_length=ledger.UNIT_MAX,
        required=False,
        validators=TEXT_VALIDATORS,
    )
    deadline = forms.DateField(label=_("Deadline"), widget=DATE_WIDGET, required=False)
    note = _note_field(_("Note"))
    submit_label = _("Assign")


class ExtendForm(StepForm):
    title = _("Extend the deadline")
    deadline = forms.DateField(label=_("New deadline"), widget=DATE_WIDGET, required=False)
    note = _note_field(_("Reason for the extension"))
    submit_label = _("Extend the deadline")


class ResolveForm(StepForm):
    title = _("Resolve")
    resolution = forms.CharField(
        label=_("Resolution"),
        max_length=ledger.TEXT_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        validators=TEXT_VALIDATORS,
    )
    submit_label = _("Mark resolved")


class CloseForm(StepForm):
    title = _("Close (销号)")
    note = _note_field(_("Note"))
    submit_label = _("Close (销号)")


class ReopenForm(StepForm):
    title = _("Reopen")
    note = _note_field(_("Reason for reopening"))
    deadline = forms.DateField(
        label=_("New deadline (optional)"), required=False, widget=DATE_WIDGET
    )
    submit_label = _("Reopen")


class EscalateForm(StepForm):
    title = _("Escalate (督办)")
    note = _note_field(_("Reason for escalation"))
    submit_label = _("Escalate (督办)")


STEP_FORMS = {
    ledger.ASSIGN: AssignForm,
    ledger.EXTEND: ExtendForm,
    ledger.RESOLVE: ResolveForm,
    ledger.CLOSE: CloseForm,
    ledger.REOPEN: ReopenForm,
    ledger.ESCALATE: EscalateForm,
}
