"""The weekly sheet's rows (``<tr>`` of templates/tracker/dispatch.html), written in Python.

A sheet page has up to ``DISPATCH_SHEET_PAGE_SIZE`` rows of a dozen inputs each. Through the
template engine each row cost about 4 ms at scale (issue 10): variable lookups, filters and
one form with its bound fields per project. Here the row markup is one f-string, the page's
labels are translated and escaped once, a stage ``<select>`` is written once per distinct set
of choices, and an opened page (unbound) writes its inputs straight from the rows' initial
values, without building a form per row. A page shown again after a POST (errors, refused
rows) writes each input through its bound form (Django's widgets, ``SheetRenderer``), so what
the user typed and the error messages come out as Django renders them.

The markup is the one the template wrote (labels for every input, names, ids, values,
errors, the phone layout's ``data-label``): tests/test_sheet_rows.py renders the former
template beside it and compares, for opened, refused and closed pages.
"""

from decimal import Decimal
from html import escape

from django.conf import settings
from django.template.defaultfilters import linebreaksbr
from django.template.loader import render_to_string
from django.utils import formats
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from ..choices import Stage
from ..templatetags.period_format import week as week_filter
from .sheet_renderer import _attrs

# The fields of a row, in the order of their hidden / visible inputs.
HIDDEN = ("project", "version", "report_version")
TEXTS = ("progress", "problems")


def _value(value):
    """A widget's ``value`` attribute as Django's ``Input.format_value`` writes it."""
    return "" if value is None or value == "" else f' value="{escape(str(value))}"'


def _shown(value):
    """A value shown as text in the page (the template's ``{{ value }}``)."""
    return escape(str(formats.localize(value)))


def _plain_numbers():
    """Whether the active language writes a Decimal as ``f"{value:f}"`` does (a point, no
    thousands separator): then the rows' figures skip ``formats.localize`` (15 µs each)."""
    return formats.get_format("DECIMAL_SEPARATOR") == "." and not settings.USE_THOUSAND_SEPARATOR


def _errors(messages):
    if not messages:
        return ""
    return (
        '<ul class="errorlist">' + "".join(f"<li>{escape(str(m))}</li>" for m in messages) + "</ul>"
    )


class _Unbound:
    """A row of an opened page: inputs written from the row's initial values."""

    errors = {}
    non_field_errors = ()

    def __init__(self, writer, index, initial, choices_key):
        self.w = writer
        self.name = f"{writer.prefix}-{index}-"
        self.initial = initial
        self.choices_key = choices_key

    def _id(self, field):
        return f"id_{self.name}{field}"

    def hidden(self, field):
        return (
            f'<input type="hidden" name="{self.name}{field}"{_value(self.initial[field])} '
            f'id="{self._id(field)}">'
        )

    def _hidden_initial(self, field):
        return (
            f'<input type="hidden" name="initial-{self.name}{field}"'
            f'{_value(self.initial[field])} id="initial-{self.name}{self._id(field)}">'
        )

    def widget(self, field):
        name, attrs = self.name + field, self.w.attrs[field]
        if "{id}" in attrs:  # aria-describedby of a field with a help text
            attrs = attrs.replace("{id}", self._id(field))
        if field == "stage":
            options = self.w.options(self.choices_key)
            return f'<select name="{name}"{attrs} id="{self._id(field)}">{options}\n</select>'
        if field in TEXTS:
            text = escape(str(self.initial[field] or ""))
            return (
                f'<textarea name="{name}"{attrs} id="{self._id(field)}">\n{text}</textarea>'
                + self._hidden_initial(field)
            )
        if field == "confirm":
            return f'<input type="checkbox" name="{name}"{attrs} id="{self._id(field)}">'
        value = _value(self.initial.get(field))
        html = f'<input type="text" name="{name}"{value}{attrs} id="{self._id(field)}">'
        if field == "completed_investment":
            html += self._hidden_initial(field)
        return html

    def value(self, field):
        return self.initial.get(field)

    def id(self, field):
        return self._id(field)


