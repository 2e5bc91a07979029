"""Saved views and column choices of the list pages: the one place that writes them.

Every function takes keyword arguments, checks the permission module (tracker/permissions.py:
the owner alone edits a view, managers alone share with everyone or set a group's default),
validates (the model's constraints with their messages) and raises ValidationError with a
message a person reads, or PermissionDenied; nothing is half-saved.

Which views a user is shown: their own, the public ones, and those shared with one of their
groups (``visible_views``). A list page reads those and the user's column choice in one
query (``list_settings``).
"""

import json
from dataclasses import dataclass, field

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import BooleanField, Exists, IntegerField, OuterRef, Q, TextField, Value
from django.db.models.functions import Cast
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from . import columns as columns_map
from . import permissions
from .choices import ListName, Visibility
from .models import ListColumns, SavedView

# What a saved query never keeps: the page, an export, the view itself.
NOT_SAVED = ("page", "export", "view")
QUERY_MAX_LENGTH = 4000
VIEW_PARAM = "view"

NOT_YOURS = _("Only the owner of a view may change it.")
ONLY_MANAGERS = _("Only the city bureau may share a view with everyone or set a group's default.")


def visible_views(user, list_name=None):
    """The views ``user`` is shown: own, public, and shared with one of the user's groups."""
    views = permissions.restrict(SavedView.objects.all(), user, permissions.VIEW)
    if not user.is_authenticated:
        return views.none()
    views = views.filter(
        Q(owner=user)
        | Q(visibility=Visibility.PUBLIC)
        | Q(visibility=Visibility.GROUP, group__in=user.groups.values("pk"))
    )
    return views if list_name is None else views.filter(list_name=list_name)


def editable_views(user):
    """The views ``user`` may rename, update and delete (their own)."""
    return permissions.restrict(SavedView.objects.all(), user, permissions.EDIT)


def may_publish(user):
    return permissions.may(user, permissions.PUBLISH, "savedview")


def shareable_groups(user):
    """The groups ``user`` may share a view with: their own; every group for a manager."""
    groups = Group.objects.order_by("name")
    return groups if may_publish(user) else groups.filter(user=user)


def visibility_choices(user):
    """The sharing choices offered to ``user`` (the service refuses the others)."""
    if may_publish(user):
        return Visibility.choices
    return [(v, label) for v, label in Visibility.choices if v != Visibility.PUBLIC]


def clean_query(list_name, query):
    """``query`` (a query string) as a view keeps it: without page, export and view, its
    ``columns`` checked; a ValidationError when it is too long or names unknown columns."""
    params = QueryDict(query or "", mutable=True)
    for key in NOT_SAVED:
        params.pop(key, None)
    if columns_map.PARAM in params:
        columns_map.parse(list_name, params[columns_map.PARAM])
    text = params.urlencode()
    if len(text) > QUERY_MAX_LENGTH:
        raise ValidationError(_("These filters are too long to save as a view."))
    return text


def merged_query(view_query, url_query):
    """The URL's query (a QueryDict) with every parameter of ``view_query`` that the URL
    does not have: the URL wins where both set a parameter, and nothing of it is dropped."""
    merged = url_query.copy()
    for key, values in QueryDict(view_query).lists():
        if key not in merged:
            merged.setlist(key, values)
    return merged


# --- writing ---------------------------------------------------------------------------------
def _check_sharing(view, by):
    if (view.visibility == Visibility.PUBLIC or view.is_group_default) and not may_publish(by):
        raise PermissionDenied(ONLY_MANAGERS)
    if view.visibility == Visibility.GROUP:
        if view.group_id is None:
            raise ValidationError({"group": _("Choose the group to share the view with.")})
        if not shareable_groups(by).filter(pk=view.group_id).exists():
            raise ValidationError({"group": _("You can share a view only with your own groups.")})
    else:
        view.group = None
        view.is_group_default = False


def _save(view):
    """Validate (fields and constraints, with their messages) and save; a race lost on a
    unique constraint is the same message."""
    view.name = (view.name or "").strip()
    view.full_clean()
    try:
        with transaction.atomic():
            view.save()
    except IntegrityError as error:
        raise ValidationError(_("You already have a view of this list by that name.")) from error
    return view


