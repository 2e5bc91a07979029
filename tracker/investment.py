"""Cumulative completed investment (累计完成投资): the rules every write path shares.

The project form, ``services.update_project`` (so the admin too), the model's ``clean`` and
the weekly dispatch sheet all ask this module, so the same figure gets the same answer and
the same message wherever it is entered.
"""

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .money import wan


def cap_error(done, signed_amount):
    """The message refusing ``done`` above ``signed_amount × MAX_COMPLETED_RATIO``, or None
    (no figure, or nothing signed yet)."""
    if done is None or not signed_amount or signed_amount <= 0:
        return None
    ratio = settings.TRACKER["MAX_COMPLETED_RATIO"]
    if done <= signed_amount * ratio:
        return None
    return _(
        "Completed investment of %(done)s 万元 is more than %(ratio)s times the signed "
        "amount (%(signed)s 万元); please check the figure."
    ) % {"done": wan(done), "ratio": ratio, "signed": wan(signed_amount)}
