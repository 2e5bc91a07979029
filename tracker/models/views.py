"""Saved views and column choices of the filtered list pages (projects, problems,
inspections).

A saved view is a named query string of one list (its filters, ``sort=`` and ``columns=``),
private to its owner, shared with one of the owner's groups, or public; a group's default
view opens when one of its members opens the list without a query. A column choice is one
user's columns of one list, in order. Both are written by tracker/saved_views.py.
"""

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..choices import ListName, Visibility
from ..validators import TEXT_VALIDATORS, bounds_constraints

NAME_MAX_LENGTH = 80


class SavedView(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="saved_views",
    )
    list_name = models.CharField(_("list"), max_length=20, choices=ListName.choices)
    name = models.CharField(_("name"), max_length=NAME_MAX_LENGTH, validators=TEXT_VALIDATORS)
    # The list's query string: filters, ``sort=`` and ``columns=`` (never ``page`` or
    # ``export``), merged under the URL's own parameters when the view is opened.
    query = models.TextField(_("query"), blank=True, validators=TEXT_VALIDATORS)
    visibility = models.CharField(
        _("shared with"), max_length=10, choices=Visibility.choices, default=Visibility.PRIVATE
    )
    group = models.ForeignKey(
        Group,
        verbose_name=_("group"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="saved_views",
    )
    is_group_default = models.BooleanField(
        _("the group's default"),
        default=False,
        help_text=_("Opens when a member of the group opens the list without filters."),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "list_name", "name"],
                name="savedview_unique_name",
                violation_error_message=_("You already have a view of this list by that name."),
            ),
            models.CheckConstraint(
                condition=Q(visibility=Visibility.GROUP, group__isnull=False)
                | (~Q(visibility=Visibility.GROUP) & Q(group__isnull=True)),
                name="savedview_group_iff_shared_with_group",
                violation_error_message=_("A view shared with a group names the group."),
            ),
            models.CheckConstraint(
                condition=Q(is_group_default=False) | Q(visibility=Visibility.GROUP),
                name="savedview_default_is_a_group_view",
                violation_error_message=_("Only a view shared with a group can be its default."),
            ),
            models.UniqueConstraint(
                fields=["group", "list_name"],
                condition=Q(is_group_default=True),
                name="savedview_one_default_per_group_and_list",
                violation_error_message=_("This group already has a default view of this list."),
            ),
            *bounds_constraints("savedview", moments=["created", "updated"]),
        ]

    def __str__(self):
        return self.name


class ListColumns(models.Model):
    """The columns one user chose for one list, in their order (table column names)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="list_columns",
    )
    list_name = models.CharField(_("list"), max_length=20, choices=ListName.choices)
    columns = models.JSONField(_("columns"), default=list)

    class Meta:
        verbose_name = _("column choice")
        verbose_name_plural = _("column choices")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "list_name"],
                name="listcolumns_one_per_user_and_list",
                violation_error_message=_("You already have a column choice for this list."),
            ),
        ]

    def __str__(self):
        return f"{self.user_id}/{self.list_name}"
