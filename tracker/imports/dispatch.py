"""Importing a week's dispatch sheet (周调度) prepared offline: one row per project.

The downloadable sheet (``template``) is the user's sheet of that week as the web page
starts it (``dispatching.row_initial``), with the versions the rows were read at. The
preview asks the web sheet's own rules (``dispatching``): the projects the user files that
week (scope and due), the week open to them, the figure that never goes down silently
(``row_errors_now``; a manager gives 调减原因), the stage through the allowed transitions
(``rules.stage_move_error`` on the report date), and rows whose project or report changed
since the sheet was downloaded (or, without version columns, since the preview) refused.
Applying is one ``file_weekly_dispatch`` call, origin marked; any stale row refuses all.
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import dispatching, locking, permissions, rules
from ..choices import Stage
from ..exports import zh_labels
from ..models import Project, StageChange, WeeklyDispatch
from ..spreadsheets import MONEY
from . import base
from .base import CREATE, UNCHANGED, UPDATE, CellError, Plan, Stale

KEY = "项目编号"
NAME, REGION = "项目名称", "县(市、区)"
STAGE, DONE = "项目阶段", "累计完成投资(万元)"
PROGRESS, PROBLEMS, REASON = "形象进度", "存在问题", "调减原因"
VERSION, REPORT_VERSION = "项目版本", "周报版本"
CONFIRM = "无变化也报送"
HEADERS = [
    KEY,
    NAME,
    REGION,
    STAGE,
    DONE,
    PROGRESS,
    PROBLEMS,
    CONFIRM,
    REASON,
    VERSION,
    REPORT_VERSION,
]
YES = {"是", "√", "✓", "y", "yes", "1", "true"}
READ_ONLY = {NAME, REGION}
TEXTS = {PROGRESS: "progress", PROBLEMS: "problems"}
WEEK_COLUMN = "周次"


def _yes(value):
    return base.text(value).lower() in YES


def _version(value):
    if base.blank(value):
        return None
    text = base.text(value)
    if not text.isdigit():
        raise CellError(_("Not a number: “%(value)s”.") % {"value": text[:20]})
    return int(text)


class DispatchImporter:
    key_header = KEY
    subtitle = "本人本周应报送的项目，每行一个；只改阶段、累计完成投资和文字，版本列请勿修改"
    notes_subtitle = "与网页调度表的规则相同：累计完成投资不得调低，阶段按规定流转"

    @property
    def title(self):
        return f"周调度 {self.week}"

    sheet_name = "周调度"

    def template_headers(self):
        return HEADERS

    def template_format(self, header):
        return {DONE: MONEY}.get(header)

    def describe_columns(self):
        return describe_columns()

    def __init__(self, *, by, params=None):
        self.by = by
        self.week = (params or {}).get("week", "")
        self.stages = zh_labels(Stage.choices)

    def _week(self):
        return dispatching.parse_week(self.week)

    # --- the preview -----------------------------------------------------------------
    def plan(self, table, *, progress=None):
        plan = Plan(
            columns=[h for h in table.headers if h in HEADERS and h not in READ_ONLY],
            ignored=[h for h in table.headers if h in READ_ONLY],
            unknown=[h for h in table.headers if h not in HEADERS],
        )
        iso_year, iso_week = self._week()
        today = timezone.localdate()
        problem = dispatching.week_error(iso_year, iso_week, user=self.by, today=today)
        if problem is None and not dispatching.can_dispatch(self.by):
            problem = _("Your account cannot file the weekly dispatch.")
        if problem:
            plan.error(0, WEEK_COLUMN, problem)
            return plan.as_json()
        if DONE not in table.headers:
            plan.error(0, DONE, _("The file has no column “%(header)s”.") % {"header": DONE})
            return plan.as_json()
        codes = [base.text(row.values.get(KEY)) for row in table.rows]
        projects = {
            p.code: p
            for p in dispatching.dispatch_projects(self.by, iso_year, iso_week).filter(
                code__in=[c for c in codes if c]
            )
        }
        known = set(
            Project.objects.filter(code__in=set(codes) - set(projects)).values_list(
                "code", flat=True
            )
        )
        references = WeeklyDispatch.objects.in_bulk(
            [p.prefill_id for p in projects.values() if p.prefill_id]
        )
        self.last_on = dict(
            StageChange.objects.filter(project__in=[p.pk for p in projects.values()])
            .values_list("project")
            .annotate(last=Max("effective_on"))
            .values_list("project", "last")
        )
        self.on = dispatching.report_date(iso_year, iso_week, today)
        self.iso = (iso_year, iso_week)
        seen = {}
        for index, row in enumerate(table.rows):
            code = codes[index]
            if not plan.new_key(row.number, code, seen, column=KEY):
                pass
            elif code not in projects:
                message = (
                    _(
                        "You do not file project %(code)s for this week (outside your scope, "
                        "or not reporting this week)."
                    )
                    if code in known
                    else _("There is no project %(code)s.")
                )
                plan.error(row.number, KEY, message % {"code": code})
            else:
                project = projects[code]
                self._row(plan, row, project, references.get(project.prefill_id))
            if progress:
                progress(index + 1, len(table.rows))
        return plan.as_json()

    def _row(self, plan, row, project, reference):
        iso_year, iso_week = self.iso
        values = row.values
        initial = dispatching.row_initial(project, reference, iso_year, iso_week)
        filed = {
            "project": project.pk,
            "stage": "",
            "completed_investment": None,
            "progress": initial["progress"],
            "problems": initial["problems"],
            "reason": base.reason(plan, row, REASON, by=self.by, project=project),
            # Without the sheet's version columns a row expects no report this week yet: a
            # report filed on the web meanwhile is never overwritten unseen.
            "version": project.version,
            "report_version": locking.NO_ROW,
        }
        failed = False
        try:
            filed["completed_investment"] = base.amount(
                values.get(DONE), field=WeeklyDispatch._meta.get_field("completed_investment")
            )
        except CellError as error:
            plan.error(row.number, DONE, error.message)
            failed = True
        for header, name in TEXTS.items():
            if header in values:
                filed[name] = base.text(values[header])
        for header, name in ((VERSION, "version"), (REPORT_VERSION, "report_version")):
            try:
                given = _version(values.get(header))
            except CellError as error:
                plan.error(row.number, header, error.message)
                failed = True
            else:
                if given is not None:
                    filed[name] = given
        if not base.blank(values.get(STAGE)):
            try:
                stage = base.choice(values[STAGE], self.stages)
            except CellError as error:
                plan.error(row.number, STAGE, error.message)
                failed = True
            else:
                filed["stage"] = "" if stage == project.stage else stage
        if dispatching.is_stale(project, filed):
            plan.error(
                row.number,
                KEY,
                _(
                    "Project %(code)s or its report of this week changed since the sheet was "
                    "downloaded; download the sheet again."
                )
                % {"code": project.code},
            )
            failed = True
        if filed["stage"] and not failed:
            error = rules.stage_move_error(
                current=project.stage,
                target=filed["stage"],
                override=permissions.may(self.by, permissions.MANAGE, project),
                resume_stage=project.stage_before_stall()
                if project.stage == Stage.STALLED
                else None,
                on=self.on,
                today=timezone.localdate(),
                signed_on=project.signed_on,
                last_on=self.last_on.get(project.pk),
            )
            if error:
                plan.error(row.number, STAGE, error)
                failed = True
        if not failed:
            headers = {
                "completed_investment": DONE,
                "reason": REASON,
                **{name: header for header, name in TEXTS.items()},
            }
            found = dispatching.row_errors_now(
                project, filed, by=self.by, iso_year=iso_year, iso_week=iso_week
            )
            for name, messages in found.items():
                for message in messages:
                    plan.error(row.number, headers.get(name, DONE), message)
        own = reference if reference is not None and reference.pk == project.report_id else None
        changes = self._changes(project, own, filed)
        if own is None:
            # As on the web sheet: a row left as it was pre-filled is not a report, unless
            # the row says it is one (无变化也报送: nothing changed this week).
            untouched = not filed["stage"] and all(
                filed[name] == initial[name]
                for name in ("completed_investment", "progress", "problems")
            )
            action = UNCHANGED if untouched and not _yes(values.get(CONFIRM)) else CREATE
        else:
            action = UPDATE if changes else UNCHANGED
        plan.add_row(
            row.number,
            code=project.code,
            action=action,
            project=project.pk,
            version=project.version,
            data=filed,
            changes=changes,
        )

    def _changes(self, project, own, filed):
        shown = []
        if filed["stage"]:
            shown.append([STAGE, self.stages[project.stage], self.stages[filed["stage"]]])
        old_done = own.completed_investment if own else None
        if old_done is None or base.shown(old_done) != base.shown(filed["completed_investment"]):
            shown.append([DONE, base.shown(old_done), base.shown(filed["completed_investment"])])
        for header, name in TEXTS.items():
            old = getattr(own, name) if own else ""
            if (old or "") != (filed[name] or "") or (own is None and filed[name]):
                shown.append([header, old or "", filed[name] or ""])
        return shown

    # --- applying --------------------------------------------------------------------
    def apply(self, plan, *, origin, progress=None):
        iso_year, iso_week = self._week()
        rows = [
            {**r["data"], "completed_investment": Decimal(r["data"]["completed_investment"])}
            for r in plan["rows"]
            if r["action"] in (CREATE, UPDATE)
        ]
        code_of = {r["project"]: (r["row"], r["code"]) for r in plan["rows"]}
        with transaction.atomic():
            try:
                filing = dispatching.file_weekly_dispatch(
                    iso_year=iso_year, iso_week=iso_week, rows=rows, by=self.by, origin=origin
                )
            except dispatching.DispatchError as error:
                if error.conflicts:
                    raise Stale(sorted(code_of[pk] for pk in error.conflicts)) from None
                messages = list(error.messages)
                for pk, fields in error.rows.items():
                    number, code = code_of[pk]
                    texts = " ".join(str(m) for ms in fields.values() for m in ms)
                    messages.append(
                        str(
                            _("Row %(row)s (%(code)s): %(messages)s")
                            % {"row": number, "code": code, "messages": texts}
                        )
                    )
                raise ValidationError(messages) from None
            if filing.conflicts:
                raise Stale(sorted(code_of[pk] for pk in filing.conflicts))
            if progress:
                progress(len(rows), len(rows))
        return len(rows)

    # --- the sheet to fill in offline --------------------------------------------------
    def template_rows(self):
        iso_year, iso_week = self._week()
        projects = list(dispatching.dispatch_projects(self.by, iso_year, iso_week))
        references = WeeklyDispatch.objects.in_bulk(
            [p.prefill_id for p in projects if p.prefill_id]
        )
        for project in projects:
            initial = dispatching.row_initial(
                project, references.get(project.prefill_id), iso_year, iso_week
            )
            yield [
                project.code,
                project.name,
                project.region.name,
                self.stages[project.stage],
                initial["completed_investment"],
                initial["progress"],
                initial["problems"],
                "",
                "",
                initial["version"],
                initial["report_version"],
            ]


def describe_columns():
    stages = "、".join(zh_labels(Stage.choices).values())
    return [
        [KEY, "用于匹配项目", "", "", True],
        [NAME, "仅供查看，导入时忽略", "", "", False],
        [REGION, "仅供查看，导入时忽略", "", "", False],
        [STAGE, "本周阶段：与现阶段相同即不变，变更须符合阶段流转规则", "", stages, False],
        [DONE, "累计数，不得调低（市局管理员调低须填调减原因）", "万元", "", True],
        [PROGRESS, "不超过2000字", "文本", "", False],
        [PROBLEMS, "不超过2000字", "文本", "", False],
        [CONFIRM, "本周无变化、按预填内容报送时填“是”；否则未改动的行不报送", "", "是", False],
        [REASON, "市局管理员调低累计完成投资时必填", "文本", "", False],
        [VERSION, "下载时的版本，请勿修改：项目在此后被改动的行将被拒绝", "", "", False],
        [REPORT_VERSION, "下载时本周周报的版本（0为尚未报送），请勿修改", "", "", False],
    ]


def validate_week(text):
    """The week of an upload (``2026-W49``), or ValidationError with the sheet's message."""
    try:
        dispatching.parse_week(text)
    except dispatching.WeekError as error:
        raise ValidationError(str(error)) from None
    return text
