"""Weekly dispatch (周调度): weeks, the deadline, who may file which week, and filing.

Decisions (documented here because the views, the forms and the tests rely on them):

Weeks
    ISO weeks (Monday–Sunday), written ``2023-W07``. A text that is not such a week
    (``2022-W60``, ``2021-W53`` which does not exist, garbage) is refused (404 in the view).
    A week that has not begun yet cannot be filed or viewed.

How far back
    Managers may file any past week (corrections). County staff and commissioners may file
    the current week and the previous one (the deadline falls on Friday, so the previous
    week must stay open for late reports over the weekend); older weeks are read-only for them.

Deadline and lateness
    The deadline of week W is its ``DISPATCH_DEADLINE_WEEKDAY`` (1 = Monday, default 5 =
    Friday) at ``DISPATCH_DEADLINE_TIME`` (default 18:00), Asia/Shanghai. A report first filed
    after that moment is ``is_late``. Correcting a report later (filing the same week again)
    keeps its first ``filed_at`` and its lateness: the correction is in the change history.

Which projects dispatch
    Those the user may file for (``permissions.restrict(…, DISPATCH)``) that are due that week
    (``ProjectQuerySet.due_to_dispatch``, the one definition: signed by the end of the week and,
    per the stage history, neither terminated nor in production before the week began). The
    sheet, the home page's counts, the daily missing-dispatch check and the monthly report's
    报送及时率 all count the same projects, for past weeks as for the current one.

Stage
    The dispatch row offers "unchanged" plus the stages ``rules.allowed_targets`` permits from
    the project's current stage. A change is applied with ``Project.advance_to`` effective on
    the report date (today, or the Sunday of a past week), and the report's ``stage`` is the
    project's stage after that change: a report always equals the stage recorded for it.
    A row whose stage is left unchanged records the stage in force at the end of the week per
    the stage history (the existing report's stage, or the current stage, only for a project
    without history by then), so correcting a past week's figures does not stamp today's stage
    on it.

Pre-filled values
    A row starts from the project's current figures (its stage, its cumulative completed
    investment), not from a report: a figure raised on the project form since the last report
    is what the sheet shows and files. Beside them the sheet shows the reference report (this
    week's when already filed, else the latest earlier one), and the texts (形象进度, 存在问题)
    start from it. A past week that already has later reports starts from its own report (or
    the latest earlier one): the project's current figure belongs to a later week. So does
    a past week that has its own report: it starts from that report's figure (the project's
    current one is shown beside it), and a row that keeps that figure (a correction of the
    texts) leaves the project's figure alone. The current week always starts from the
    project's current figure, even once filed.

Completed investment
    Not negative, at most ``signed_amount × MAX_COMPLETED_RATIO``, and cumulative: filing a
    figure below the project's current one (when this week's report sets the project's
    figure, i.e. no later week is reported), below the week's own report when correcting
    it, below the project's previous report, or above any of its later reports (a late
    report of an earlier week), is refused with both figures. A manager
    (``permissions.MANAGE``) correcting a wrong figure may do it, but only with a reason,
    kept in the change history of the report and of the project. The project's
    ``completed_investment`` follows the report (with history) unless a later week has
    already been reported.

Stale sheets (optimistic lock, ``tracker.locking``)
    Each row carries the project's ``version`` and this week's report's ``version`` (0: no
    report yet) as the page showed them. A filed row is refused *for that row* when either
    has moved on — someone else filed or corrected the week, or changed the project (its
    form, a stage move) — and nothing of it is written; the other rows of the submission are
    saved. The refused rows come back with the other person's values beside the user's and
    the current versions, so saving again applies the user's values knowingly. A stale row
    that asks for exactly what is filed already (a double click, the back button) is not a
    conflict: it is reported as saved. Rows without versions (scripts, imports) are not
    checked.
    Invalid input (a bad figure, a missing reason, a refused stage move) still refuses the
    whole submission, as one sheet: nothing is saved and every message is shown beside its
    row, so a clerk never has to work out which half of a sheet went in.

Double submission
    One report per project and week (unique constraint). Filing upserts
    (``bulk_create(update_conflicts=True)``, i.e. INSERT … ON CONFLICT DO UPDATE) after locking
    the projects' rows, so even two concurrent requests leave one report; with versions, the
    second of two concurrent filings of one opened sheet finds the first's report and is
    refused for those rows.

History
    A first filing records each field's value (one ``create`` row per field); a correction
    records each changed field, old → new; the project's figure, when it follows, too.
"""

