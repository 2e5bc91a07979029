"""Widgets the forms share."""

import re

from django import forms

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")

# Digits in groups of three after the first one to three, with one separator between groups:
# "9,100", "17,961,600.00", "9 100". "9,10" or "1,2345" are not groupings (left as typed, so
# the field says it is not a number rather than guessing what was meant).
_GROUPED = re.compile(r"([+-]?)([0-9]{1,3}(?:[, ][0-9]{3})+)(\.[0-9]*)?")


_HALF_WIDTH = {
    **{code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)},
    0x3000: " ",
    0x00A0: " ",
    0x2009: " ",
    0x202F: " ",
}


def plain_number(text):
    """A typed amount as Django's number fields read it: full-width characters made
    half-width ("９，１００" → "9,100"), spaces around it dropped, and the thousands separators
    of a correctly grouped number removed ("9,100", "9，100", " 9 100 " → "9100").
    Anything else is returned as typed (after the first two steps)."""
    if not isinstance(text, str):
        return text
    # Full-width forms (digits, "，", "．", "－") and the ideographic space become ASCII; a
    # no-break or thin space a plain space. Only these: "9²" or "①" stay as typed (refused).
    text = text.translate(_HALF_WIDTH).strip()
    match = _GROUPED.fullmatch(text)
    if match is None:
        return text
    sign, digits, decimals = match.groups()
    return sign + re.sub(r"[, ]", "", digits) + (decimals or "")


class AmountInput(forms.TextInput):
    """An amount or a count typed as text (``inputmode="decimal"`` gives phones a numeric
    keyboard) so that "9,100" can be typed: the separators are taken out before the field
    reads the value (``plain_number``). A ``type="number"`` input would refuse them, and
    blank the value in some browsers, before the server ever sees it."""

    input_type = "text"

    def __init__(self, attrs=None):
        super().__init__({"inputmode": "decimal", "autocomplete": "off", **(attrs or {})})

    def value_from_datadict(self, data, files, name):
        return plain_number(super().value_from_datadict(data, files, name))


def use_amount_inputs(form):
    """Every visible number field of ``form`` (decimal or integer) gets an ``AmountInput``,
    keeping the attributes already set on its widget apart from the number input's own
    (``min``, ``max``, ``step``: the field's validators still check the bounds)."""
    for field in form.fields.values():
        if isinstance(field, forms.DecimalField | forms.IntegerField) and not isinstance(
            field.widget, forms.HiddenInput | AmountInput
        ):
            attrs = {k: v for k, v in field.widget.attrs.items() if k not in ("step", "min", "max")}
            field.widget = AmountInput(attrs)
