"""Publishing a month's report as a frozen, numbered version (see the package doc)."""

from django.conf import settings
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
VERSION_MOVED = _(
    "Another version of this month was published meanwhile (the next one is now version "
    "%(version)s): review the figures again before publishing."
)
# The 发文字号 of a published version, after GB/T 9704-2012 (党政机关公文格式): the issuing
# body's abbreviation, the year in 六角括号 〔〕 and the serial number 号; the serial is the
# month, so the number is derived from the month and the version alone (no stored field).
# It is an identifier, the same in every interface language, like a project code.
REFERENCE_FORMAT = "{prefix}〔{year}〕{month}号"
LATER_VERSION_FORMAT = "（第{version}版）"


def reference_number(*, year, month, version):
    """The reference number (发文字号) of version ``version`` of ``year``-``month``.

    宜工信通〔2022〕12号 for the first version; a republished month keeps its number with
    the version added: 宜工信通〔2022〕12号（第2版）. The abbreviation is
    settings.TRACKER["REPORT_REFERENCE_PREFIX"].
    """
    prefix = settings.TRACKER["REPORT_REFERENCE_PREFIX"]
    number = REFERENCE_FORMAT.format(prefix=prefix, year=year, month=month)
    return number + (LATER_VERSION_FORMAT.format(version=version) if version > 1 else "")


def frozen_head(*, year, month, version):
    """The document head a version is issued with, kept in its frozen JSON: a later change
    of the settings (the issuing body, the reference prefix) leaves published 通报 as issued."""
    return {
        "issuer": settings.TRACKER["ISSUING_BODY"],
        "reference": reference_number(year=year, month=month, version=version),
    }


def latest_version(year, month):
    """The highest published version of the month (0 when none)."""
    latest = MonthlyReport.objects.filter(year=year, month=month).aggregate(v=Max("version"))
    return latest["v"] or 0


def _check_version(version, *, reason, expected_version):
    if expected_version is not None and version != expected_version:
        raise ValidationError(VERSION_MOVED % {"version": version})
    if version > 1 and not reason:
        raise ValidationError({"reason": REASON_REQUIRED})


def check_publish(*, year, month, by, reason="", expected_version=None):
    """The rules of publishing, checked before any figure is computed: a manager, a month
    that can be reported, a reason of bounded length (required from version 2 on), and the
    confirmed version still the next one. Returns the reason, stripped. The confirmation
    page asks it before queueing the publication; the service asks it again when it runs."""
    if not permissions.may(by, permissions.PUBLISH, "report"):
        raise PermissionDenied(_("Only city bureau managers publish the monthly report."))
    check_month(year, month)
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError(
            {"reason": _("Keep the reason under %(n)s characters.") % {"n": REASON_MAX_LENGTH}}
        )
    _check_version(
        latest_version(year, month) + 1, reason=reason, expected_version=expected_version
    )
    return reason


def publish_monthly_report(*, year, month, by, reason="", expected_version=None):
    """Freeze the month's report as the next version; managers only (see the module doc).

    ``expected_version``: the number the publisher confirmed (the confirmation page says
    "will be frozen as version N"); when another publication took it meanwhile, nothing is
    published and a ValidationError says so, instead of silently freezing N+1.
    """
    reason = check_publish(
        year=year, month=month, by=by, reason=reason, expected_version=expected_version
    )
    with transaction.atomic():  # the figures and the new row in one transaction
        with translation.override(OFFICIAL_LANGUAGE):
            data = compute_report(year=year, month=month)
        for _attempt in range(PUBLISH_RETRIES):
            version = latest_version(year, month) + 1
            _check_version(version, reason=reason, expected_version=expected_version)
            try:
                with transaction.atomic():  # a savepoint: a collision leaves the rest usable
                    return MonthlyReport.objects.create(
                        year=year,
                        month=month,
                        version=version,
                        data={**data, "head": frozen_head(year=year, month=month, version=version)},
                        reason=reason,
                        published_by=by,
                    )
            except IntegrityError:
                continue  # another publish took this number meanwhile: take the next one
    raise ValidationError(_("Another publication of this month is in progress; please try again."))