import datetime
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
    Window,
)
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import investment, locking, periods, permissions
from .choices import ChangeAction
from .models import ChangeLog, Project, WeeklyDispatch
from .money import wan
from .services import changelog_rows, noted, snapshot
from .validators import control_characters_error, year_in_range

TEXT_MAX = 2000
REASON_MAX = investment.REASON_MAX
DISPATCH_FIELDS = ("stage", "completed_investment", "progress", "problems")
VERSION_FIELDS = ("version", "report_version")


class DispatchError(Exception):
    """A filing that was refused as a whole; nothing was saved.

    ``messages``: problems of the whole submission; ``rows``: project id → {field: [messages]};
    ``conflicts``: project id → ``locking.Conflict`` for stale rows found meanwhile.
    """

    def __init__(self, messages=(), rows=None, conflicts=None):
        self.messages = [str(m) for m in messages]
        self.rows = rows or {}
        self.conflicts = conflicts or {}
        super().__init__("; ".join(self.messages) or f"{len(self.rows)} rows refused")


@dataclass
class Filing:
    """What a filing did: ``reports`` saved (or found already so), ``conflicts``: project id
    → ``locking.Conflict`` for the stale rows, which were not written."""

    reports: list = field(default_factory=list)
    conflicts: dict = field(default_factory=dict)


WEEK_PATTERN = re.compile(r"([0-9]{4})-W([0-9]{2})")


class WeekError(ValueError):
    """A week that does not exist or cannot be used; ``str()`` is the message to show."""


# --- weeks ---------------------------------------------------------------------------------
def parse_week(text):
    """``"2023-W07"`` → ``(2023, 7)``; WeekError for anything else."""
    text = text or ""
    try:
        # fullmatch with ASCII digits: "2023-W07\n", " 2023-W07" or full-width digits are not
        # another spelling of the same week (a URL has one canonical form).
        match = WEEK_PATTERN.fullmatch(text)
        if match is None:
            raise ValueError
        year, week = int(match[1]), int(match[2])
        datetime.date.fromisocalendar(year, week, 1)
    except (ValueError, TypeError):
        raise WeekError(
            _("“%(week)s” is not a week. Weeks are written like 2023-W07 (ISO weeks 01–52/53).")
            % {"week": text[:20]}
        ) from None
    if not year_in_range(year):
        raise WeekError(_("Only weeks of the years 2000–2100 can be used."))
    return year, week


def week_label(iso_year, iso_week):
    """The machine form of a week, for URLs and files: ``2023-W07``. Pages show
    ``periods.week_text`` (2023年第7周（2月13日—2月19日）)."""
    return f"{iso_year}-W{iso_week:02d}"


def week_bounds(iso_year, iso_week):
    start = datetime.date.fromisocalendar(iso_year, iso_week, 1)
    return start, start + datetime.timedelta(days=6)


def current_week(today=None):
    today = today or timezone.localdate()
    year, week, _weekday = today.isocalendar()
    return year, week


def shift_week(iso_year, iso_week, weeks):
    start, _end = week_bounds(iso_year, iso_week)
    year, week, _weekday = (start + datetime.timedelta(weeks=weeks)).isocalendar()
    return year, week


def deadline(iso_year, iso_week):
    """The aware datetime after which a report of this week is late."""
    conf = settings.TRACKER
    day = datetime.date.fromisocalendar(iso_year, iso_week, int(conf["DISPATCH_DEADLINE_WEEKDAY"]))
    hour, minute = (int(x) for x in str(conf["DISPATCH_DEADLINE_TIME"]).split(":"))
    return datetime.datetime.combine(
        day, datetime.time(hour, minute), tzinfo=timezone.get_default_timezone()
    )


def is_late(iso_year, iso_week, now):
    return now > deadline(iso_year, iso_week)


