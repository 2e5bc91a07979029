"""The project edit form. Validation messages are English source strings, shown in Chinese
via translations."""

import datetime

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import investment, permissions
from ..choices import Stage
from ..models import Park, Project, User
from ..projects_service import COMMON_FIELDS, MANAGER_FIELDS
from ..rules import actual_date_errors, allowed_targets
from ..validators import TEXT_VALIDATORS
from .fields import PersonChoiceField
from .widgets import DATE_WIDGET, use_amount_inputs

# Which field a Project check constraint is about, keyed by its message.
CONSTRAINT_FIELD_NAMES = {
    "project_signed_amount_not_negative": "signed_amount",
    "project_annual_plan_not_negative": "annual_planned_investment",
    "project_completed_not_negative": "completed_investment",
    "project_start_not_before_signing": "actual_start_on",
    "project_production_after_start": "actual_production_on",
    "project_planned_start_not_before_signing": "planned_start_on",
    "project_planned_production_after_start": "planned_production_on",
}


def constraint_field(message, default):
    """The field a constraint message is about (compared in the active language)."""
    for constraint in Project._meta.constraints:
        field = CONSTRAINT_FIELD_NAMES.get(constraint.name)
        if field and str(constraint.get_violation_error_message()) == message:
            return field
    return default


class ProjectForm(forms.ModelForm):
    """Edit one project, with an optional stage change in the same submit.

    ``user`` decides which fields are offered (see MANAGER_FIELDS) and which stages the
    stage select lists (``rules.allowed_targets``). The model's ``full_clean`` runs, so
    database constraint messages appear beside the form too.
    """

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    # When the form was opened: on a conflict, the history since then says who changed what.
    opened_at = forms.CharField(
        widget=forms.HiddenInput, required=False, max_length=40, validators=TEXT_VALIDATORS
    )
    target_stage = forms.ChoiceField(label=_("Change stage to"), required=False)
    stage_effective_on = forms.DateField(
        label=_("Effective date of the stage change"), required=False, widget=DATE_WIDGET
    )
    stage_note = forms.CharField(
        label=_("Note on the stage change"),
        required=False,
        max_length=500,
        validators=TEXT_VALIDATORS,
    )
    # Managers only (removed for everyone else): why the cumulative figure goes down.
    reason = forms.CharField(
        label=_("reason for lowering the figure"),
        required=False,
        max_length=investment.REASON_MAX,
        help_text=_("Managers only: why the cumulative figure goes down (kept in the history)."),
        validators=TEXT_VALIDATORS,
    )

    class Meta:
        model = Project
        fields = COMMON_FIELDS + MANAGER_FIELDS
        field_classes = {"commissioner": PersonChoiceField}
        widgets = {
            "planned_start_on": DATE_WIDGET,
            "planned_production_on": DATE_WIDGET,
            "actual_start_on": DATE_WIDGET,
            "actual_production_on": DATE_WIDGET,
            "signed_on": DATE_WIDGET,
            "notes": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        project = self.instance
        # A manager's power over this project: the manager-only fields, any stage move,
        # changing recorded dates, lowering the investment below the dispatch.
        self.override = permissions.may(user, permissions.MANAGE, project)
        if not self.override:
            for name in [*MANAGER_FIELDS, "reason"]:
                del self.fields[name]
            self.fields["park"].queryset = Park.objects.filter(region_id=project.region_id)
        else:
            self.fields["commissioner"].queryset = permissions.commissioners(
                User.objects.all()
            ).order_by("display_name", "pk")
            self.fields["enterprise"].queryset = self.fields["enterprise"].queryset.order_by("name")
        for name in ("annual_planned_investment", "completed_investment", "signed_amount"):
            if name in self.fields:
                self.fields[name].widget.attrs["min"] = "0"
                self.fields[name].validators.append(_not_negative)
        self.fields["version"].initial = project.version
        self.fields["opened_at"].initial = timezone.now().isoformat()
        targets = allowed_targets(
            current=project.stage,
            override=self.override,
            resume_stage=project.stage_before_stall() if project.stage == Stage.STALLED else None,
        )
        self.fields["target_stage"].choices = [("", _("(keep the current stage)"))] + [
            (value, label) for value, label in Stage.choices if value in targets
        ]
        self.fields["stage_effective_on"].initial = timezone.localdate()
        if "reason" in self.fields:  # beside the figure it explains
            order = [name for name in self.fields if name != "reason"]
            order.insert(order.index("completed_investment") + 1, "reason")
            self.order_fields(order)
        use_amount_inputs(self)  # "9,100" is a number too

    def _get_validation_exclusions(self):
        # Check the constraints that compare an edited date with the signing date even
        # when signed_on itself is not on this user's form.
        exclude = super()._get_validation_exclusions()
        exclude.discard("signed_on")
        return exclude

    def _update_errors(self, errors):
        """Put each model error beside the field it concerns.

        A database constraint's message arrives as a form-wide error; the constraint's
        name tells which field it is about. An error about a field this user cannot see
        goes to the top of the form.
        """
        if hasattr(errors, "error_dict"):
            error_dict = errors.error_dict
        else:
            error_dict = {NON_FIELD_ERRORS: errors.error_list}
        remapped = {}
        for field, messages in error_dict.items():
            for error in messages:
                key = field
                if key == NON_FIELD_ERRORS:
                    key = constraint_field(str(error.message), key)
                if key != NON_FIELD_ERRORS and key not in self.fields:
                    key = NON_FIELD_ERRORS
                remapped.setdefault(key, []).append(error)
        super()._update_errors(ValidationError(remapped))

    def clean_opened_at(self):
        try:
            value = datetime.datetime.fromisoformat(self.cleaned_data.get("opened_at") or "")
        except ValueError:
            return None
        return value if timezone.is_aware(value) else None

    def clean_stage_effective_on(self):
        value = self.cleaned_data.get("stage_effective_on")
        if value and value > timezone.localdate():
            raise ValidationError(_("The effective date cannot be in the future."))
        return value

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("target_stage") and not cleaned.get("stage_effective_on"):
            if "stage_effective_on" not in self.errors:
                self.add_error("stage_effective_on", _("Give the date the new stage took effect."))
        if "target_stage" not in self.errors:  # else the stage after this save is unknown
            self._check_actual_dates(cleaned)
        self._check_completed_investment(cleaned)
        return cleaned

    def _check_actual_dates(self, cleaned):
        """The actual dates follow the stage and its history (``rules.actual_date_errors``).
        ``self.instance`` still holds the stored values here (``_post_clean`` copies the
        cleaned ones onto it afterwards)."""
        project = self.instance
        changed = {
            name: cleaned[name]
            for name in ("actual_start_on", "actual_production_on")
            if name in cleaned and cleaned[name] != getattr(project, name)
        }
        if not changed:
            return
        history = project.stage_history()
        for name, message in actual_date_errors(
            project=project,
            changed=changed,
            target=cleaned.get("target_stage") or "",
            effective_on=cleaned.get("stage_effective_on"),
            override=self.override,
            history=history,
        ):
            self.add_error(name, message)

    def _check_completed_investment(self, cleaned):
        """The cumulative figure does not go down (``investment.project_figure_errors``,
        the rule ``update_project`` applies too): a manager only with a reason."""
        if "completed_investment" not in self.fields:
            return
        found = investment.project_figure_errors(
            self.instance,
            cleaned.get("completed_investment"),
            by=self.user,
            reason=cleaned.get("reason"),
        )
        for name, messages in found.items():
            for message in messages:
                self.add_error(name if name in self.fields else "completed_investment", message)

    def model_data(self):
        """The edited model fields, ready for ``services.update_project``."""
        return {name: self.cleaned_data[name] for name in self._meta.fields if name in self.fields}

    def lowering_reason(self):
        """A manager's reason for lowering the figure ("" when none), for ``update_project``."""
        return self.cleaned_data.get("reason") or ""


def _not_negative(value):
    if value is not None and value < 0:
        raise ValidationError(_("The amount cannot be negative."), code="min_value")
