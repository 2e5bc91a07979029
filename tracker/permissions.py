"""Who may do what: the one home of every scope and role rule.

Every "may this user see / edit / file / raise / act on / publish / adjust" question is
answered here, from one table (``RULES``). Nothing else in the code compares roles.

The table maps a *target* (a model's ``model_name``, or a name such as ``"report"`` for
things that are not rows) and an *action* to what each role may reach:

- ``ALL``: every row;
- a :class:`Own` rule: the rows whose field path equals an attribute of the user (for example
  ``Own("region_id", "region_id")``: the rows of the user's region);
- a role that is not listed may not take the action at all.

The same rule is evaluated two ways, so a list and a single object can never disagree:
``restrict(queryset, user, action)`` filters in the database (NetBox's
``RestrictedQuerySet.restrict`` is the model), and ``may(user, action, obj)`` checks one
object already in memory. ``may(user, action, Model)`` asks whether the user's role may
take the action on anything of that kind at all (to show a button, to refuse a page).

Superusers count as city bureau managers; an anonymous or inactive user may do nothing.
The scope tests are generated from ``RULES`` (tests/test_permissions.py, tests/test_scope.py).
"""

from dataclasses import dataclass

from django.db.models import CheckConstraint, Model, Q
from django.utils.translation import gettext_lazy as _

from .choices import Role

# --- actions -------------------------------------------------------------------------------
VIEW = "view"  # read the row (lists, pages, exports, counts)
EDIT = "edit"  # change the project's book entry, move it forward
DISPATCH = "dispatch"  # file the weekly dispatch (周调度) for it
RAISE = "raise"  # raise a 链长制 problem against it
ACT = "act"  # the chain side's steps on a problem: assign, extend, close, reopen, escalate
RESOLVE = "resolve"  # record a problem's resolution
MANAGE = "manage"  # the city bureau's own powers (see each target below)
MARK_DONE = "mark_done"  # mark a rectification item done
PUBLISH = "publish"  # publish the monthly report (月通报)
ADJUST = "adjust"  # set the assessment weights, adjust a region's score
ENTER = "enter"  # enter the back office (/admin/)
OVERSEE = "oversee"  # city-wide rollups by region on the home page

ALL = "all"


@dataclass(frozen=True)
class Own:
    """The rows whose ``path`` (a field lookup such as ``project__commissioner_id``) equals
    the user's ``attribute``; nothing when the user has no such attribute set."""

    path: str
    attribute: str

    def lookups(self, user):
        value = getattr(user, self.attribute, None)
        return None if value is None else {self.path: value}


REGION = Own("region_id", "region_id")
CHAIN = Own("chain_id", "chain_id")
ASSIGNED = Own("commissioner_id", "pk")

MANAGER, COUNTY, COMMISSIONER, CHAIN_OFFICE = (
    Role.MANAGER,
    Role.COUNTY,
    Role.COMMISSIONER,
    Role.CHAIN_OFFICE,
)

_MANAGERS = {MANAGER: ALL}

RULES = {
    # The project book. County staff read the whole city and change their region's
    # projects; a commissioner the projects assigned to them; a chain office reads its chain.
    ("project", VIEW): {MANAGER: ALL, COUNTY: ALL, COMMISSIONER: ASSIGNED, CHAIN_OFFICE: CHAIN},
    ("project", EDIT): {MANAGER: ALL, COUNTY: REGION, COMMISSIONER: ASSIGNED},
    ("project", DISPATCH): {MANAGER: ALL, COUNTY: REGION, COMMISSIONER: ASSIGNED},
    ("project", RAISE): {MANAGER: ALL, COUNTY: REGION, COMMISSIONER: ASSIGNED, CHAIN_OFFICE: CHAIN},
    # A manager's powers on a project: the manager-only fields (signed amount, commissioner,
    # …), moving back, stalling and terminating, lowering the investment below a report,
    # changing dates recorded by the stage history, filing weeks long closed.
    ("project", MANAGE): _MANAGERS,
    # The ten chains: a chain office opens its own chain only.
    ("industrychain", VIEW): {
        MANAGER: ALL,
        COUNTY: ALL,
        COMMISSIONER: ALL,
        CHAIN_OFFICE: Own("pk", "chain_id"),
    },
    ("industrychain", RAISE): {MANAGER: ALL, CHAIN_OFFICE: Own("pk", "chain_id")},
    # The 链长制 problem ledger.
    ("problem", VIEW): {
        MANAGER: ALL,
        CHAIN_OFFICE: CHAIN,
        COUNTY: REGION,
        COMMISSIONER: Own("project__commissioner_id", "pk"),
    },
    ("problem", ACT): {MANAGER: ALL, CHAIN_OFFICE: CHAIN},
    ("problem", RESOLVE): {MANAGER: ALL, CHAIN_OFFICE: CHAIN, COUNTY: REGION},
    # 季督查. A whole-region inspection belongs to no chain, so a chain office sees only the
    # inspections of its chain's projects.
    ("inspection", VIEW): {
        MANAGER: ALL,
        COUNTY: REGION,
        COMMISSIONER: Own("project__commissioner_id", "pk"),
        CHAIN_OFFICE: Own("project__chain_id", "chain_id"),
    },
    # Create inspections, add items, verify (销号) and escalate (督办).
    ("inspection", MANAGE): _MANAGERS,
    ("inspection", MARK_DONE): {MANAGER: ALL, COUNTY: REGION},
    # Things that are not rows.
    ("report", PUBLISH): _MANAGERS,
    ("assessment", ADJUST): _MANAGERS,
    ("site", ENTER): _MANAGERS,
    ("site", OVERSEE): _MANAGERS,
    # Background jobs (a big export, a publication being made): the requester's own only,
    # whatever the role: the file holds what the requester's scope let them see.
    ("job", VIEW): {
        role: Own("requested_by_id", "pk") for role in (MANAGER, COUNTY, COMMISSIONER, CHAIN_OFFICE)
    },
    # An uploaded spreadsheet and its preview: its uploader's own. Who may import at all is
    # who may edit projects or file the weekly dispatch; each row is then checked against
    # the same rules as the edit form and the sheet.
    ("importbatch", VIEW): {
        role: Own("owner_id", "pk") for role in (MANAGER, COUNTY, COMMISSIONER, CHAIN_OFFICE)
    },
    # Saved views of the list pages (tracker/saved_views.py): anyone reads the views shared
    # with them (the sharing itself, own / group / public, is the view's data, applied by
    # saved_views.visible_views); the owner alone renames, updates and deletes a view;
    # sharing a view with everyone or making it a group's default is the city bureau's.
    ("savedview", VIEW): {role: ALL for role in (MANAGER, COUNTY, COMMISSIONER, CHAIN_OFFICE)},
    ("savedview", EDIT): {
        role: Own("owner_id", "pk") for role in (MANAGER, COUNTY, COMMISSIONER, CHAIN_OFFICE)
    },
    ("savedview", PUBLISH): _MANAGERS,
}