def week_error(iso_year, iso_week, *, user, today):
    """None when ``user`` may file this week on ``today``, else the reason."""
    start, _end = week_bounds(iso_year, iso_week)
    this_year, this_week = current_week(today)
    this_start, _this_end = week_bounds(this_year, this_week)
    if start > this_start:
        return _("Week %(week)s has not begun yet; a week can be filed once it has begun.") % {
            "week": periods.week_text(iso_year, iso_week)
        }
    if permissions.may(user, permissions.MANAGE, Project):
        return None
    weeks_back = int(settings.TRACKER["DISPATCH_OPEN_WEEKS_BACK"])
    if start < this_start - datetime.timedelta(weeks=weeks_back):
        return _(
            "Week %(week)s is closed: county staff and commissioners file the current week "
            "and the %(n)s before it; a city bureau manager can correct older weeks."
        ) % {"week": periods.week_text(iso_year, iso_week), "n": weeks_back}
    return None


def report_date(iso_year, iso_week, today):
    """The effective date of a stage change filed with this week's report."""
    _start, end = week_bounds(iso_year, iso_week)
    return min(today, end)


# --- which projects, with what they need -----------------------------------------------------
def can_dispatch(user):
    """Roles that file dispatches at all (chain offices only read)."""
    return permissions.may(user, permissions.DISPATCH, Project)


def dispatchable(user):
    """The projects ``user`` may file the dispatch for (any week)."""
    return permissions.restrict(Project.objects.all(), user, permissions.DISPATCH)


def dispatch_projects(user, iso_year, iso_week, *, stage_as_of=True):
    """The projects ``user`` files for this week, annotated for the dispatch sheet.

    Annotations: ``report_id``, ``report_version`` and ``own_completed`` (this week's report
    and its cumulative investment, read through one join: a project has at most one report
    a week), ``prefill_id`` (this week's report or the latest earlier one),
    ``previous_completed`` (cumulative investment of the latest report before this week),
    ``later_completed`` (the lowest cumulative investment of the reports after this week;
    None: no later week is reported), ``stage_as_of`` (the stage in force at the end of the
    week, per the stage history; only the filing needs it: ``stage_as_of=False`` leaves it
    out, for the sheet's page). Weeks are compared column by column
    (``periods.week_q``), so the (project, iso_year, iso_week) index serves every subquery.
    """
    _start, end = week_bounds(iso_year, iso_week)
    reports = WeeklyDispatch.objects.filter(project=OuterRef("pk"))
    newest_first = ("-iso_year", "-iso_week")
    projects = dispatch_scope(user, iso_year, iso_week)
    if stage_as_of:
        projects = projects.with_stage_as_of(end)
    return (
        with_this_weeks_report(projects.select_related("region", "enterprise"), iso_year, iso_week)
        .annotate(
            report_id=F("this_week__pk"),
            report_version=F("this_week__version"),
            own_completed=F("this_week__completed_investment"),
            prefill_id=Subquery(
                reports.filter(periods.week_q("lte", iso_year, iso_week))
                .order_by(*newest_first)
                .values("pk")[:1]
            ),
            previous_completed=Subquery(
                reports.filter(periods.week_q("lt", iso_year, iso_week))
                .order_by(*newest_first)
                .values("completed_investment")[:1]
            ),
            later_completed=Subquery(
                reports.filter(periods.week_q("gt", iso_year, iso_week))
                .order_by("completed_investment")
                .values("completed_investment")[:1]
            ),
        )
        .order_by(*SHEET_ORDER)
    )


# The order of the sheet's rows, on every page (``code`` is unique: pages never overlap).
SHEET_ORDER = ("region__sort_order", "code")


def dispatch_scope(user, iso_year, iso_week, *, region=None):
    """The projects of ``user``'s sheet for this week (scope and due, no annotations)."""
    qs = dispatchable(user).due_to_dispatch(iso_year, iso_week)
    if region is not None:
        qs = qs.filter(region=region)
    return qs


