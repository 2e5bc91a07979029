"""``{% import_link "projects" %}`` (``week=`` for the sheet): the way to an import page,
for those who may import (tracker.imports.may_import); nothing for anyone else."""

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from .. import imports

register = template.Library()

LABELS = {"projects": _("Import from Excel"), "dispatch": _("Import the sheet from Excel")}


@register.simple_tag(takes_context=True)
def import_link(context, kind, week=""):
    request = context.get("request")
    if request is None or not imports.may_import(request.user, kind):
        return ""
    url = reverse("tracker:import_upload", args=[kind])
    if week:
        url += "?" + urlencode({"week": week})
    return format_html('<a href="{}" id="import-link-{}">{}</a>', url, kind, LABELS[kind])
