"""Publishing a month's report as a frozen, numbered version (see the package doc)."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from .. import permissions
from ..models import MonthlyReport
from .assembly import check_month, compute_report

PUBLISH_RETRIES = 3
OFFICIAL_LANGUAGE = "zh-hans"
REASON_MAX_LENGTH = 500
REASON_REQUIRED = _("This month is already published: republishing needs a reason.")


def latest_version(year, month):
    """The highest published version of the month (0 when none)."""
    latest = MonthlyReport.objects.filter(year=year, month=month).aggregate(v=Max("version"))
    return latest["v"] or 0


def publish_monthly_report(*, year, month, by, reason=""):
    """Freeze the month's report as the next version; managers only (see the module doc)."""
    if not permissions.may(by, permissions.PUBLISH, "report"):
        raise PermissionDenied(_("Only city bureau managers publish the monthly report."))
    check_month(year, month)
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError(
            {"reason": _("Keep the reason under %(n)s characters.") % {"n": REASON_MAX_LENGTH}}
        )
    with transaction.atomic():  # the figures and the new row in one transaction
        with translation.override(OFFICIAL_LANGUAGE):
            data = compute_report(year=year, month=month)
        for _attempt in range(PUBLISH_RETRIES):
            version = latest_version(year, month) + 1
            if version > 1 and not reason:
                raise ValidationError({"reason": REASON_REQUIRED})
            try:
                with transaction.atomic():  # a savepoint: a collision leaves the rest usable
                    return MonthlyReport.objects.create(
                        year=year,
                        month=month,
                        version=version,
                        data=data,
                        reason=reason,
                        published_by=by,
                    )
            except IntegrityError:
                continue  # another publish took this number meanwhile: take the next one
    raise ValidationError(_("Another publication of this month is in progress; please try again."))
