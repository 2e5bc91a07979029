"""The weekly dispatch sheet (周调度): one form per project in a formset. The rules of a
row (bounds, reasons, stale versions) are in tracker/dispatching.py."""

import functools
import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .. import permissions
from ..choices import Stage
from ..dispatching import REASON_MAX, TEXT_MAX, VERSION_FIELDS, is_stale, row_errors_now
from ..rules import allowed_targets, stage_before_stall
from ..validators import TEXT_VALIDATORS
from .sheet_renderer import SheetRenderer
from .widgets import AmountInput

OUT_OF_DATE = _(
    "This row does not say which version of the project the page showed; the page is out "
    "of date. Please reload it and enter the row again."
)


@functools.lru_cache(maxsize=256)
def _targets(current, override, resume_stage):
    """``allowed_targets``, once per (stage, power, stage before a stall) rather than once
    per row: a sheet page of 200 rows has a handful of distinct ones."""
    return tuple(allowed_targets(current=current, override=override, resume_stage=resume_stage))


def stage_key(project, *, manages, stage_changes=()):
    """What a row's stage choices depend on: the project's stage, the user's power to
    override the transitions, and the stage before a stall (a stalled project resumes it)."""
    resume = stage_before_stall(stage_changes) if project.stage == Stage.STALLED else None
    return (project.stage, manages, resume)


def stage_choices(key):
    """A row's stage choices: "unchanged" and the stages ``allowed_targets`` permits."""
    stage = key[0]
    return [
        ("", _("unchanged (%(stage)s)") % {"stage": Stage(stage).label}),
        *[(s, Stage(s).label) for s in _targets(*key)],
    ]


class DispatchRowForm(forms.Form):
    """One project's row. Fields carry their pre-filled value as a hidden initial, so a row
    the user did not touch is recognised as unchanged even if someone else filed meanwhile;
    ``version`` and ``report_version`` are what the page showed (the optimistic lock)."""

    project = forms.IntegerField(widget=forms.HiddenInput)
    # Required: a row without them cannot be checked against what the page showed, so it is
    # refused as out of date (only direct callers of file_weekly_dispatch may leave them out).
    version = forms.IntegerField(
        widget=forms.HiddenInput, min_value=1, error_messages={"required": OUT_OF_DATE}
    )
    report_version = forms.IntegerField(
        widget=forms.HiddenInput, min_value=0, error_messages={"required": OUT_OF_DATE}
    )
    stage = forms.ChoiceField(label=_("stage"), required=False)
    completed_investment = forms.DecimalField(
        label=_("cumulative completed investment (万元)"),
        max_digits=14,
        decimal_places=2,
        show_hidden_initial=True,
        widget=AmountInput(attrs={"size": 10}),
    )
    progress = forms.CharField(
        label=_("progress (形象进度)"),
        required=False,
        max_length=TEXT_MAX,
        show_hidden_initial=True,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 28}),
        validators=TEXT_VALIDATORS,
    )
    problems = forms.CharField(
        label=_("problems"),
        required=False,
        max_length=TEXT_MAX,
        show_hidden_initial=True,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 28}),
        validators=TEXT_VALIDATORS,
    )
    reason = forms.CharField(
        label=_("reason for lowering the figure"),
        required=False,
        max_length=REASON_MAX,
        help_text=_("Managers only: why the cumulative figure goes down (kept in the history)."),
        widget=forms.TextInput(attrs={"size": 16, "autocomplete": "off"}),
        validators=TEXT_VALIDATORS,
    )
    confirm = forms.BooleanField(
        label=_("file unchanged"),
        required=False,
        help_text=_("Tick to file this row although nothing changed since the last report."),
    )

    def __init__(self, *args, project, user, week, stage_changes=(), **kwargs):
        super().__init__(*args, **kwargs)
        # A row left as pre-filled is neither validated nor filed.
        self.empty_permitted = True
        self.use_required_attribute = False
        self.project = project
        self.user = user
        self.week = week
        manages = permissions.may(user, permissions.MANAGE, project)
        if not manages:
            del self.fields["reason"]
        self.fields["stage"].choices = stage_choices(
            stage_key(project, manages=manages, stage_changes=stage_changes)
        )
        # Django's own max_length check already speaks; keep the model's limit visible too.
        for name in ("progress", "problems"):
            self.fields[name].widget.attrs["maxlength"] = TEXT_MAX

    def clean_project(self):
        value = self.cleaned_data["project"]
        if value != self.project.pk:
            raise ValidationError(
                _("This row does not match the project list of this page; please reload it.")
            )
        return value

    def has_changed(self):
        # The versions say when the page was opened, not what the user wants filed.
        return bool(set(self.changed_data) - set(VERSION_FIELDS))

    def clean(self):
        data = super().clean()
        for name in VERSION_FIELDS:  # hidden: say it on the row, not beside an invisible field
            if name in self.errors:
                self.add_error(None, self.errors.pop(name))
        if self.errors:
            return data
        if is_stale(self.project, data):
            return data  # the filing refuses it as a conflict, beside the other's values
        found = row_errors_now(self.project, data, by=self.user, **self.week)
        for name, messages in found.items():
            for message in messages:
                self.add_error(name if name in self.fields else None, message)
        return data


