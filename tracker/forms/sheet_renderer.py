"""A form renderer for the weekly sheet's rows: the same HTML as Django's widget templates,
written in Python.

The sheet shows up to ``DISPATCH_SHEET_PAGE_SIZE`` rows of about a dozen widgets each; through
the template engine each widget costs an include chain (input.html → attrs.html, one
select_option.html per option), which was most of the page's time (issue 10). The few
widget templates the sheet uses are written here with the templates' exact output (escaping,
boolean attributes, the select's line breaks); anything else (error lists, other widgets)
goes to Django's templates as before. tests/test_sheet_scale.py compares both outputs.
"""

from html import escape as _escape

from django.forms.renderers import DjangoTemplates
from django.utils.html import conditional_escape


def escape(text):
    """Django's ``escape`` of a str without its lazy-string wrapper and SafeString: the same
    characters (both are ``html.escape``), at a third of the cost; the page has ~15,000."""
    return _escape(text)


WIDGETS = "django/forms/widgets/"


def _attrs(attrs):
    """attrs.html: `` name="value"`` each, a bare `` name`` for True, nothing for False."""
    out = []
    for name, value in attrs.items():
        if value is False:
            continue
        if value is True:
            out.append(f" {conditional_escape(name)}")
        else:
            out.append(f' {conditional_escape(name)}="{escape(str(value))}"')
    return "".join(out)


def _input(widget):
    value = widget["value"]
    shown = "" if value is None else f' value="{escape(str(value))}"'
    return (
        f'<input type="{conditional_escape(widget["type"])}" '
        f'name="{conditional_escape(widget["name"])}"{shown}{_attrs(widget["attrs"])}>'
    )


def _textarea(widget):
    value = widget["value"]
    text = conditional_escape(value) if value else ""
    return (
        f'<textarea name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>\n'
        f"{text}</textarea>"
    )


def _option(option):
    return (
        f'<option value="{escape(str(option["value"]))}"{_attrs(option["attrs"])}>'
        f"{conditional_escape(option['label'])}</option>\n"
    )


def _select(widget):
    out = [f'<select name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            out.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
        for option in group_choices:
            out.append("\n  " + _option(option))
        if group_name:
            out.append("\n  </optgroup>")
    out.append("\n</select>")
    return "".join(out)


WRITERS = {
    WIDGETS + "text.html": _input,
    WIDGETS + "hidden.html": _input,
    WIDGETS + "checkbox.html": _input,
    WIDGETS + "textarea.html": _textarea,
    WIDGETS + "select.html": _select,
}


def _plain_options(widget):
    """Whether a select's options use Django's own option template (written here)."""
    return all(
        option.get("template_name") == WIDGETS + "select_option.html"
        for _name, group, _index in widget.get("optgroups", ())
        for option in group
    )


class SheetRenderer(DjangoTemplates):
    """Django's templates renderer, with the sheet's widgets written in Python."""

    def render(self, template_name, context, request=None):
        writer = WRITERS.get(template_name)
        widget = context.get("widget")
        if writer is None or widget is None or not _plain_options(widget):
            return super().render(template_name, context, request=request)
        return writer(context["widget"]).strip()
