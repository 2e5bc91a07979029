"""月通报 pages: the list of months, a month's live report, its published versions, XLSX.

Who: every signed-in role reads the reports (the 通报's tables and rates are a city-wide
document sent to every county and chain office); the red and yellow project list shows only
the projects the reader may see (``reports.warnings_for``), on the page and in the XLSX, live
or published, each row linking to its project page. Only managers publish, in two steps:
the live report's button opens a confirmation page (GET, nothing changes) that says what
will be frozen as which version; only its POST with ``confirm=yes`` publishes (anyone else:
403, nothing saved). The live report itself answers GET only.
A month that cannot be reported (no such month, outside 2000–2100, not ended yet, nothing
signed by then, or text that is not ``yyyy-mm``) answers 404 with the reason.
"""

import datetime
import re

from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from .. import jobs, permissions
from ..models import MonthlyReport, User
from ..periods import year_text
from ..reports.assembly import (
    ReportMonthError,
    check_month,
    compute_report,
    reportable_months,
    warnings_for,
)
from ..reports.publishing import check_publish, latest_version, reference_number
from ..reports.xlsx import report_file_name, report_xlsx
from ..spreadsheets import XLSX_TYPE, attachment
from ..validators import TEXT_VALIDATORS

# Matched with fullmatch on ASCII digits: "$" would also accept a trailing newline
# ("2022-12%0A"), and \d accepts full-width digits; a month has one spelling in a URL.
MONTH_PATTERN = re.compile(r"([0-9]{4})-([0-9]{2})")
VERSION_FIELDS = ("year", "month", "version", "reason", "published_at", "published_by")
CONFIRM = "yes"  # the value of the confirmation page's button (name="confirm")
NOT_CONFIRMED = _("Nothing was published: publish with the confirmation button of this page.")
ONLY_MANAGERS = _("Only city bureau managers publish the monthly report.")


class PublishForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for republishing"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text=_("Required when the month has already been published."),
        validators=TEXT_VALIDATORS,
    )
    # The version the publisher was shown ("will be frozen as version N"): the service
    # refuses when another publication took that number meanwhile.
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


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


def _version_rows(reports):
    """The versions as dicts of VERSION_FIELDS, the publisher as the person's name."""
    rows = list(reports.values(*VERSION_FIELDS))
    names = User.display_by_id(row["published_by"] for row in rows)
    for row in rows:
        row["published_by"] = names.get(row["published_by"], "")
    return rows


def _versions(year, month):
    return _version_rows(MonthlyReport.objects.filter(year=year, month=month).order_by("version"))


def _xlsx(data, *, timestamp, version=None):
    reference = None
    if version is not None:
        reference = data.get("head", {}).get("reference") or reference_number(
            year=data["year"], month=data["month"], version=version
        )
    content = report_xlsx(data, timestamp=timestamp, version=version, reference=reference)
    response = HttpResponse(content, content_type=XLSX_TYPE)
    name, fallback = report_file_name(data, version=version, today=timezone.localdate())
    response["Content-Disposition"] = attachment(name, fallback)
    return response


def _links(request):
    """Whether the red/yellow rows need their projects' links: on the page, not in the XLSX."""
    return request.GET.get("export") != "xlsx"


def _warnings_on_page():
    """How many red/yellow projects a report page lists (the XLSX lists them all)."""
    return int(settings.TRACKER["REPORT_WARNINGS_ON_PAGE"])


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


def _head(data, report=None):
    """The document head of the printed 通报: the issuing body, the reference number
    (None for the live report, a draft), the issue date (the version's publication day,
    today for the live report) and the as-of day as a date."""
    head = {
        "issuer": settings.TRACKER["ISSUING_BODY"],
        "as_of": datetime.date.fromisoformat(data["as_of"]),
        "reference": None,
        "issued_on": timezone.localdate(),
    }
    if report is not None:
        # What the version was issued with (frozen at publication; versions published
        # before the head was frozen get today's settings).
        frozen = report.data.get("head") or {}
        head["issuer"] = frozen.get("issuer") or head["issuer"]
        head["reference"] = frozen.get("reference") or reference_number(
            year=report.year, month=report.month, version=report.version
        )
        head["issued_on"] = timezone.localdate(report.published_at)
    return head