PROJECTS_CHANGED = _(
    "The list of projects changed since this page was loaded; "
    "please check the rows and submit again."
)


class BaseDispatchFormSet(forms.BaseFormSet):
    default_error_messages = {
        **forms.BaseFormSet.default_error_messages,
        "too_many_forms": PROJECTS_CHANGED,
        "too_few_forms": PROJECTS_CHANGED,
    }

    def __init__(self, *args, projects, user, week, **kwargs):
        self.projects = projects
        self.user = user
        self.week = week
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        project = self.projects[index]
        return {
            "project": project,
            "user": self.user,
            "week": self.week,
            "stage_changes": getattr(project, "prefetched_stage_changes", ()),
        }

    def total_form_count(self):
        # Never a row without its project: a posted count beyond the page's list (the list
        # changed, or a forged count) is refused by ``clean``, not built into a form.
        return min(super().total_form_count(), len(self.projects))

    def clean(self):
        posted = self.management_form.cleaned_data.get(forms.formsets.TOTAL_FORM_COUNT)
        if posted != len(self.projects):
            raise ValidationError(PROJECTS_CHANGED)

    def changed_rows(self):
        return [form.cleaned_data for form in self.forms if form.has_changed()]


# Writes the rows' widgets without the template engine (the sheet's render cost, issue 10).
SHEET_RENDERER = SheetRenderer()

PREFIX = "row"
_ROW_KEY = re.compile(rf"(initial-)?{PREFIX}-([0-9]+)-(.+)")


def posted_project_ids(data, *, limit):
    """The project id each posted row names, in the rows' order (None for a row without a
    whole-number id), read before any form is built: the POST's formset is made of these
    projects, not of whatever the page holds now (issue 10: another clerk's filing or a new
    project shifts the pages between GET and POST). None when the management form does not
    say how many rows came or says more than ``limit`` (a page's size): then the page's own
    rows are used and the formset refuses the submission."""
    text = data.get(f"{PREFIX}-{forms.formsets.TOTAL_FORM_COUNT}", "")
    if not (text.isascii() and text.isdigit()) or int(text) > limit:
        return None
    ids = []
    for index in range(int(text)):
        value = data.get(f"{PREFIX}-{index}-project", "")
        ids.append(int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None)
    return ids


def kept_rows(data, indexes):
    """The posted sheet reduced to the rows at ``indexes`` (renumbered from 0, the
    management form counting them), to show them again as typed once the others were
    refused."""
    new_index = {str(old): str(new) for new, old in enumerate(indexes)}
    kept = {}
    for key, value in data.items():
        match = _ROW_KEY.fullmatch(key)
        if match is None:
            kept[key] = value
        elif match[2] in new_index:
            kept[f"{match[1] or ''}{PREFIX}-{new_index[match[2]]}-{match[3]}"] = value
    kept[f"{PREFIX}-{forms.formsets.TOTAL_FORM_COUNT}"] = str(len(indexes))
    kept[f"{PREFIX}-{forms.formsets.INITIAL_FORM_COUNT}"] = str(len(indexes))
    return kept


def dispatch_formset(projects, user, *, iso_year, iso_week, data=None, initial=None):
    formset_class = forms.formset_factory(
        DispatchRowForm,
        formset=BaseDispatchFormSet,
        extra=0,
        max_num=len(projects),
        absolute_max=max(len(projects), 1),
        validate_max=True,
        renderer=SHEET_RENDERER,
    )
    return formset_class(
        data=data,
        initial=initial,
        projects=projects,
        user=user,
        week={"iso_year": iso_year, "iso_week": iso_week},
        prefix=PREFIX,
    )