def with_this_weeks_report(queryset, iso_year, iso_week):
    """``queryset`` (of projects) joined to the week's report as ``this_week`` (a project has
    at most one a week, so the join adds no rows): one hash join over the week's reports
    where a lookup per project costs a probe per row (4× slower over a whole province)."""
    return queryset.annotate(
        this_week=FilteredRelation(
            "dispatches",
            condition=periods.week_q(
                "exact",
                iso_year,
                iso_week,
                year_field="dispatches__iso_year",
                week_field="dispatches__iso_week",
            ),
        )
    )


def this_weeks_report(iso_year, iso_week):
    """A subquery: the project's report of this week (for ``Exists``)."""
    return WeeklyDispatch.objects.filter(project=OuterRef("pk")).filter(
        periods.week_q("exact", iso_year, iso_week)
    )


def sheet_page(user, iso_year, iso_week, *, region=None, missing_only=False, page=1, size):
    """The ids of one page of the sheet, in ``SHEET_ORDER``, the number of rows of the
    whole (filtered) sheet, and the week's summary (``sheet_summary``), read in one statement
    (window counts): the annotations of ``dispatch_projects`` are then computed for this
    page's rows only. ``missing_only``: the projects without a report this week; the summary
    counts every project, so it is then None (the caller asks ``sheet_summary``), as it is
    past the last page (``([], 0, None)``: the count is not known either)."""
    qs = dispatch_scope(user, iso_year, iso_week, region=region)
    counts = {"rows": Count("pk")}
    if missing_only:
        qs = qs.exclude(Exists(this_weeks_report(iso_year, iso_week)))
    else:
        counts.update(_summary_counts(iso_year, iso_week))
    offset = (page - 1) * size
    rows = list(
        qs.order_by(*SHEET_ORDER)
        .annotate(**{name: Window(count) for name, count in counts.items()})
        .values_list("pk", *counts)[offset : offset + size]
    )
    if not rows:
        return [], 0, None
    summary = None
    if not missing_only:
        _pk, total, *found = rows[0]
        summary = _summary(total=total, **dict(zip(list(counts)[1:], found, strict=True)))
    return [row[0] for row in rows], rows[0][1], summary


def _summary_counts(iso_year, iso_week):
    """The counts of ``sheet_summary`` besides the total, as aggregates over the sheet."""
    this_week = this_weeks_report(iso_year, iso_week)
    return {
        "filed": Count("pk", filter=Q(Exists(this_week))),
        "late": Count("pk", filter=Q(Exists(this_week.filter(is_late=True)))),
    }


def _summary(*, total, filed, late):
    return {"total": total, "filed": filed, "late": late, "missing": total - filed}


def sheet_summary(user, iso_year, iso_week, *, region=None):
    """The whole week of ``user``'s sheet, every page: ``total`` projects due, ``filed``,
    ``missing``, ``late`` (one query)."""
    found = dispatch_scope(user, iso_year, iso_week, region=region).aggregate(
        total=Count("pk"), **_summary_counts(iso_year, iso_week)
    )
    return _summary(**found)


def excluded_count(user, iso_year, iso_week, *, region=None):
    """Projects in the user's scope signed by the week's end that no longer dispatch
    (terminated or in production before the week began)."""
    qs = dispatchable(user).due_to_dispatch(iso_year, iso_week, flag=False)
    if region is not None:
        qs = qs.filter(region=region)
    return qs.count()


def follows(project, iso_year, iso_week):
    """Whether this week's report sets the project's current figure: no later week is
    reported (``later_completed``, the lowest figure of the later reports, is None; a
    report's figure is never NULL)."""
    return project.later_completed is None


def sets_figure(project, iso_year, iso_week, done):
    """Whether filing ``done`` for this week sets the project's current figure: no later
    week is reported (``follows``) and the row does not just keep the figure this week's
    report already has (a correction of its texts leaves the project's figure alone)."""
    return follows(project, iso_year, iso_week) and not (
        project.own_completed is not None and done == project.own_completed
    )