def report_index(request):
    months = reportable_months()
    published = {}
    for row in _version_rows(MonthlyReport.objects.order_by("year", "month", "version")):
        published.setdefault((row["year"], row["month"]), []).append(row)
    years = {}  # newest year first, as reportable_months lists the months
    for y, m in months:
        years.setdefault(y, []).append(
            {"year": y, "month": m, "label": f"{y}-{m:02d}", "versions": published.get((y, m), [])}
        )
    groups = [{"year": y, "heading": year_text(y), "months": rows} for y, rows in years.items()]
    return render(request, "tracker/report_index.html", {"years": groups})


@require_safe
def monthly_report(request, month):
    try:
        year, month_number = _parse(month)
    except ReportMonthError as error:
        return _not_found(request, str(error))
    label = f"{year}-{month_number:02d}"
    if request.GET.get("export") == "xlsx":  # the whole red/yellow list
        data = warnings_for(compute_report(year=year, month=month_number), request.user)
        return _xlsx(data, timestamp=timezone.now())
    limit = _warnings_on_page()  # the page lists the most urgent only
    report = compute_report(
        year=year, month=month_number, warnings_user=request.user, warnings_limit=limit
    )
    data = warnings_for(report, request.user, links=True, limit=limit)
    return render(
        request,
        "tracker/report_month.html",
        {
            **_tables(data),
            "label": label,
            "head": _head(data),
            "versions": _versions(year, month_number),
            "may_publish": permissions.may(request.user, permissions.PUBLISH, "report"),
            "live": True,
        },
    )


def monthly_report_publish(request, month):
    """The confirmation step of publishing: what will be frozen (the month, its as-of day,
    the counts) as which version, and the button whose POST (``confirm=yes``) publishes."""
    if not permissions.may(request.user, permissions.PUBLISH, "report"):
        raise PermissionDenied(ONLY_MANAGERS)
    try:
        year, month_number = _parse(month)
    except ReportMonthError as error:
        return _not_found(request, str(error))
    label = f"{year}-{month_number:02d}"
    form = PublishForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        valid = form.is_valid()
        if request.POST.get("confirm") != CONFIRM:
            form.add_error(None, NOT_CONFIRMED)
        elif valid:
            try:
                # The rules first, so a refusal shows on this page; then the publication
                # itself runs as a background job whose page shows its progress and then
                # opens the published version (tracker.jobs, tracker.tasks).
                reason = check_publish(
                    year=year,
                    month=month_number,
                    by=request.user,
                    reason=form.cleaned_data["reason"],
                    expected_version=form.cleaned_data["version"],
                )
                job = jobs.queue_publish(
                    user=request.user,
                    year=year,
                    month=month_number,
                    version=form.cleaned_data["version"],
                    reason=reason,
                )
            except ValidationError as error:
                if hasattr(error, "error_dict"):
                    for field, messages in error.message_dict.items():
                        form.add_error(field if field in form.fields else None, messages)
                else:
                    form.add_error(None, error.messages)
            else:
                return redirect("tracker:job_detail", pk=job.pk)
    version = latest_version(year, month_number) + 1  # as it is now, after any refusal
    data = compute_report(year=year, month=month_number)
    return render(
        request,
        "tracker/report_publish_confirm.html",
        {
            "label": label,
            "data": data,
            "as_of": datetime.date.fromisoformat(data["as_of"]),
            "version": version,
            "reference": reference_number(year=year, month=month_number, version=version),
            "versions": _versions(year, month_number),
            "form": form,
            "confirm": CONFIRM,
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
    limit = None if request.GET.get("export") == "xlsx" else _warnings_on_page()
    data = warnings_for(report.data, request.user, links=_links(request), limit=limit)
    if request.GET.get("export") == "xlsx":
        return _xlsx(data, timestamp=report.published_at, version=version)
    return render(
        request,
        "tracker/report_month.html",
        {
            **_tables(data),
            "label": label,
            "report": report,
            "head": _head(data, report),
            "versions": _versions(report.year, report.month),
            "live": False,
            "live_url": reverse("tracker:monthly_report", kwargs={"month": label}),
        },
    )


urlpatterns = [
    path("reports/monthly/", report_index, name="report_index"),
    path("reports/monthly/<str:month>/", monthly_report, name="monthly_report"),
    path(
        "reports/monthly/<str:month>/publish/",
        monthly_report_publish,
        name="monthly_report_publish",
    ),
    path(
        "reports/monthly/<str:month>/v<int:version>/",
        monthly_report_version,
        name="monthly_report_version",
    ),
]
