"""The worst data the database accepts, on every page and every export, as every role: no 500.

A world with a row in every table (built through the services, so it is a real one), then
every text, date, number and flag column of every tracker table overwritten with the worst
value the database takes — bypassing the forms, by ``QuerySet.update``: control characters
(NUL too where the database stores it: SQLite; PostgreSQL refuses NUL in text), the
characters openpyxl refuses, right-to-left marks, emoji and other astral characters,
template-ish and HTML text, formula prefixes (``=cmd|``, ``+``, ``-``, ``@``, tab, CR),
strings of the full column length (and 40,000 characters in the text columns, more than an
XLSX cell holds), the boundary dates 2000-01-01 and 2100-12-31 on every date column, the
largest and the most negative decimal each column allows, the largest integers. Each
(row, column) gets one payload in turn, so every payload is in every table.

Then every page of the app is requested as every role: each route of ``tracker.urls`` with
the poisoned rows in the URL, the lists with filters (poisoned ones too), ``?export=csv``
and ``?export=xlsx`` of every list, the monthly report (HTML and XLSX) of the months around
the bad dates, the dashboard and the assessment for the bad years, and the admin's lists,
searches, change, history and delete pages of every poisoned row. Every response must be
below 500 (the test client re-raises a view's exception: it is recorded as a failure too),
every XLSX must open with openpyxl and every CSV must parse, without a formula cell.
"""

import csv
import datetime
import io
import itertools
import sys
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, models, transaction
from django.urls import reverse
from django.utils.http import urlencode
from openpyxl import load_workbook

from tests import factories
from tests.test_scope import tracker_routes
from tracker import assessments, imports, inspections, problems
from tracker.choices import ChangeAction, ImportKind, ImportState, Role, Stage
from tracker.models import (
    AnnualIndicator,
    ChainLeader,
    ChangeLog,
    ImportBatch,
    IndustryChain,
    Inspection,
    Job,
    JobFilePart,
    JobKind,
    JobState,
    MissingDispatch,
    MonthlyReport,
    Problem,
    Project,
    Region,
    User,
    WeeklyDispatch,
)
from tracker.reports.publishing import publish_monthly_report
from tracker.seed.roles import ensure_role_groups
from tracker.spreadsheets import FORMULA_PREFIXES, XLSX_CELL_MAX
from tracker.validators import CONTROL_CHARACTERS_RE

pytestmark = pytest.mark.django_db

TODAY = datetime.date.today()  # noqa: DTZ011 — only dates well in the past are needed
SIGNED = TODAY - datetime.timedelta(days=200)
LOW, HIGH = datetime.date(2000, 1, 1), datetime.date(2100, 12, 31)
LOW_AT = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
# The last moment of 2100-12-31 in Asia/Shanghai.
HIGH_AT = datetime.datetime(2100, 12, 31, 15, 59, 59, 999999, tzinfo=datetime.UTC)
LONG_TEXT = 40_000  # longer than an XLSX cell holds (32,767)