# A rectification item is reached through its inspection.
_VIA = {"rectificationitem": ("inspection", "inspection__")}

# What each role's view of the project book is called on the dashboard.
_SCOPE_NOTES = {
    ALL: _("All projects of the city."),
    CHAIN: _("The projects of your chain (%(chain)s)."),
    ASSIGNED: _("The projects assigned to you as enterprise commissioner."),
}
_NO_PROJECTS = _("No projects are visible to your account.")


# --- who the user is -------------------------------------------------------------------------
def role_of(user):
    """The role whose rules apply, or None (anonymous, inactive, no role)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return MANAGER
    return user.role or None


def _target(target):
    """``"project"`` from a model class, an instance, a queryset or the name itself."""
    if isinstance(target, str):
        return target
    model = getattr(target, "model", None) or target
    return model._meta.model_name


def rule(user, action, target):
    """``ALL``, an ``Own`` rule, or None: what ``user`` may reach with ``action``."""
    name = _target(target)
    via = _VIA.get(name)
    if via:
        name = via[0]
    return RULES.get((name, action), {}).get(role_of(user))


def _lookups(user, action, target):
    """ALL, a dict of lookups (relative to ``target``), or None for nothing."""
    found = rule(user, action, target)
    if found is None or found == ALL:
        return found
    lookups = found.lookups(user)
    via = _VIA.get(_target(target))
    if lookups and via:
        lookups = {via[1] + path: value for path, value in lookups.items()}
    return lookups


# --- the two evaluators of one rule ------------------------------------------------------------
def restrict(queryset, user, action):
    """``queryset`` narrowed to the rows ``user`` may take ``action`` on."""
    lookups = _lookups(user, action, queryset)
    if lookups is None:
        return queryset.none()
    if lookups == ALL:
        return queryset
    return queryset.filter(**lookups)


def _value(obj, path):
    for part in path.split("__"):
        if obj is None:
            return None
        obj = getattr(obj, part)
    return obj


def may(user, action, target):
    """Whether ``user`` may take ``action`` on ``target``.

    ``target`` an instance: this row (checked in memory, the same rule ``restrict`` applies
    in SQL). ``target`` a model class or a target name: on anything of that kind at all.
    """
    if not isinstance(target, Model):
        return rule(user, action, target) is not None
    lookups = _lookups(user, action, target)
    if lookups is None or lookups == ALL:
        return lookups is not None
    return all(_value(target, path) == value for path, value in lookups.items())


def may_enter_admin(user):
    """The back office: ``ENTER`` on the site, and an active account marked staff (model
    permissions are not scoped by region, so the flag alone must not let anyone in)."""
    return bool(user and user.is_active and user.is_staff and may(user, ENTER, "site"))


# --- facts derived from the rules, for pages that explain the scope ----------------------------
def scope_note(user):
    """The sentence under the dashboard saying which projects the figures cover."""
    found = rule(user, VIEW, "project")
    note = _SCOPE_NOTES.get(found)
    if note is None or not _lookups(user, VIEW, "project"):
        return _NO_PROJECTS
    if found == CHAIN:
        return note % {"chain": user.chain}
    return note


def home_region_id(user):
    """The region whose projects ``user`` edits while reading the whole city (county staff:
    their region is marked on city-wide pages), else None."""
    if rule(user, VIEW, "project") != ALL:
        return None
    found = rule(user, EDIT, "project")
    return user.region_id if found == REGION else None


def commissioners(users):
    """The accounts among ``users`` that can be assigned to a project as its commissioner."""
    return users.filter(role=COMMISSIONER, is_active=True)


def account_constraints():
    """The database's guarantee that an account has what its rules read: county staff a
    region (``REGION``), a chain office a chain (``CHAIN``). Used by ``User.Meta``."""
    return [
        CheckConstraint(
            condition=~Q(role=COUNTY) | Q(region__isnull=False),
            name="user_county_staff_has_region",
            violation_error_message=_("County staff must belong to a region."),
        ),
        CheckConstraint(
            condition=~Q(role=CHAIN_OFFICE) | Q(chain__isnull=False),
            name="user_chain_office_has_chain",
            violation_error_message=_("A chain office account must belong to a chain."),
        ),
    ]
