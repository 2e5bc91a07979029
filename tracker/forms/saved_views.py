"""The form that saves a list's filters as a named view (tracker/saved_views.py checks and
writes it)."""

from django import forms
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _

from .. import saved_views
from ..choices import Visibility
from ..models.views import NAME_MAX_LENGTH
from ..validators import TEXT_VALIDATORS


class SavedViewForm(forms.Form):
    name = forms.CharField(
        label=_("Name of the view"), max_length=NAME_MAX_LENGTH, validators=TEXT_VALIDATORS
    )
    # Every choice is accepted here; the service refuses what the user may not do (403),
    # the widget offers only what they may.
    visibility = forms.ChoiceField(
        label=_("Shared with"), choices=Visibility.choices, initial=Visibility.PRIVATE
    )
    group = forms.ModelChoiceField(
        label=_("Group"),
        queryset=Group.objects.none(),
        required=False,
        help_text=_("For a view shared with a group."),
    )
    is_group_default = forms.BooleanField(
        label=_("Open it for the group's members when they open the list without filters"),
        required=False,
    )
    query = forms.CharField(widget=forms.HiddenInput, required=False, validators=TEXT_VALIDATORS)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = saved_views.shareable_groups(user)
        self.fields["visibility"].widget.choices = saved_views.visibility_choices(user)
        if not saved_views.may_publish(user):
            del self.fields["is_group_default"]