def row_initial(project, reference, iso_year, iso_week, today=None):
    """A row's pre-filled values (see the module docstring, "Pre-filled values"): the
    project's current figures and the reference report's texts (``reference``: this week's
    report, else the latest earlier one). A past week that has its own report starts from
    that report's figure: the project's current one may be newer than the week."""
    own = reference is not None and reference.pk == project.report_id
    if own and (iso_year, iso_week) != current_week(today):
        completed = reference.completed_investment
    elif follows(project, iso_year, iso_week) or reference is None:
        completed = project.completed_investment
    else:
        completed = reference.completed_investment
    return {
        "project": project.pk,
        "version": project.version,
        "report_version": project.report_version or locking.NO_ROW,
        "stage": "",
        "completed_investment": completed,
        "progress": reference.progress if reference else "",
        "problems": reference.problems if reference else "",
        "reason": "",
    }


def bounds(project, iso_year, iso_week):
    """(lowest, highest) cumulative figure this week's row may file without a manager's
    reason (None: no bound); the sheet uses them to ask for the reason as soon as needed."""
    floors = [project.previous_completed, project.own_completed]
    if follows(project, iso_year, iso_week):
        floors.append(project.completed_investment)
    floors = [f for f in floors if f is not None]
    return (max(floors) if floors else None), project.later_completed


# --- validation of one row ---------------------------------------------------------------------
def row_errors(
    project, data, *, by, previous_completed, later_completed=None, current=None, own=None
):
    """Field → list of messages for one dispatch row (empty when the row is fine).

    ``current``: the project's cumulative completed investment when this row's report would
    set it (``follows``), else None; ``own``: this week's report's figure when it has been
    filed (a correction). Going below either or ``previous_completed``, or above
    ``later_completed``, is refused; a manager may do it with a ``reason``.
    """
    errors = {}
    done = data.get("completed_investment")
    if done is None:
        errors.setdefault("completed_investment", []).append(
            _("Enter the cumulative completed investment in 万元.")
        )
    else:
        if done < 0:
            errors.setdefault("completed_investment", []).append(
                _("The completed investment cannot be negative.")
            )
        cap = investment.cap_error(done, project.signed_amount)
        if cap:
            errors.setdefault("completed_investment", []).append(cap)
        going_down = investment.going_down(
            done, current=current, own=own, previous=previous_completed, later=later_completed
        )
        found = investment.lowering_errors(
            going_down, done, project=project, by=by, reason=data.get("reason")
        )
        for name, messages in found.items():
            errors.setdefault(name, []).extend(messages)
    for name in ("progress", "problems"):
        if len(data.get(name) or "") > TEXT_MAX:
            errors.setdefault(name, []).append(
                _("At most %(max)s characters (this text has %(n)s).")
                % {"max": TEXT_MAX, "n": len(data[name])}
            )
    for name in ("progress", "problems", "reason"):
        error = control_characters_error(data.get(name))
        if error:
            errors.setdefault(name, []).append(error)
    return errors


def row_errors_now(project, row, *, by, iso_year, iso_week):
    return row_errors(
        project,
        row,
        by=by,
        previous_completed=project.previous_completed,
        later_completed=project.later_completed,
        current=project.completed_investment
        if sets_figure(project, iso_year, iso_week, row.get("completed_investment"))
        else None,
        own=project.own_completed,
    )


def is_stale(project, row):
    """Whether ``row``'s versions (as the page showed them) are behind the project's and
    its report's as ``dispatch_projects`` read them: a quick look for the form, so that a
    stale row is not judged against figures its author never saw. The filing checks again,
    under the lock (``locking.check``). Rows without versions are never stale."""
    report_version = project.report_version or locking.NO_ROW
    return (row.get("version") is not None and row["version"] != project.version) or (
        row.get("report_version") is not None and row["report_version"] != report_version
    )


def _check_versions(project, row, *, report):
    """``locking.check`` of the project's and this week's report's versions."""
    if row.get("version") is not None:
        locking.check(project, row["version"])
    if row.get("report_version") is not None:
        locking.check(report, row["report_version"])


def _already_filed(row, report):
    """Whether a stale row asks for exactly what is filed (a repeated submit)."""
    return (
        report is not None
        and (not row.get("stage") or row["stage"] == report.stage)
        and report.completed_investment == row["completed_investment"]
        and report.progress == (row.get("progress") or "")
        and report.problems == (row.get("problems") or "")
    )


