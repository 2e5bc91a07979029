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
    Those the user may edit (``Project.objects.editable_by``) that are due that week
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

Completed investment
    Not negative, at most ``signed_amount × MAX_COMPLETED_RATIO``, and cumulative both ways:
    lower than the project's previous report, or higher than any of its later reports (a late
    report of an earlier week), is refused, except for a manager (who may correct an earlier
    wrong figure). The project's ``completed_investment`` follows the report (with history)
    unless a later week has already been reported.

Double submission
    One report per project and week (unique constraint). Filing upserts
    (``bulk_create(update_conflicts=True)``, i.e. INSERT … ON CONFLICT DO UPDATE) after locking
    the projects' rows, so a double click, the back button or two tabs — even two concurrent
    requests — leave one report holding the values saved last.
"""

import datetime

from django import forms
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, OuterRef, Subquery, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import ChangeAction, Role, Stage
from .models import ChangeLog, Project, WeeklyDispatch
from .rules import allowed_targets, stage_before_stall
from .services import changelog_rows, snapshot

TEXT_MAX = 2000
DISPATCH_FIELDS = ("stage", "completed_investment", "progress", "problems")


class DispatchError(Exception):
    """A filing that was refused as a whole; nothing was saved.

    ``messages``: problems of the whole submission; ``rows``: project id → {field: [messages]}.
    """

    def __init__(self, messages=(), rows=None):
        self.messages = [str(m) for m in messages]
        self.rows = rows or {}
        super().__init__("; ".join(self.messages) or f"{len(self.rows)} rows refused")


class WeekError(ValueError):
    """A week that does not exist or cannot be used; ``str()`` is the message to show."""


# --- weeks ---------------------------------------------------------------------------------
def parse_week(text):
    """``"2023-W07"`` → ``(2023, 7)``; WeekError for anything else."""
    text = (text or "").strip()
    try:
        year_part, week_part = text.split("-W")
        if len(year_part) != 4 or len(week_part) != 2:
            raise ValueError
        year, week = int(year_part), int(week_part)
        datetime.date.fromisocalendar(year, week, 1)
    except (ValueError, TypeError):
        raise WeekError(
            _("“%(week)s” is not a week. Weeks are written like 2023-W07 (ISO weeks 01–52/53).")
            % {"week": text[:20]}
        ) from None
    if not 2000 <= year <= 2100:
        raise WeekError(_("Only weeks of the years 2000–2100 can be used."))
    return year, week


def week_label(iso_year, iso_week):
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
            "week": week_label(iso_year, iso_week)
        }
    if user.is_manager:
        return None
    weeks_back = int(settings.TRACKER["DISPATCH_OPEN_WEEKS_BACK"])
    if start < this_start - datetime.timedelta(weeks=weeks_back):
        return _(
            "Week %(week)s is closed: county staff and commissioners file the current week "
            "and the %(n)s before it; a city bureau manager can correct older weeks."
        ) % {"week": week_label(iso_year, iso_week), "n": weeks_back}
    return None


def report_date(iso_year, iso_week, today):
    """The effective date of a stage change filed with this week's report."""
    _start, end = week_bounds(iso_year, iso_week)
    return min(today, end)


# --- which projects, with what they need -----------------------------------------------------
def can_dispatch(user):
    """Roles that file dispatches at all (chain offices only read)."""
    return bool(
        user.is_authenticated
        and (user.is_superuser or user.role in (Role.MANAGER, Role.COUNTY, Role.COMMISSIONER))
    )


def _week_key(iso_year, iso_week):
    return iso_year * 100 + iso_week


def dispatch_projects(user, iso_year, iso_week):
    """The projects ``user`` files for this week, annotated for the dispatch sheet.

    Annotations: ``report_id`` (this week's report), ``prefill_id`` (this week's report or
    the latest earlier one), ``previous_completed`` (cumulative investment of the latest
    report before this week), ``later_completed`` (the lowest cumulative investment of the
    reports after this week), ``latest_key`` (yyyyww of the project's latest report),
    ``stage_as_of`` (the stage in force at the end of the week, per the stage history).
    """
    _start, end = week_bounds(iso_year, iso_week)
    key = _week_key(iso_year, iso_week)
    reports = WeeklyDispatch.objects.filter(project=OuterRef("pk")).annotate(
        key=F("iso_year") * 100 + F("iso_week")
    )
    newest_first = ("-iso_year", "-iso_week")
    return (
        Project.objects.editable_by(user)
        .due_to_dispatch(iso_year, iso_week)
        .with_stage_as_of(end)
        .select_related("region", "enterprise")
        .annotate(
            report_id=Subquery(reports.filter(key=key).values("pk")[:1]),
            prefill_id=Subquery(
                reports.filter(key__lte=key).order_by(*newest_first).values("pk")[:1]
            ),
            previous_completed=Subquery(
                reports.filter(key__lt=key)
                .order_by(*newest_first)
                .values("completed_investment")[:1]
            ),
            later_completed=Subquery(
                reports.filter(key__gt=key)
                .order_by("completed_investment")
                .values("completed_investment")[:1]
            ),
            latest_key=Subquery(reports.order_by(*newest_first).values("key")[:1]),
        )
        .order_by("region__sort_order", "code")
    )


