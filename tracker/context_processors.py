"""Template context shared by every page."""

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from . import permissions
from .models import IndustryChain, Inspection, Problem, Project

# (URL name, label, the permission question the page itself asks: action and target). Only
# the pages the user's role may open are offered. base.html already links 首页 (home)
# itself; these follow it.
NAV = [
    ("tracker:project_list", _("Projects"), (permissions.VIEW, Project)),
    ("tracker:dispatch", _("Weekly dispatch"), (permissions.DISPATCH, Project)),
    ("tracker:dashboard", _("Dashboard"), (permissions.VIEW, Project)),
    ("tracker:report_index", _("Monthly reports"), (permissions.VIEW, Project)),
    ("tracker:inspection_list", _("Inspections"), (permissions.VIEW, Inspection)),
    ("tracker:assessment_index", _("Annual assessment"), (permissions.VIEW, Project)),
    ("tracker:chain_list", _("Industry chains"), (permissions.VIEW, IndustryChain)),
    ("tracker:problem_list", _("Problem ledger"), (permissions.VIEW, Problem)),
]


def nav_items(request):
    """The main navigation for signed-in users: the pages their role may open
    (``permissions.may``, the question each page asks); pages not built yet are left out."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "may_enter_admin": False}
    items = []
    current = getattr(request, "path", "")
    for name, label, (action, target) in NAV:
        if not permissions.may(user, action, target):
            continue
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        items.append({"url": url, "label": label, "active": current.startswith(url)})
    return {"nav_items": items, "may_enter_admin": permissions.may_enter_admin(user)}