def save_view(*, by, list_name, name, query, visibility, group=None, is_group_default=False):
    """Save ``query`` of list ``list_name`` as a new view of ``by``."""
    if list_name not in ListName.values:
        raise ValidationError(_("There is no such list."))
    if not permissions.may(by, permissions.VIEW, SavedView):
        raise PermissionDenied
    view = SavedView(
        owner=by,
        list_name=list_name,
        name=name,
        query=clean_query(list_name, query),
        visibility=visibility,
        group=group,
        is_group_default=bool(is_group_default),
    )
    _check_sharing(view, by)
    return _save(view)


def _editable(view, by):
    if not permissions.may(by, permissions.EDIT, view):
        raise PermissionDenied(NOT_YOURS)


def rename_view(*, view, name, by):
    _editable(view, by)
    view.name = name
    return _save(view)


def update_view_query(*, view, query, by):
    """The view's query replaced by ``query`` (the page's filters, sort and columns now)."""
    _editable(view, by)
    view.query = clean_query(view.list_name, query)
    return _save(view)


def delete_view(*, view, by):
    _editable(view, by)
    view.delete()


def set_columns(*, user, list_name, columns):
    """Store ``columns`` (table column names, in order) as ``user``'s choice for the list;
    None or the default columns in their default order forget the choice."""
    if list_name not in ListName.values:
        raise ValidationError(_("There is no such list."))
    if not user.is_authenticated:
        raise PermissionDenied
    if columns is not None:
        columns = columns_map.clean(list_name, list(columns))
    with transaction.atomic():
        if columns is None or columns == columns_map.names(list_name):
            ListColumns.objects.filter(user=user, list_name=list_name).delete()
            return None
        choice, _created = ListColumns.objects.update_or_create(
            user=user, list_name=list_name, defaults={"columns": columns}
        )
    return choice


# --- reading, for a list page ------------------------------------------------------------------
@dataclass
class ListSettings:
    """What a list page needs of a user's views and columns, read in one query."""

    views: list = field(default_factory=list)  # SavedView rows visible to the user
    columns: list | None = None  # the stored column choice, None when there is none

    def view(self, pk):
        return next((v for v in self.views if v.pk == pk), None)

    def group_default(self):
        """The default view of one of the user's groups (the first by name)."""
        defaults = [v for v in self.views if v.is_group_default and v.in_my_group]
        return defaults[0] if defaults else None


_SHAPE = ("s_pk", "s_name", "s_query", "s_visibility", "s_owner", "s_default", "s_mine", "s_group")


def list_settings(user, list_name):
    """The views of list ``list_name`` that ``user`` is shown and the user's column choice:
    one query (a UNION of the two tables, the choice as the row without a view id)."""
    if not user.is_authenticated:
        return ListSettings()
    member = Group.user_set.through.objects.filter(group_id=OuterRef("group_id"), user_id=user.pk)
    views = (
        visible_views(user, list_name)
        .annotate(
            s_pk=Cast("pk", IntegerField()),
            s_name=Cast("name", TextField()),
            s_query=Cast("query", TextField()),
            s_visibility=Cast("visibility", TextField()),
            s_owner=Cast("owner_id", IntegerField()),
            s_default=Cast("is_group_default", BooleanField()),
            s_mine=Exists(member),
            s_group=Cast("group__name", TextField()),
        )
        .order_by()
        .values_list(*_SHAPE)
    )
    choice = (
        ListColumns.objects.filter(user=user, list_name=list_name)
        .annotate(
            s_pk=Value(None, IntegerField()),
            s_name=Value("", TextField()),
            s_query=Cast("columns", TextField()),
            s_visibility=Value("", TextField()),
            s_owner=Cast("user_id", IntegerField()),
            s_default=Value(False, BooleanField()),
            s_mine=Value(False, BooleanField()),
            s_group=Value("", TextField()),
        )
        .order_by()
        .values_list(*_SHAPE)
    )
    found = ListSettings()
    for pk, name, query, visibility, owner, default, mine, group in views.union(choice, all=True):
        if pk is None:
            found.columns = json.loads(query) if query else None
            continue
        view = SavedView(
            pk=pk,
            owner_id=owner,
            list_name=list_name,
            name=name,
            query=query,
            visibility=visibility,
            is_group_default=default,
        )
        view.in_my_group, view.group_name, view.is_mine = bool(mine), group or "", owner == user.pk
        found.views.append(view)
    found.views.sort(key=lambda v: (not v.is_mine, v.name, v.pk))
    return found