class _Bound:
    """A row shown again after a POST: Django's own rendering of the bound form."""

    def __init__(self, form):
        self.form = form
        self.errors = form.errors
        self.non_field_errors = form.non_field_errors()

    def hidden(self, field):
        return str(self.form[field])

    def widget(self, field):
        return str(self.form[field])

    def value(self, field):
        return self.form[field].value()

    def id(self, field):
        return self.form[field].id_for_label


class SheetRows:
    """Writes the rows of one page of the sheet (``write``); one instance per page."""

    def __init__(self, *, form_class, prefix, closed, stage_choices):
        self.prefix = prefix
        self.closed = closed
        self.stage_choices = stage_choices  # (project, user-key) → choices, see ``write``
        fields = form_class.base_fields
        self.labels = {name: escape(str(field.label)) for name, field in fields.items()}
        self.help = {name: escape(str(field.help_text)) for name, field in fields.items()}
        # Widget attributes after the name (and value), before the id, as Django orders them
        # (the widget's own, then ``aria-describedby`` of a field with a help text).
        self.attrs = {}
        for name, field in fields.items():
            attrs = dict(field.widget.attrs)
            if field.help_text:
                attrs["aria-describedby"] = "{id}_helptext"
            self.attrs[name] = _attrs(attrs)
        self.text = {
            key: escape(str(text))
            for key, text in {
                "project": _("project"),
                "last": _("last report"),
                "invest": _("cumulative completed investment (万元)"),
                "late": _("late"),
                "filed": _("filed this week"),
                "wan": _("万元"),
                "none": _("none yet"),
                "now": _("project now"),
                "sample": _("示例"),
            }.items()
        }
        self.plain_numbers = _plain_numbers()
        self.stages = {value: escape(str(label)) for value, label in Stage.choices}
        self._options = {}
        self._weeks = {}

    def options(self, key):
        """The ``<option>`` list of a stage select whose value is "unchanged", once per set
        of choices (a page has a handful)."""
        found = self._options.get(key)
        if found is None:
            found = "".join(
                f'\n  <option value="{escape(str(value))}"{" selected" if value == "" else ""}>'
                f"{escape(str(label))}</option>\n"
                for value, label in self.stage_choices(key)
            )
            self._options[key] = found
        return found

    def figure(self, value):
        """A figure (万元) shown as text, as ``_shown`` writes it."""
        if self.plain_numbers and isinstance(value, Decimal):
            return f"{value:f}"
        return _shown(value)

    def _week(self, report):
        """The report's week as the ``week`` filter writes it (a week that does not exist
        is written as the filter falls back: the report itself)."""
        key = (report.iso_year, report.iso_week)
        found = self._weeks.get(key)
        if found is None:
            text = week_filter(report)
            found = escape(str(text))
            if isinstance(text, str):
                self._weeks[key] = found
        return found

    def _stage(self, value):
        """A stage's label (``get_stage_display``: an unknown value as it is)."""
        return self.stages.get(value) or escape(str(value))

    def missing(self, projects):
        """The items of the list of this page's projects without a report (links to rows)."""
        return mark_safe(  # every value in it is escaped here
            "".join(
                f'<li data-project="{p.pk}"><a href="#row-{p.pk}">'
                f"{escape(p.code)} {escape(p.name)}</a></li>"
                for p in projects
            )
        )

    def write(self, rows, forms=None):
        """The rows' HTML. ``rows``: the view's row dicts (project, initial, last, filed,
        project_now, bounds, conflict, choices_key, has_reason); ``forms``: the bound forms,
        row for row, when the page is shown again after a POST."""
        out = []
        for index, row in enumerate(rows):
            if forms is None:
                cells = _Unbound(self, index, row["initial"], row["choices_key"])
            else:
                cells = _Bound(forms[index])
            out.append(self._row(row, cells))
        return mark_safe("".join(out))  # every value in it is escaped above

    def _row(self, row, cells):
        p, last, closed = row["project"], row["last"], self.closed
        t, labels = self.text, self.labels
        errors = cells.errors
        who = f'<span class="visually-hidden"> · {escape(p.code)} {escape(p.name)}</span>'

        def label(field, css="field-label"):
            return f'<label for="{cells.id(field)}" class="{css}">{labels[field]}{who}</label>'

        widget = cells.widget
        classes = (
            ("row-error" if errors else "")
            + (" filed" if row["filed"] else "")
            + (" stale" if row["conflict"] else "")
        )
        sample = f' <span class="sample">{t["sample"]}</span>' if p.is_sample else ""
        non_field = cells.non_field_errors
        html = [
            f'<tr id="row-{p.pk}" data-project="{p.pk}" class="{classes}">'
            f'<td data-label="{t["project"]}">'
            + "".join(cells.hidden(name) for name in HIDDEN)
            + f"<strong>{escape(p.code)}</strong> {escape(p.name)}{sample}<br>"
            f'<span class="muted">{escape(p.enterprise.name)} · {escape(p.region.name)}</span>'
            + _errors(non_field)
            + _errors(errors.get("project"))
            + "</td>"
        ]
        # The reference report.
        if last:
            ref = self._week(last)
            if last.is_late:
                ref += f' · <span class="late">{t["late"]}</span>'
            if row["filed"]:
                ref += f' · <span class="filed-tag">{t["filed"]}</span>'
            ref += (
                f"<br>\n{self._stage(last.stage)} · "
                f'<span class="ref-invest">{self.figure(last.completed_investment)}</span> '
                f"{t['wan']}"
            )
        else:
            ref = t["none"]
        if row["project_now"] is not None:
            ref += (
                f'<br><span class="project-now">{t["now"]}: {self.figure(row["project_now"])} '
                f"{t['wan']}</span>"
            )
        html.append(f'<td class="muted reference" data-label="{t["last"]}">{ref}</td>')
        # Stage.
        stage_errors = errors.get("stage")
        if closed:
            stage = self._stage((last or p).stage)
        else:
            stage = label("stage") + widget("stage")
        html.append(
            f'<td class="{"field-error" if stage_errors else ""}" data-label="{labels["stage"]}">'
            f"\n{stage}\n{_errors(stage_errors)}\n</td>"
        )
        # Cumulative completed investment, and a manager's reason for lowering it.
        invest_errors = errors.get("completed_investment")
        reason_errors = errors.get("reason") if row["has_reason"] else None
        floor, ceiling = row["bounds"]
        bounds = (f' data-floor="{escape(str(floor))}"' if floor is not None else "") + (
            f' data-ceiling="{escape(str(ceiling))}"' if ceiling is not None else ""
        )
        if closed:
            value = cells.value("completed_investment")
            invest = "" if value is None else self.figure(value)
        else:
            invest = label("completed_investment") + widget("completed_investment")
        invest = f"\n{invest}\n{_errors(invest_errors)}\n"
        if row["has_reason"] and not closed:
            invest += (
                f'<div class="reason" data-reason{" data-needed" if reason_errors else ""}>'
                f'<label for="{cells.id("reason")}">{labels["reason"]}{who}</label>'
                f'{widget("reason")}<span id="{cells.id("reason")}_helptext" '
                f'class="visually-hidden">{self.help["reason"]}</span>'
                f"{_errors(reason_errors)}</div>"
            )
        error_class = " field-error" if invest_errors or reason_errors else ""
        html.append(
            f'<td class="num{error_class}" data-label="{t["invest"]}"{bounds}>{invest}\n</td>'
        )
        # The texts.
        for field in TEXTS:
            field_errors = errors.get(field)
            if closed:
                value = cells.value(field)
                text = linebreaksbr("" if value is None else value, autoescape=True)
            else:
                text = label(field) + widget(field)
            html.append(
                f'<td class="{"field-error" if field_errors else ""}" '
                f'data-label="{labels[field]}">\n{text}\n{_errors(field_errors)}\n</td>'
            )
        # File unchanged.
        confirm = ""
        if not closed:
            confirm = (
                f'<label for="{cells.id("confirm")}" class="check-label">{widget("confirm")}'
                f'<span class="field-label">{labels["confirm"]}{who}</span></label>'
                f'<span id="{cells.id("confirm")}_helptext" class="visually-hidden">'
                f"{self.help['confirm']}</span>"
            )
        html.append(f'<td class="confirm">{confirm}</td></tr>')
        if row["conflict"]:
            html.append(
                render_to_string(
                    "tracker/includes/dispatch_conflict.html", {"p": p, "c": row["conflict"]}
                )
            )
        return "".join(html)
