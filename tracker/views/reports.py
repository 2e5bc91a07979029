"""月通报 pages: the list of months, a month's live report, its published versions, XLSX.

Who: every signed-in role reads the reports (the 通报's tables and rates are a city-wide
document sent to every county and chain office); the red and yellow project list shows only
the projects the reader may see (``reports.warnings_for``), on the page and in the XLSX, live
or published. Only managers publish (POST by anyone else → 403, nothing saved).
A month that cannot be reported (no such month, outside 2000–2100, not ended yet, nothing
signed by then, or text that is not ``yyyy-mm``) answers 404 with the reason.
"""

import re

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import permissions
from ..models import MonthlyReport
from ..reports.assembly import (
    ReportMonthError,
    check_month,
    compute_report,
    reportable_months,
    warnings_for,
)
from ..reports.publishing import publish_monthly_report
from ..reports.xlsx import report_file_name, report_xlsx
from ..spreadsheets import XLSX_TYPE, attachment
from ..validators import TEXT_VALIDATORS

# Matched with fullmatch on ASCII digits: "$" would also accept a trailing newline
# ("2022-12%0A"), and \d accepts full-width digits; a month has one spelling in a URL.
MONTH_PATTERN = re.compile(r"([0-9]{4})-([0-9]{2})")
VERSION_FIELDS = ("year", "month", "version", "reason", "published_at", "published_by__username")


class PublishForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for republishing"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text=_("Required when the month has already been published."),
        validators=TEXT_VALIDATORS,
    )


def _not_found(request, message):
    return render(request, "tracker/report_missing.html", {"message": message}, status=404)


def _parse(text):
    match = MONTH_PATTERN.fullmatch(text or "")
    if not match:
        raise ReportMonthError(
            _("“%(text)s” is not a month. Months are written like 2022-12.") % {"text": text[:20]}
        )
    year, month = int(match[1]), int(match[2])
    check_month(year, month)
    return year, month


def _versions(year, month):
    return list(
        MonthlyReport.objects.filter(year=year, month=month)
        .order_by("version")
        .values(*VERSION_FIELDS)
    )


def _xlsx(data, *, timestamp, version=None):
    content = report_xlsx(data, timestamp=timestamp, version=version)
    response = HttpResponse(content, content_type=XLSX_TYPE)
    name, fallback = report_file_name(data, version=version, today=timezone.localdate())
    response["Content-Disposition"] = attachment(name, fallback)
    return response


def _tables(data):
    """The template context of a report: its JSON and the two tables' headings."""
    return {
        "data": data,
        "tables": [
            {
                "id": "regions",
                "title": _("Counties, cities and districts"),
                "name_header": _("region"),
                "ranked": True,
                "rows": data["regions"],
            },
            {
                "id": "chains",
                "title": _("Industry chains"),
                "name_header": _("industry chain"),
                "ranked": False,
                "rows": data["chains"],
            },
        ],
    }


def report_index(request):
    months = reportable_months()
    published = {}
    for row in MonthlyReport.objects.order_by("year", "month", "version").values(*VERSION_FIELDS):
        published.setdefault((row["year"], row["month"]), []).append(row)
    rows = [
        {"year": y, "month": m, "label": f"{y}-{m:02d}", "versions": published.get((y, m), [])}
        for y, m in months
    ]
    return render(request, "tracker/report_index.html", {"months": rows})


def monthly_report(request, month):
    try:
        year, month_number = _parse(month)
    except ReportMonthError as error:
        return _not_found(request, str(error))
    label = f"{year}-{month_number:02d}"
    form = PublishForm()
    may_publish = permissions.may(request.user, permissions.PUBLISH, "report")
    if request.method == "POST":
        if not may_publish:
            raise PermissionDenied(_("Only city bureau managers publish the monthly report."))
        form = PublishForm(request.POST)
        if form.is_valid():
            try:
                report = publish_monthly_report(
                    year=year,
                    month=month_number,
                    by=request.user,
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as error:
                if hasattr(error, "error_dict"):
                    for field, messages in error.message_dict.items():
                        form.add_error(field if field in form.fields else None, messages)
                else:
                    form.add_error(None, error.messages)
            else:
                return redirect(
                    "tracker:monthly_report_version", month=label, version=report.version
                )
    data = warnings_for(compute_report(year=year, month=month_number), request.user)
    if request.GET.get("export") == "xlsx":
        return _xlsx(data, timestamp=timezone.now())
    return render(
        request,
        "tracker/report_month.html",
        {
            **_tables(data),
            "label": label,
            "versions": _versions(year, month_number),
            "form": form if may_publish else None,
            "live": True,
        },
    )


def monthly_report_version(request, month, version):
    match = MONTH_PATTERN.fullmatch(month or "")
    report = None
    if match:
        report = (
            MonthlyReport.objects.select_related("published_by")
            .filter(year=int(match[1]), month=int(match[2]), version=version)
            .first()
        )
    if report is None:
        return _not_found(
            request,
            _("Version %(version)s of %(month)s has not been published.")
            % {"version": version, "month": month[:20]},
        )
    label = f"{report.year}-{report.month:02d}"
    data = warnings_for(report.data, request.user)  # the frozen JSON itself stays as it is
    if request.GET.get("export") == "xlsx":
        return _xlsx(data, timestamp=report.published_at, version=version)
    return render(
        request,
        "tracker/report_month.html",
        {
            **_tables(data),
            "label": label,
            "report": report,
            "versions": _versions(report.year, report.month),
            "live": False,
            "live_url": reverse("tracker:monthly_report", kwargs={"month": label}),
        },
    )


urlpatterns = [
    path("reports/monthly/", report_index, name="report_index"),
    path("reports/monthly/<str:month>/", monthly_report, name="monthly_report"),
    path(
        "reports/monthly/<str:month>/v<int:version>/",
        monthly_report_version,
        name="monthly_report_version",
    ),
]
