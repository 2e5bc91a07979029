"""Forms, one module per topic: projects, problems, reviews (inspections and the annual
assessment) and dispatch (the weekly sheet). Validation messages are English source strings,
shown in Chinese via translations. Import them from here: ``from tracker.forms import X``."""

from .dispatch import BaseDispatchFormSet, DispatchRowForm, dispatch_formset
from .problems import (
    STEP_FORMS,
    AssignForm,
    CloseForm,
    EscalateForm,
    ExtendForm,
    RaiseForm,
    ReopenForm,
    ResolveForm,
)
from .projects import ProjectForm
from .reviews import AdjustmentForm, DoneForm, InspectionForm, ItemForm, WeightsForm
from .saved_views import SavedViewForm

__all__ = [
    "STEP_FORMS",
    "AdjustmentForm",
    "AssignForm",
    "BaseDispatchFormSet",
    "CloseForm",
    "DispatchRowForm",
    "DoneForm",
    "EscalateForm",
    "ExtendForm",
    "InspectionForm",
    "ItemForm",
    "ProjectForm",
    "RaiseForm",
    "ReopenForm",
    "ResolveForm",
    "SavedViewForm",
    "WeightsForm",
    "dispatch_formset",
]
