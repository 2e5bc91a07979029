"""Template context shared by every page."""

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from . import permissions

# (URL name, label). base.html already links 首页 (home) itself; these follow it.
NAV = [
    ("tracker:project_list", _("Projects")),
    ("tracker:dispatch", _("Weekly dispatch")),
    ("tracker:dashboard", _("Dashboard")),
    ("tracker:report_index", _("Monthly reports")),
    ("tracker:inspection_list", _("Inspections")),
    ("tracker:assessment_index", _("Annual assessment")),
    ("tracker:chain_list", _("Industry chains")),
    ("tracker:problem_list", _("Problem ledger")),
]


def nav_items(request):
    """The main navigation for signed-in users; pages not built yet are left out."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "may_enter_admin": False}
    items = []
    current = getattr(request, "path", "")
    for name, label in NAV:
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        items.append({"url": url, "label": label, "active": current.startswith(url)})
    return {"nav_items": items, "may_enter_admin": permissions.may_enter_admin(user)}