def excluded_count(user, iso_year, iso_week, *, region=None):
    """Projects in the user's scope signed by the week's end that no longer dispatch
    (terminated or in production before the week began)."""
    qs = Project.objects.editable_by(user).due_to_dispatch(iso_year, iso_week, flag=False)
    if region is not None:
        qs = qs.filter(region=region)
    return qs.count()


# --- validation of one row ---------------------------------------------------------------------
def row_errors(project, data, *, by, previous_completed, later_completed=None):
    """Field → list of messages for one dispatch row (empty when the row is fine)."""
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
        ratio = settings.TRACKER["MAX_COMPLETED_RATIO"]
        if project.signed_amount and done > project.signed_amount * ratio:
            errors.setdefault("completed_investment", []).append(
                _(
                    "Completed investment of %(done)s 万元 is more than %(ratio)s times the "
                    "signed amount (%(signed)s 万元); please check the figure."
                )
                % {"done": done, "ratio": ratio, "signed": project.signed_amount}
            )
        if previous_completed is not None and done < previous_completed and not by.is_manager:
            errors.setdefault("completed_investment", []).append(
                _(
                    "The cumulative completed investment cannot go down: the previous report "
                    "had %(previous)s 万元. If that figure was wrong, ask a city bureau manager "
                    "to correct it."
                )
                % {"previous": previous_completed}
            )
        if later_completed is not None and done > later_completed and not by.is_manager:
            errors.setdefault("completed_investment", []).append(
                _(
                    "The cumulative completed investment cannot go down: a later week's "
                    "report already has %(later)s 万元. If that figure was wrong, ask a city "
                    "bureau manager to correct it."
                )
                % {"later": later_completed}
            )
    for field in ("progress", "problems"):
        if len(data.get(field) or "") > TEXT_MAX:
            errors.setdefault(field, []).append(
                _("At most %(max)s characters (this text has %(n)s).")
                % {"max": TEXT_MAX, "n": len(data[field])}
            )
    return errors