# --- filing ----------------------------------------------------------------------------------
def _money(value):
    """万元 with two decimals, half-up (``money.wan``), as stored and as the history shows it;
    None stays None (``row_errors`` asks for the figure)."""
    if value is None:
        return None
    try:
        return wan(value)
    except (ArithmeticError, ValueError):
        return value  # refused by row_errors or the database, not here


def file_weekly_dispatch(*, iso_year, iso_week, rows, by, now=None, origin=""):
    """File (or correct) this week's reports for ``rows`` in one transaction.

    ``rows``: dicts with ``project`` (id), ``stage`` ("" = unchanged), ``completed_investment``
    (Decimal), ``progress``, ``problems``, and optionally ``reason`` (a manager's reason for
    lowering a figure), ``version`` and ``report_version`` (the project's and this week's
    report's versions the page showed; 0 for no report). Raises DispatchError (nothing saved)
    when the week, the user, a project's scope or a row is refused. Returns a ``Filing``:
    the saved reports, and the stale rows (not written) as ``locking.Conflict``.
    ``origin`` (an import of the sheet) goes on every history row and stage change written,
    before the row's reason (``history.noted``).
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    problem = week_error(iso_year, iso_week, user=by, today=today)
    if problem:
        raise DispatchError([problem])
    if not can_dispatch(by):
        raise DispatchError([_("Your account cannot file the weekly dispatch.")])
    rows = [{**r, "completed_investment": _money(r.get("completed_investment"))} for r in rows]
    ids = [int(r["project"]) for r in rows]
    if len(set(ids)) != len(ids):
        raise DispatchError([_("A project appears twice in this dispatch.")])
    if not rows:
        return Filing()
    effective_on = report_date(iso_year, iso_week, today)
    late = is_late(iso_year, iso_week, now)

    with transaction.atomic():
        # Lock the projects first (serialises concurrent filings for them on PostgreSQL),
        # then read them and their reports in new statements, which see what a filing that
        # held the locks before us committed.
        list(
            Project.objects.filter(pk__in=ids)
            .order_by("pk")
            .select_for_update()
            .values_list("pk", flat=True)
        )
        projects = {p.pk: p for p in dispatch_projects(by, iso_year, iso_week).filter(pk__in=ids)}
        missing = [pk for pk in ids if pk not in projects]
        if missing:
            raise DispatchError(
                [
                    _(
                        "You cannot file a report for these projects (not in your scope, or "
                        "not reporting this week): %(ids)s"
                    )
                    % {"ids": ", ".join(str(pk) for pk in missing)}
                ]
            )
        existing = {
            d.project_id: d
            for d in WeeklyDispatch.objects.for_week(iso_year, iso_week).filter(project_id__in=ids)
        }

        # Stale rows are set aside: refused for themselves, the others still file.
        conflicts, unchanged, fresh = {}, [], []
        for row in rows:
            pk = int(row["project"])
            try:
                _check_versions(projects[pk], row, report=existing.get(pk))
            except locking.Conflict as conflict:
                if _already_filed(row, existing.get(pk)):
                    unchanged.append(existing[pk])
                else:
                    conflicts[pk] = conflict
            else:
                fresh.append(row)
        rows = fresh

        errors = {}
        for row in rows:
            project = projects[int(row["project"])]
            found = row_errors_now(project, row, by=by, iso_year=iso_year, iso_week=iso_week)
            if found:
                errors[project.pk] = found
        if errors:
            raise DispatchError(rows=errors, conflicts=conflicts)

        # Stage changes first: each goes through the allowed transitions.
        advanced = set()
        for row in rows:
            project = projects[int(row["project"])]
            if row.get("stage") and row["stage"] != project.stage:
                advanced.add(project.pk)
                try:
                    project.advance_to(
                        row["stage"],
                        on=effective_on,
                        by=by,
                        note=str(_("weekly dispatch %(week)s"))
                        % {"week": week_label(iso_year, iso_week)},
                        origin=origin,
                    )
                except ValidationError as exc:
                    errors[project.pk] = exc.message_dict
        if errors:
            raise DispatchError(rows=errors, conflicts=conflicts)

        reports = _save_reports(
            rows,
            projects,
            existing,
            advanced,
            iso_year=iso_year,
            iso_week=iso_week,
            by=by,
            now=now,
            late=late,
            origin=origin,
        )
    return Filing(reports=reports + unchanged, conflicts=conflicts)


def _save_reports(
    rows, projects, existing, advanced, *, iso_year, iso_week, by, now, late, origin=""
):
    """Upsert the reports of ``rows`` (already checked), let the projects' figures follow,
    and write the history; returns the saved reports."""
    if not rows:
        return []
    ids = [int(r["project"]) for r in rows]
    before = {pk: snapshot(d, set(DISPATCH_FIELDS)) for pk, d in existing.items()}
    reasons = {int(r["project"]): noted(origin, r.get("reason")) for r in rows}
    reports = []
    for row in rows:
        project = projects[int(row["project"])]
        first = existing.get(project.pk)
        reports.append(
            WeeklyDispatch(
                project=project,
                iso_year=iso_year,
                iso_week=iso_week,
                stage=_report_stage(project, first, project.pk in advanced),
                completed_investment=row["completed_investment"],
                progress=row.get("progress") or "",
                problems=row.get("problems") or "",
                filed_by=by,
                filed_at=now,
                is_late=late,
                # Under the projects' locks: nobody else writes these reports meanwhile.
                version=locking.version_of(first) + 1,
            )
        )
    WeeklyDispatch.objects.bulk_create(
        reports,
        update_conflicts=True,
        unique_fields=["project", "iso_year", "iso_week"],
        update_fields=[*DISPATCH_FIELDS, "version"],
    )
    for r in reports:  # the upsert kept the first filing's time, filer and lateness
        first = existing.get(r.project_id)
        if first is not None:
            r.filed_at, r.filed_by_id, r.is_late = (
                first.filed_at,
                first.filed_by_id,
                first.is_late,
            )
    if any(r.pk is None for r in reports):  # backends that do not return ids on upsert
        pks = dict(
            WeeklyDispatch.objects.for_week(iso_year, iso_week)
            .filter(project_id__in=ids)
            .values_list("project_id", "pk")
        )
        for r in reports:
            r.pk = pks[r.project_id]

    # The project's cumulative investment follows its newest report.
    follow = {
        r.project_id: r.completed_investment
        for r in reports
        if sets_figure(projects[r.project_id], iso_year, iso_week, r.completed_investment)
        and projects[r.project_id].completed_investment != r.completed_investment
    }
    project_before = {pk: snapshot(projects[pk], {"completed_investment"}) for pk in follow}
    if follow:
        Project.objects.filter(pk__in=follow).update(
            completed_investment=Case(
                *[When(pk=pk, then=Value(v)) for pk, v in follow.items()],
                output_field=Project._meta.get_field("completed_investment"),
            ),
            version=locking.bumped(),
            updated_at=now,
        )
        for pk, value in follow.items():
            projects[pk].completed_investment = value

    dispatch_type = ContentType.objects.get_for_model(WeeklyDispatch)
    project_type = ContentType.objects.get_for_model(Project)
    log = []
    for r in reports:
        note = reasons[r.project_id]
        if r.project_id in existing:
            log += changelog_rows(
                r, before[r.project_id], by=by, at=now, ctype=dispatch_type, note=note
            )
        else:
            log += [
                ChangeLog(
                    content_type=dispatch_type,
                    object_id=r.pk,
                    object_repr=str(r)[:200],
                    action=ChangeAction.CREATE,
                    field=name,
                    new_value=value,
                    changed_by=by,
                    changed_at=now,
                    note=note,
                )
                for name, value in snapshot(r, set(DISPATCH_FIELDS)).items()
            ]
    for pk, old in project_before.items():
        log += changelog_rows(
            projects[pk], old, by=by, at=now, ctype=project_type, note=reasons[pk]
        )
    ChangeLog.objects.bulk_create(log)
    return reports


def _report_stage(project, existing, advanced):
    """The stage a report records: after a change filed with it, the project's new stage;
    otherwise the stage in force at the end of the week per the history (``stage_as_of``),
    falling back to the report's own stage, then the current one, without history."""
    if advanced:
        return project.stage
    fallback = existing.stage if existing is not None else project.stage
    return project.stage_as_of or fallback
