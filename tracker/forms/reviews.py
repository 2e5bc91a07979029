"""Forms of the inspection and assessment pages (季督查, 年考核)."""

from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..choices import Quarter
from ..inspections import INSPECTION_FIELDS, ITEM_FIELDS
from ..models import AssessmentAdjustment, Inspection, Project, RectificationItem, Region
from ..validators import TEXT_VALIDATORS
from .widgets import DATE_WIDGET, use_amount_inputs


class InspectionForm(forms.ModelForm):
    """A new inspection. The model's ``clean`` checks the date lies in the quarter (and not
    in the future) and that the project is in the region."""

    class Meta:
        model = Inspection
        fields = list(INSPECTION_FIELDS)
        widgets = {
            "inspected_on": DATE_WIDGET,
            "quarter": forms.Select(choices=Quarter.choices),
            "findings": forms.Textarea(attrs={"rows": 6}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        self.fields["year"].initial = today.year
        self.fields["quarter"].initial = (today.month - 1) // 3 + 1
        self.fields["inspected_on"].initial = today
        self.fields["project"].queryset = Project.objects.select_related("region").order_by(
            "region__sort_order", "code"
        )
        self.fields["project"].help_text = _("Leave empty for an inspection of the whole region.")

    def model_data(self):
        return {name: self.cleaned_data[name] for name in self._meta.fields}


class ItemForm(forms.ModelForm):
    class Meta:
        model = RectificationItem
        fields = list(ITEM_FIELDS)
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "deadline": DATE_WIDGET,
        }


class DoneForm(forms.Form):
    done_on = forms.DateField(label=_("Done on"), widget=DATE_WIDGET)
    note = forms.CharField(
        label=_("How it was rectified"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        validators=TEXT_VALIDATORS,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["done_on"].initial = timezone.localdate()


class WeightsForm(forms.Form):
    """One field per indicator of the year, each 0–100. That they add up to 100 is checked by
    ``assessments.set_weights``, the one write path (its message shows above the form)."""

    def __init__(self, *args, weights, **kwargs):
        super().__init__(*args, **kwargs)
        self.weights = weights
        for weight in weights:
            self.fields[weight.key] = forms.DecimalField(
                label=weight.name,
                help_text=weight.definition,
                min_value=Decimal(0),
                max_value=Decimal(100),
                max_digits=6,
                decimal_places=2,
                initial=weight.weight,
            )
        use_amount_inputs(self)

    def values(self):
        return {w.key: self.cleaned_data[w.key] for w in self.weights}


class AdjustmentForm(forms.ModelForm):
    class Meta:
        model = AssessmentAdjustment
        fields = ["region", "points", "reason"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = Region.objects.filter(ranked_in_assessment=True)
        self.fields["reason"].required = True
        use_amount_inputs(self)

    def clean_points(self):
        points = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError(_("An adjustment of 0 points changes nothing."))
        return points