# --- filing ----------------------------------------------------------------------------------
def file_weekly_dispatch(*, iso_year, iso_week, rows, by, now=None):
    """File (or correct) this week's reports for ``rows`` in one transaction.

    ``rows``: dicts with ``project`` (id), ``stage`` ("" = unchanged), ``completed_investment``
    (Decimal), ``progress``, ``problems``. Raises DispatchError (nothing saved) when the
    week, the user, a project's scope or a row is refused.
    Returns the saved reports.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    problem = week_error(iso_year, iso_week, user=by, today=today)
    if problem:
        raise DispatchError([problem])
    if not can_dispatch(by):
        raise DispatchError([_("Your account cannot file the weekly dispatch.")])
    rows = list(rows)
    ids = [int(r["project"]) for r in rows]
    if len(set(ids)) != len(ids):
        raise DispatchError([_("A project appears twice in this dispatch.")])
    if not rows:
        return []
    effective_on = report_date(iso_year, iso_week, today)
    late = is_late(iso_year, iso_week, now)
    key = _week_key(iso_year, iso_week)

    with transaction.atomic():
        # Lock the projects (serialises concurrent filings for them on PostgreSQL).
        projects = {
            p.pk: p
            for p in dispatch_projects(by, iso_year, iso_week)
            .filter(pk__in=ids)
            .select_for_update(of=("self",))
        }
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
        errors = {}
        for row in rows:
            project = projects[int(row["project"])]
            found = row_errors(
                project,
                row,
                by=by,
                previous_completed=project.previous_completed,
                later_completed=project.later_completed,
            )
            if found:
                errors[project.pk] = found
        if errors:
            raise DispatchError(rows=errors)

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
                    )
                except ValidationError as exc:
                    errors[project.pk] = exc.message_dict
        if errors:
            raise DispatchError(rows=errors)

        existing = {
            d.project_id: d
            for d in WeeklyDispatch.objects.for_week(iso_year, iso_week).filter(project_id__in=ids)
        }
        before = {pk: snapshot(d, set(DISPATCH_FIELDS)) for pk, d in existing.items()}
        reports = []
        for row in rows:
            project = projects[int(row["project"])]
            reports.append(
                WeeklyDispatch(
                    project=project,
                    iso_year=iso_year,
                    iso_week=iso_week,
                    stage=_report_stage(project, existing.get(project.pk), project.pk in advanced),
                    completed_investment=row["completed_investment"],
                    progress=row.get("progress") or "",
                    problems=row.get("problems") or "",
                    filed_by=by,
                    filed_at=now,
                    is_late=late,
                )
            )
        WeeklyDispatch.objects.bulk_create(
            reports,
            update_conflicts=True,
            unique_fields=["project", "iso_year", "iso_week"],
            update_fields=list(DISPATCH_FIELDS),
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
            if (projects[r.project_id].latest_key or 0) <= key
            and projects[r.project_id].completed_investment != r.completed_investment
        }
        project_before = {pk: snapshot(projects[pk], {"completed_investment"}) for pk in follow}
        if follow:
            Project.objects.filter(pk__in=follow).update(
                completed_investment=Case(
                    *[When(pk=pk, then=Value(v)) for pk, v in follow.items()],
                    output_field=Project._meta.get_field("completed_investment"),
                ),
                version=F("version") + 1,
                updated_at=now,
            )
            for pk, value in follow.items():
                projects[pk].completed_investment = value

        dispatch_type = ContentType.objects.get_for_model(WeeklyDispatch)
        project_type = ContentType.objects.get_for_model(Project)
        log = []
        for r in reports:
            if r.project_id in existing:
                log += changelog_rows(r, before[r.project_id], by=by, at=now, ctype=dispatch_type)
            else:
                log.append(
                    ChangeLog(
                        content_type=dispatch_type,
                        object_id=r.pk,
                        object_repr=str(r)[:200],
                        action=ChangeAction.CREATE,
                        changed_by=by,
                        changed_at=now,
                    )
                )
        for pk, old in project_before.items():
            log += changelog_rows(projects[pk], old, by=by, at=now, ctype=project_type)
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


# --- the sheet: one form per project ----------------------------------------------------------
class DispatchRowForm(forms.Form):
    """One project's row. Fields carry their pre-filled value as a hidden initial, so a row
    the user did not touch is recognised as unchanged even if someone else filed meanwhile."""

    project = forms.IntegerField(widget=forms.HiddenInput)
    stage = forms.ChoiceField(label=_("stage"), required=False)
    completed_investment = forms.DecimalField(
        label=_("cumulative completed investment (万元)"),
        max_digits=14,
        decimal_places=2,
        show_hidden_initial=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 10}),
    )
    progress = forms.CharField(
        label=_("progress (形象进度)"),
        required=False,
        max_length=TEXT_MAX,
        show_hidden_initial=True,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 28}),
    )
    problems = forms.CharField(
        label=_("problems"),
        required=False,
        max_length=TEXT_MAX,
        show_hidden_initial=True,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 28}),
    )
    confirm = forms.BooleanField(
        label=_("file unchanged"),
        required=False,
        help_text=_("Tick to file this row although nothing changed since the last report."),
    )

    def __init__(self, *args, project, user, stage_changes=(), **kwargs):
        super().__init__(*args, **kwargs)
        # A row left as pre-filled is neither validated nor filed.
        self.empty_permitted = True
        self.use_required_attribute = False
        self.project = project
        self.user = user
        targets = allowed_targets(
            current=project.stage,
            is_manager=user.is_manager,
            resume_stage=stage_before_stall(stage_changes)
            if project.stage == Stage.STALLED
            else None,
        )
        self.fields["stage"].choices = [
            ("", _("unchanged (%(stage)s)") % {"stage": project.get_stage_display()}),
            *[(s, Stage(s).label) for s in targets],
        ]
        # Django's own max_length check already speaks; keep the model's limit visible too.
        for name in ("progress", "problems"):
            self.fields[name].widget.attrs["maxlength"] = TEXT_MAX

    def clean_project(self):
        value = self.cleaned_data["project"]
        if value != self.project.pk:
            raise ValidationError(
                _("This row does not match the project list of this page; please reload it.")
            )
        return value

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        for field, messages in row_errors(
            self.project,
            data,
            by=self.user,
            previous_completed=self.project.previous_completed,
            later_completed=self.project.later_completed,
        ).items():
            for message in messages:
                self.add_error(field, message)
        return data


PROJECTS_CHANGED = _(
    "The list of projects changed since this page was loaded; "
    "please check the rows and submit again."
)


class BaseDispatchFormSet(forms.BaseFormSet):
    default_error_messages = {
        **forms.BaseFormSet.default_error_messages,
        "too_many_forms": PROJECTS_CHANGED,
        "too_few_forms": PROJECTS_CHANGED,
    }

    def __init__(self, *args, projects, user, **kwargs):
        self.projects = projects
        self.user = user
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        project = self.projects[index]
        return {
            "project": project,
            "user": self.user,
            "stage_changes": getattr(project, "prefetched_stage_changes", ()),
        }

    def clean(self):
        if self.total_form_count() != len(self.projects):
            raise ValidationError(PROJECTS_CHANGED)

    def changed_rows(self):
        return [form.cleaned_data for form in self.forms if form.has_changed()]


def dispatch_formset(projects, user, *, data=None, initial=None):
    formset_class = forms.formset_factory(
        DispatchRowForm,
        formset=BaseDispatchFormSet,
        extra=0,
        max_num=len(projects),
        absolute_max=max(len(projects), 1),
        validate_max=True,
    )
    return formset_class(data=data, initial=initial, projects=projects, user=user, prefix="row")
