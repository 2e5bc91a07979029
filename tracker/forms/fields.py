"""Form fields the forms and the list filters share."""

import django_filters
from django import forms


def person_label(user):
    """An option of a select of people: the name and the unit (``User.display``)."""
    return user.display(with_unit=True)


class PersonChoiceField(forms.ModelChoiceField):
    """A select of accounts that lists each by name and unit, never by login."""

    def label_from_instance(self, obj):
        return person_label(obj)


class PersonFilterField(django_filters.fields.ModelChoiceField):
    """The same for a list filter (django-filter's field, which adds its empty choice)."""

    def label_from_instance(self, obj):
        return person_label(obj)