CONTROLS = "".join(chr(c) for c in [*range(1, 9), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
PAYLOADS = {
    "control": "控制\x0b字符" + CONTROLS + "尾",
    "formula": "=cmd|' /C calc'!A0",
    "formula-prefixes": "+1+1 @SUM(A1) -2+3",
    "formula-tab": "\t=1+1",
    "formula-cr": "\r=1+1\n-1",
    "markup": "<script>alert(1)</script>{{ request }}{% csrf_token %}%(x)s %s {0} &amp; \"'`",
    "bidi-astral": "\u202e\u200f右到左\u200b\ufeff😀𠀀é\u0301\U0010fffd",
    "long": None,  # the column's full length (40,000 characters in a text column)
    "whitespace": " \t\n\r ",
    "empty": "",
}
if connection.vendor == "sqlite":  # PostgreSQL refuses NUL in text columns
    PAYLOADS["nul"] = "前\x00后"
UNKNOWN_CHOICE = "=\x0b<b>未知"
ROLES = ["superuser", "manager", "county", "commissioner", "chain_office", "no_role"]


# --- a real world, through the services ------------------------------------------------------
def build_world():
    a, b = factories.region(name="甲县"), factories.region(name="乙县")
    park = factories.park(region=a)
    x = factories.chain(name="甲链", is_leading=True, lead_unit="牵头单位")
    y = factories.chain(name="乙链")
    users = {
        "superuser": factories.user("", username="root", is_superuser=True, is_staff=True),
        "manager": factories.user(Role.MANAGER, username="mgr", is_staff=True),
        "county": factories.user(Role.COUNTY, region=a, username="county"),
        "commissioner": factories.user(Role.COMMISSIONER, username="tepai"),
        "chain_office": factories.user(Role.CHAIN_OFFICE, chain=x, username="office"),
        "no_role": factories.user("", username="nobody"),
    }
    groups = ensure_role_groups()
    for user in users.values():
        if user.role:
            user.groups.add(groups[user.role])
    manager = users["manager"]
    ChainLeader.objects.create(chain=x, position="leader", title="市长", user=manager)
    x.anchor_enterprises.add(factories.enterprise(region=a, chain=x))
    started = SIGNED + datetime.timedelta(days=30)
    histories = [
        [],
        [(Stage.STARTED, started)],
        [(Stage.STARTED, started), (Stage.PRODUCTION, started + datetime.timedelta(days=30))],
        [(Stage.STARTED, started), (Stage.STALLED, started + datetime.timedelta(days=10))],
        [(Stage.TERMINATED, started)],
    ]
    projects = []
    for n, (region, chain) in enumerate(itertools.product((a, b), (x, y))):
        for history in histories[n % 2 :: 2]:
            projects.append(
                factories.project(
                    region=region,
                    chain=chain,
                    park=park if region == a else None,
                    signed_on=SIGNED,
                    history=history,
                    annual_planned_investment=Decimal("1000"),
                    commissioner=users["commissioner"],
                    responsible_unit="责任单位",
                    notes="备注",
                )
            )
    week = SIGNED.isocalendar()
    for project in projects:
        factories.dispatch(project, iso_year=week[0], iso_week=week[1], progress="进度")
        MissingDispatch.objects.create(project=project, iso_year=week[0], iso_week=week[1])
    AnnualIndicator.objects.create(year=SIGNED.year, key="revenue", name="营业收入", value=1)
    for key in ("name",):
        ChangeLog.objects.create(
            content_type=ContentType.objects.get_for_model(Project),
            object_id=projects[0].pk,
            object_repr=str(projects[0]),
            action=ChangeAction.UPDATE,
            field=key,
            old_value="旧",
            new_value="新",
            changed_by=manager,
            note="理由",
        )
    # The problem ledger: a problem in every status, with every kind of event.
    raised = [
        problems.raise_problem(by=manager, title=f"问题{n}", description="描述", project=p)
        for n, p in enumerate(projects[:5])
    ]
    chain_wide = problems.raise_problem(by=manager, title="全链问题", chain=x)
    deadline = TODAY + datetime.timedelta(days=30)
    for problem in [*raised[1:], chain_wide]:
        problems.assign_problem(
            problem_id=problem.pk, expected_version=1, by=manager, unit="单位", deadline=deadline
        )
    problems.extend_deadline(
        problem_id=raised[2].pk,
        expected_version=2,
        by=manager,
        deadline=deadline + datetime.timedelta(days=1),
        reason="延期",
    )
    problems.escalate_problem(
        problem_id=raised[2].pk, expected_version=3, by=manager, reason="督办"
    )
    for problem in raised[3:]:
        problems.resolve_problem(
            problem_id=problem.pk, expected_version=2, by=manager, resolution="已解决"
        )
    problems.close_problem(problem_id=raised[4].pk, expected_version=3, by=manager, note="销号")
    # Inspections: an item open, one done, one verified and escalated.
    quarter = (TODAY.month - 1) // 3 + 1
    for region, project in ((a, projects[0]), (b, None)):
        inspection = inspections.create_inspection(
            data={
                "year": TODAY.year,
                "quarter": quarter,
                "region": region,
                "project": project,
                "title": "督查",
                "inspected_on": TODAY,
                "leader": "领导",
                "findings": "发现",
            },
            by=manager,
        )
        items = [
            inspections.add_item(
                inspection=inspection,
                description=f"整改{n}",
                owner_unit="单位",
                deadline=deadline,
                by=manager,
            )
            for n in range(3)
        ]
        for item in items[1:]:
            inspections.mark_item_done(item=item, on=TODAY, note="已整改", by=manager)
        inspections.verify_item(item=items[2], on=TODAY, by=manager)
        inspections.escalate_item(item=items[0], by=manager)
    assessments.ensure_default_weights(SIGNED.year)
    assessments.add_adjustment(
        year=SIGNED.year, region=a, points=Decimal(5), reason="加分", by=manager
    )
    # Background jobs of every state for every user: a finished export with its file, a
    # published report, one running, one failed (their pages and files are walked).
    for user in users.values():
        for kind, state in (
            (JobKind.EXPORT, JobState.DONE),
            (JobKind.PUBLISH, JobState.DONE),
            (JobKind.EXPORT, JobState.RUNNING),
            (JobKind.EXPORT, JobState.FAILED),
            (JobKind.BULK, JobState.DONE),
        ):
            with_file = kind == JobKind.EXPORT and state == JobState.DONE
            job = Job.objects.create(
                kind=kind,
                requested_by=user,
                state=state,
                done=3,
                total=10,
                file_size=5 if with_file else None,
                file_name="项目清单.csv",
                fallback_name="projects.csv",
                content_type="text/csv; charset=utf-8",
                result_url="/reports/monthly/" if kind == JobKind.PUBLISH else "",
                error="失败" if state == JobState.FAILED else "",
                # a bulk change's result as nothing writes it (tracker.bulk.summary)
                params={"result": {"refused": [["A-1"], 5, ["A", "名", "原因"]], "applied": "x"}}
                if kind == JobKind.BULK
                else {},
            )
            if with_file:  # as a worker stores it
                JobFilePart.objects.create(job=job, attempt=0, number=0, data=b"code\n")
        # Imports: a real preview of every project (errors and changes), and one whose
        # stored JSON is nothing a preview writes.
        if imports.may_import(user, ImportKind.PROJECTS):
            codes = "\n".join(f"{p.code},改{p.name}" for p in Project.objects.all())
            imports.upload(
                kind=ImportKind.PROJECTS,
                by=user,
                name="项目.csv",
                data=f"项目编号,项目名称\n{codes}\nNEW,\n".encode(),
            )
        ImportBatch.objects.create(
            kind=ImportKind.PROJECTS,
            owner=user,
            data=b"x",
            state=ImportState.READY,
            plan={"rows": [{}, {"action": "update", "changes": 3}], "errors": "x", "counts": 1},
        )
    return users


# --- the poison --------------------------------------------------------------------------------
def _text_for(field, kind, suffix):
    payload = PAYLOADS[kind]
    if payload is None:
        limit = field.max_length or LONG_TEXT
        payload = ("长" * limit)[: limit - len(suffix)]
    value = payload + suffix
    return value[: field.max_length] if field.max_length else value


def _decimal_candidates(field):
    top = Decimal(10) ** (field.max_digits - field.decimal_places) - Decimal(10) ** (
        -field.decimal_places
    )
    return [top, -top, Decimal(0), Decimal(100), Decimal(-100), Decimal(1)]


INT_LIMITS = {
    models.PositiveSmallIntegerField: 32767,
    models.SmallIntegerField: 32767,
    models.PositiveIntegerField: 2147483647,
    models.IntegerField: 2147483647,
}
YEARS = (LOW.year, HIGH.year)


def _candidates(field, n):
    """Values to try for ``field`` on the n-th row, worst first; None: leave it alone."""
    if isinstance(field, models.DateTimeField):
        return [(HIGH_AT, LOW_AT)[n % 2]]
    if isinstance(field, models.DateField):
        return [(LOW, HIGH)[n % 2], (HIGH, LOW)[n % 2]]
    if isinstance(field, models.DecimalField):
        values = _decimal_candidates(field)
        return values[n % 2 :] + values[: n % 2]
    if isinstance(field, models.BooleanField):
        return [n % 2 == 0]
    if type(field) in INT_LIMITS and not field.choices:
        if field.name in ("year", "iso_year"):
            return [YEARS[n % 2], YEARS[(n + 1) % 2]]
        if field.name in ("iso_week",):
            return [53, 1]
        if field.name in ("month", "quarter"):
            return None
        return [INT_LIMITS[type(field)], 0, 1]
    return None


# What lets the account sign in and reach its pages stays as the role needs it.
ACCOUNT_FIELDS = {"password", "role", "is_active", "is_staff", "is_superuser"}


def poison():
    """Overwrite every column of every tracker row with a worst value the database takes
    (the next candidate where a constraint refuses one); returns how many were written."""
    kinds = list(PAYLOADS)
    written = 0
    for model in apps.get_app_config("tracker").get_models():
        fields = [
            f
            for f in model._meta.concrete_fields
            if not f.primary_key
            and not f.is_relation
            and (model is not User or f.name not in ACCOUNT_FIELDS)
        ]
        for n, obj in enumerate(model._default_manager.order_by("pk")):
            for m, field in enumerate(fields):
                if isinstance(field, models.CharField | models.TextField):
                    if field.choices:  # where no constraint refuses it: an unknown choice
                        candidates = [UNKNOWN_CHOICE[: field.max_length]]
                    else:
                        kind = kinds[(n + m) % len(kinds)]
                        candidates = [
                            _text_for(field, kind, f"#{obj.pk}" if field.unique else ""),
                            _text_for(field, "control", f"#{obj.pk}"),
                            _text_for(field, "formula", f"#{obj.pk}"),
                        ]
                else:
                    candidates = _candidates(field, n)
                if not candidates:
                    continue
                for value in candidates:
                    try:
                        with transaction.atomic():
                            model._default_manager.filter(pk=obj.pk).update(
                                **{field.attname: value}
                            )
                    except IntegrityError:
                        continue
                    written += 1
                    break
    return written


# --- the walk ----------------------------------------------------------------------------------
def _body(response):
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def _check_text(value, where):
    if isinstance(value, str):
        assert len(value) <= XLSX_CELL_MAX, f"{where}: {len(value)} characters"
        assert not CONTROL_CHARACTERS_RE.search(value), f"{where}: control character"
        assert not value.lstrip(" ").startswith(FORMULA_PREFIXES), f"{where}: {value[:30]!r}"


def check_xlsx(body, counts):
    """Opens with openpyxl; no formula cell, no control character, no cell too long."""
    book = load_workbook(io.BytesIO(body))
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                counts["cells"] += 1
                assert cell.data_type != "f", f"formula cell {cell.coordinate}: {cell.value!r}"
                _check_text(cell.value, cell.coordinate)
                if isinstance(cell.value, str) and len(cell.value) == XLSX_CELL_MAX:
                    counts["cut"] += 1


def check_csv(body, counts):
    """Parses; the same rules for every cell."""
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert rows, "empty CSV"
    for n, row in enumerate(rows):
        for value in row:
            counts["cells"] += 1
            _check_text(value, f"row {n}")


BAD_YEARS = ["1", "1999", "2000", "2100", "2101", "9999", "99999", "0", "-1", "abc", "\x0b"]
BAD_MONTHS = [
    "2000-01",
    "2000-02",
    "1999-12",
    "2100-12",
    "2101-01",
    "0001-01",
    "9999-12",
    "0000-00",
    "2022-13",
    "2022-12\n",
]
QUERY_POISON = ["\x0b", "\x00", "=cmd|", "%(x)s", "<script>", "😀", "长" * 200]


def page_urls():
    """Every page of the app, with the poisoned rows in the URL."""
    urls = []
    for name in ("home", "project_list", "problem_list", "inspection_list", "dispatch"):
        urls.append(reverse(f"tracker:{name}"))
    urls += [reverse(n) for n in ("tracker:chain_list", "tracker:report_index")]
    urls += [reverse("tracker:assessment_index"), reverse("tracker:dashboard")]
    for project in Project.objects.all():
        urls.append(reverse("tracker:project_detail", args=[project.pk]))
        urls.append(reverse("tracker:project_edit", args=[project.pk]))
    for chain in IndustryChain.objects.all():
        urls.append(reverse("tracker:chain_detail", args=[chain.pk]))
    for problem in Problem.objects.all():
        urls.append(reverse("tracker:problem_detail", args=[problem.pk]))
    for inspection in Inspection.objects.all():
        urls.append(reverse("tracker:inspection_detail", args=[inspection.pk]))
    urls.append(reverse("tracker:problem_create"))
    urls.append(reverse("tracker:inspection_create"))
    # Saving a view of the worst filters, and the column chooser's return to its list.
    for list_name in ("projects", "problems", "inspections"):
        query = _qs({"q": "\x0b<b>", "columns": "code,\x00", "sort": "-nope"})
        urls.append(
            reverse("tracker:saved_view_create", args=[list_name]) + "?" + _qs({"query": query})
        )
        urls.append(reverse("tracker:list_columns", args=[list_name]))
    weeks = {"{}-W{:02d}".format(*d.isocalendar()[:2]) for d in (LOW, HIGH, TODAY, SIGNED)} | {
        f"{y}-W{w:02d}" for y, w in WeeklyDispatch.objects.values_list("iso_year", "iso_week")
    }
    weeks |= {"2000-W53", "2100-W53", "1999-W52", "2101-W01", "0001-W01", "9999-W52"}
    for week in sorted(weeks):
        urls.append(reverse("tracker:dispatch_week", kwargs={"week": week}))
    for code in Region.objects.values_list("code", flat=True):
        urls.append(reverse("tracker:dispatch") + "?" + _qs({"region": code}))
    for year in BAD_YEARS:
        urls.append(reverse("tracker:dashboard") + "?" + _qs({"year": year}))
    for year in [*BAD_YEARS[:8], str(TODAY.year), str(SIGNED.year)]:
        if year.lstrip("-").isdigit() and int(year) >= 0:
            for name in ("assessment_year", "assessment_weights", "assessment_adjust"):
                urls.append(reverse(f"tracker:{name}", kwargs={"year": int(year)}))
            urls.append(
                reverse("tracker:assessment_year", kwargs={"year": int(year)}) + "?export=xlsx"
            )
    months = {*BAD_MONTHS, SIGNED.strftime("%Y-%m")}
    months |= {f"{y}-{m:02d}" for y, m in MonthlyReport.objects.values_list("year", "month")}
    for month in sorted(months):
        url = reverse("tracker:monthly_report", kwargs={"month": month})
        urls += [url, url + "?export=xlsx"]
        urls.append(reverse("tracker:monthly_report_publish", kwargs={"month": month}))
        url = reverse("tracker:monthly_report_version", kwargs={"month": month, "version": 1})
        urls += [url, url + "?export=xlsx"]
    for year, month, version in MonthlyReport.objects.values_list("year", "month", "version"):
        url = reverse(
            "tracker:monthly_report_version",
            kwargs={"month": f"{year}-{month:02d}", "version": version},
        )
        urls += [url, url + "?export=xlsx"]
    for kind in ("projects", "dispatch"):
        urls.append(reverse("tracker:import_upload", args=[kind]) + "?week=%0B")
        urls.append(reverse("tracker:import_template", args=[kind]) + "?week=2100-W53")
    for pk in ImportBatch.objects.values_list("pk", flat=True):
        urls.append(reverse("tracker:import_detail", args=[pk]))
    for pk in Job.objects.values_list("pk", flat=True):
        urls.append(reverse("tracker:job_detail", args=[pk]))
        urls.append(reverse("tracker:job_download", args=[pk]))
    # The lists with filters, good and poisoned, and their exports.
    filters = {
        "project_list": [
            {"signed_year": "2000"},
            {"signed_year": "1"},
            {"signed_year": "99999"},
            {"signed_after": "0001-01-01", "signed_before": "9999-12-31"},
            {"signed_after": "2000-01-01", "signed_before": "2100-12-31"},
            {"amount_min": "-1", "amount_max": "99999999999999999999"},
            {"stage": "\x0b"},
            {"region": "\x0b"},
            {"per_page": "999999999999999999999"},
            {"page": "99999"},
            {"sort": "\x0b"},
        ],
        "problem_list": [
            {"deadline_after": "0001-01-01", "deadline_before": "9999-12-31"},
            {"deadline_after": "2000-01-01", "deadline_before": "2100-12-31"},
            {"overdue": "true"},
            {"status": "\x00"},
        ],
        "inspection_list": [{"year": "1"}, {"year": "2100"}, {"has_overdue": "true"}],
    }
    for name, cases in filters.items():
        base = reverse(f"tracker:{name}")
        for case in [{}, *cases, *({"q": q} for q in QUERY_POISON)]:
            urls.append(base + "?" + _qs(case))
            if name != "inspection_list":
                for fmt in ("csv", "xlsx"):
                    urls.append(base + "?" + _qs({**case, "export": fmt}))
    urls += admin_urls()
    urls += [reverse("password_change"), reverse("password_change_done")]
    return urls


def _qs(params):
    return urlencode(params)


DATE_HIERARCHY = [
    ("2000", "1", "1"),
    ("2100", "12", "31"),
    ("1", "1", "1"),
    ("9999", "12", "31"),
    ("99999", "1", "1"),
    ("2022", "13", "40"),
]
DATE_FILTERS = [
    ("2000-01-01", "2101-01-01"),
    ("0001-01-01", "9999-12-31"),
    ("0001-01-01 00:00:00", "9999-12-31 23:59:59"),
    ("\x0b", "=cmd|"),
]


def admin_urls():
    urls = [reverse("admin:index")]
    for model, model_admin in admin.site._registry.items():
        info = model._meta.app_label, model._meta.model_name
        changelist = reverse("admin:{}_{}_changelist".format(*info))
        urls.append(changelist)
        for q in QUERY_POISON:
            urls.append(changelist + "?" + _qs({"q": q}))
        urls.append(changelist + "?" + _qs({"o": "1.2.3"}))
        hierarchy = getattr(model_admin, "date_hierarchy", None)
        if hierarchy:
            for year, month, day in DATE_HIERARCHY:
                params = {f"{hierarchy}__year": year, f"{hierarchy}__month": month}
                urls.append(changelist + "?" + _qs({**params, f"{hierarchy}__day": day}))
                urls.append(changelist + "?" + _qs(params))
        for name in model_admin.list_filter:
            if isinstance(name, str) and isinstance(
                model._meta.get_field(name.split("__")[0]), models.DateField
            ):
                for low, high in DATE_FILTERS:
                    urls.append(changelist + "?" + _qs({f"{name}__gte": low, f"{name}__lt": high}))
        urls.append(reverse("admin:{}_{}_add".format(*info)))
        for pk in model._default_manager.order_by("pk").values_list("pk", flat=True)[:6]:
            for view in ("change", "history", "delete"):
                urls.append(reverse("admin:{}_{}_{}".format(*info, view), args=[pk]))
    for pk in User.objects.values_list("pk", flat=True):
        urls.append(reverse("admin:auth_user_password_change", args=[pk]))
    return urls


def walk(client, user, urls):
    """GET every URL as ``user``; returns (failures, counts)."""
    client.force_login(user)
    failures = []
    counts = {"pages": 0, "xlsx": 0, "csv": 0, "cells": 0, "cut": 0, "status": {}}
    for url in urls:
        counts["pages"] += 1
        try:
            with transaction.atomic():  # a savepoint: a database error leaves the rest usable
                response = client.get(url)
                body = _body(response)
        except Exception as error:  # the test client re-raises the view's exception
            failures.append(f"{user.username} GET {url!r}: {type(error).__name__}: {error}")
            continue
        counts["status"][response.status_code] = counts["status"].get(response.status_code, 0) + 1
        if response.status_code >= 500:
            failures.append(f"{user.username} GET {url!r}: {response.status_code}")
            continue
        kind = response.get("Content-Type", "")
        try:
            if "spreadsheetml" in kind:
                check_xlsx(body, counts)
                counts["xlsx"] += 1
            elif kind.startswith("text/csv"):
                check_csv(body, counts)
                counts["csv"] += 1
        except Exception as error:
            failures.append(
                f"{user.username} {url!r} does not parse: {type(error).__name__}: {error}"
            )
    return failures, counts


@pytest.fixture
def poisoned(db):
    users = build_world()
    publish_monthly_report(year=SIGNED.year, month=SIGNED.month, by=users["manager"])
    written = poison()
    # The cases of issue 8 for sure, whatever the rotation gave: a vertical tab in a
    # project's 责任单位 and a problem's title, a description longer than an XLSX cell.
    project, problem = Project.objects.order_by("pk")[0], Problem.objects.order_by("pk")[0]
    Project.objects.filter(pk=project.pk).update(responsible_unit="责任\x0b单位")
    Problem.objects.filter(pk=problem.pk).update(title="问题\x0b标题", description="长" * LONG_TEXT)
    # Published after the poison too: the frozen JSON then holds the worst names.
    publish_monthly_report(
        year=SIGNED.year, month=SIGNED.month, by=users["manager"], reason="再次发布"
    )
    return {"users": {k: User.objects.get(pk=u.pk) for k, u in users.items()}, "written": written}


def test_every_route_of_the_app_is_walked():
    """A new route must be walked: the URL list names every route of tracker.urls."""
    walked = {
        "home", "project_list", "problem_list", "inspection_list", "dispatch", "chain_list",
        "report_index", "assessment_index", "dashboard", "project_detail", "project_edit",
        "chain_detail", "problem_detail", "inspection_detail", "problem_create",
        "inspection_create", "dispatch_week", "assessment_year", "assessment_weights",
        "assessment_adjust", "monthly_report", "monthly_report_version", "monthly_report_publish",
        "job_detail", "job_download", "saved_view_create", "list_columns", "import_upload",
        "import_template", "import_detail",
    }  # fmt: skip
    post_only = {
        "inspection_item_add", "inspection_item_action", "problem_action", "saved_view_action",
        "import_confirm",
        "project_bulk", "project_bulk_apply",  # tests/test_bulk.py: a poisoned name
    }  # fmt: skip
    assert walked | post_only == tracker_routes()


@pytest.mark.parametrize("role", ROLES)
def test_no_page_or_export_fails_on_the_worst_data(client, poisoned, role):
    user = poisoned["users"][role]
    urls = page_urls()
    failures, counts = walk(client, user, urls)
    print(
        f"\n{role}: {counts['pages']} pages, {counts['xlsx']} XLSX and {counts['csv']} CSV "
        f"parsed ({counts['cells']} cells, {counts['cut']} cut to 32,767 characters), "
        f"{len(PAYLOADS)} payload kinds in "
        f"{poisoned['written']} poisoned values, {len(failures)} failures; "
        f"status codes {sorted(counts['status'].items())}",
        file=sys.stderr,
    )
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:60])
    if role in ("superuser", "manager"):  # they see every row: every export had data
        assert counts["xlsx"] >= 20 and counts["csv"] >= 20 and counts["cut"] > 0
