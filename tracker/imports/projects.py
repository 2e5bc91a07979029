"""Importing the project book from a spreadsheet: the export's columns and Chinese headers.

Each row is matched by 项目编号: a known code updates that project, an unknown one creates a
project (city bureau managers only). The preview asks, row by row, the rules the edit form
and the services apply (nothing of them is written again here):

- scope: ``permissions`` (EDIT on the project, MANAGE for the manager-only fields and for
  new projects);
- the stage change: ``rules.stage_move_error`` (the allowed transitions and its date);
- the actual dates against the stage history: ``rules.actual_date_errors``;
- the edited fields, the constraints that read them, the cumulative figure that does not go
  down (a manager gives 调减原因): ``services.check_edit``; a new row: the model's
  ``full_clean``, as ``projects_service.create_project`` does.

The apply step writes through ``services.update_project`` and
``projects_service.create_project`` (the edit form's service), marked with the import's
origin on every history row, in one transaction with the stale check.
"""

import datetime
from decimal import Decimal

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import locking, permissions, projects_service, rules, services
from ..choices import CapitalSource, Stage
from ..exports import COLUMNS as EXPORT_COLUMNS
from ..exports import COMMISSIONER_HEADER, STAGE_HEADER, zh_labels
from ..forms.projects import constraint_field
from ..models import Enterprise, IndustryChain, Park, Project, Region, StageChange, User
from ..spreadsheets import DATE
from ..validators import validate_credit_code
from . import base
from .base import CREATE, ERROR, UNCHANGED, UPDATE, CellError, Plan, Stale

KEY = "项目编号"
CREDIT_HEADER = "统一社会信用代码"
STAGE_ON_HEADER = "阶段生效日期"
REASON_HEADER = "调减原因"
NOTES_HEADER = "备注"

# The export's columns read back: header → model field (the export's value keys).
_FROM_EXPORT = {
    "code": "code",
    "name": "name",
    "enterprise__name": "enterprise",
    "region__name": "region",
    "chain__name": "chain",
    "signed_on": "signed_on",
    "signed_amount": "signed_amount",
    "park__name": "park",
    "annual_planned_investment": "annual_planned_investment",
    "completed_investment": "completed_investment",
    "planned_start_on": "planned_start_on",
    "actual_start_on": "actual_start_on",
    "planned_production_on": "planned_production_on",
    "actual_production_on": "actual_production_on",
    "responsible_leader": "responsible_leader",
    "responsible_unit": "responsible_unit",
}
FIELD_OF = {header: _FROM_EXPORT[key] for header, key, _ in EXPORT_COLUMNS if key in _FROM_EXPORT}
FIELD_OF |= {
    "资金来源": "capital_source",
    COMMISSIONER_HEADER: "commissioner",
    NOTES_HEADER: "notes",
}
HEADER_OF = {field: header for header, field in FIELD_OF.items()} | {"stage": STAGE_HEADER}
# Read-only columns of the export (computed from the others): recognised and left alone.
DERIVED = [
    header
    for header, key, _ in EXPORT_COLUMNS
    if key is None and header not in (STAGE_HEADER, COMMISSIONER_HEADER, "资金来源")
]
EXTRA = [STAGE_HEADER, STAGE_ON_HEADER, CREDIT_HEADER, REASON_HEADER]
KNOWN = set(FIELD_OF) | set(EXTRA) | set(DERIVED)

MONEY_FIELDS = {"signed_amount", "annual_planned_investment", "completed_investment"}
DATE_FIELDS = {
    "signed_on",
    "planned_start_on",
    "actual_start_on",
    "planned_production_on",
    "actual_production_on",
}
TEXT_FIELDS = {"name", "responsible_leader", "responsible_unit", "notes"}
FK_MODELS = {
    "enterprise": Enterprise,
    "region": Region,
    "chain": IndustryChain,
    "park": Park,
    "commissioner": User,
}


def describe_columns():
    """(header, what it is, unit, allowed values, required for a new project) per column, for
    the template's second sheet."""
    stages = "、".join(zh_labels(Stage.choices).values())
    sources = "、".join(zh_labels(CapitalSource.choices).values())
    required = {"code", "name", "enterprise", "region", "chain", "signed_on", "signed_amount"}
    notes = {
        "code": "用于匹配：已有编号则更新该项目，新编号则新建项目（仅市局管理员）",
        "name": "不超过200字",
        "enterprise": "须为系统中已有的企业名称",
        "region": "须为系统中已有的县(市、区)",
        "chain": "须为十条重点产业链之一",
        "signed_on": "不晚于今天",
        "signed_amount": "仅市局管理员可修改",
        "park": "须属于所填县(市、区)",
        "annual_planned_investment": "不小于0",
        "completed_investment": "累计数，不得调低（市局管理员调低须填调减原因）",
        "planned_start_on": "不早于签约日期",
        "actual_start_on": "项目达到开工阶段后填写",
        "planned_production_on": "不早于计划开工日期",
        "actual_production_on": "项目达到投产阶段后填写",
        "responsible_leader": "",
        "responsible_unit": "",
        "commissioner": "企业特派员的姓名（或“姓名 · 单位”）；仅市局管理员可修改",
        "notes": "不超过4000字",
    }
    units = {f: "万元" for f in MONEY_FIELDS} | {f: "日期（2022-04-01）" for f in DATE_FIELDS}
    rows = []
    for header, field in FIELD_OF.items():
        allowed = sources if field == "capital_source" else ""
        rows.append(
            [header, notes.get(field, ""), units.get(field, "文本"), allowed, field in required]
        )
    rows += [
        [STAGE_HEADER, "按规定的阶段流转变更；新项目从签约开始", "", stages, False],
        [STAGE_ON_HEADER, "阶段变更的生效日期，空则为今天", "日期（2022-04-01）", "", False],
        [CREDIT_HEADER, "填写则按信用代码匹配企业（须与企业名称一致）", "18位", "", False],
        [REASON_HEADER, "市局管理员调低累计完成投资时必填", "文本", "", False],
    ]
    rows += [[header, "导出时计算的列，导入时忽略", "", "", False] for header in DERIVED]
    return rows


def template_rows():
    """One example row of the template, in the order of ``template_headers``."""
    example = {
        KEY: "YC-2026-001",
        "项目名称": "示例：锂电池隔膜生产线项目",
        "企业名称": "（系统中已有的企业名称）",
        "县(市、区)": "袁州区",
        "产业链": "锂电新能源",
        "签约日期": datetime.date(2026, 3, 1),
        "签约金额(万元)": Decimal("50000"),
        "资金来源": zh_labels(CapitalSource.choices)[CapitalSource.DOMESTIC],
        "年度计划投资(万元)": Decimal("12000"),
        "累计完成投资(万元)": Decimal("0"),
        "计划开工日期": datetime.date(2026, 6, 1),
        "计划投产日期": datetime.date(2027, 6, 1),
        "挂钩领导": "张三",
        "责任单位": "袁州区工业和信息化局",
        STAGE_HEADER: zh_labels(Stage.choices)[Stage.SIGNED],
    }
    return [[example.get(header, "") for header in template_headers()]]


def template_format(header):
    """The number format of a template column: the export's, else text (or a date)."""
    formats = {h: number_format for h, _key, number_format in EXPORT_COLUMNS}
    return formats.get(header, DATE if header == STAGE_ON_HEADER else None)


def template_headers():
    return [*FIELD_OF, STAGE_HEADER, STAGE_ON_HEADER, CREDIT_HEADER, REASON_HEADER]


class Lookups:
    """The reference data a file names, read once per preview (queries do not grow with the
    rows): regions, chains, parks, commissioners by name; enterprises by name and credit
    code (only those the file names)."""

    def __init__(self, names, codes):
        self.regions = {r.name: r for r in Region.objects.all()}
        self.chains = {c.name: c for c in IndustryChain.objects.all()}
        self.parks = {p.name: p for p in Park.objects.all()}
        enterprises = Enterprise.objects.filter(name__in=names) | Enterprise.objects.filter(
            credit_code__in=codes
        )
        self.enterprises = {e.name: e for e in enterprises}
        self.by_credit = {e.credit_code: e for e in enterprises if e.credit_code}
        self.people = {}
        # select_related: an unnamed account is shown by its role, region and chain.
        people = permissions.commissioners(User.objects.select_related("region", "chain"))
        for person in people:
            for shown in {person.display(), person.display(with_unit=True)}:
                self.people.setdefault(shown, []).append(person)


class ProjectImporter:
    key_header = KEY
    title = "宜春市工业项目导入模板"
    sheet_name = "项目导入模板"
    subtitle = "第4行为列名，从第5行起每行一个项目；示例行请删除后再导入"
    notes_subtitle = "按“项目编号”匹配：已有编号更新该项目，新编号新建项目（仅市局管理员）"

    def template_headers(self):
        return template_headers()

    def template_rows(self):
        return template_rows()

    def template_format(self, header):
        return template_format(header)

    def describe_columns(self):
        return describe_columns()

    def __init__(self, *, by, params=None):
        self.by = by
        self.today = timezone.localdate()
        self.stages = zh_labels(Stage.choices)
        self.sources = zh_labels(CapitalSource.choices)
        self.may_create = permissions.may(by, permissions.MANAGE, "project")

    # --- the preview -----------------------------------------------------------------
    def plan(self, table, *, progress=None):
        headers = table.headers
        plan = Plan(
            columns=[h for h in headers if h in FIELD_OF or h in EXTRA],
            ignored=[h for h in headers if h in DERIVED],
            unknown=[h for h in headers if h not in KNOWN],
        )
        codes = [base.text(row.values.get(KEY)) for row in table.rows]
        projects = {
            p.code: p
            for p in Project.objects.filter(code__in=[c for c in codes if c]).select_related(
                "enterprise", "region", "chain", "park", "commissioner"
            )
        }
        names = {base.text(row.values.get("企业名称")) for row in table.rows}
        credits = {base.text(row.values.get(CREDIT_HEADER)).upper() for row in table.rows}
        self.lookups = Lookups(names - {""}, credits - {""})
        moving = [p.pk for p in projects.values()]
        self.last_on = dict(
            StageChange.objects.filter(project__in=moving)
            .values_list("project")
            .annotate(last=Max("effective_on"))
            .values_list("project", "last")
        )
        seen = {}
        for index, row in enumerate(table.rows):
            code = codes[index]
            if not plan.new_key(row.number, code, seen, column=KEY):
                continue
            project = projects.get(code)
            if project is None:
                self._create_row(plan, row, code)
            else:
                self._update_row(plan, row, project)
            if progress:
                progress(index + 1, len(table.rows))
        return plan.as_json()

    def _cells(self, plan, row, *, project):
        """The row's present cells as field values; errors go to the plan. Only columns the
        file has are read (a missing column leaves the field as it is)."""
        values, failed = {}, False
        lookups = self.lookups
        for header, field in FIELD_OF.items():
            if header not in row.values or field == "code":
                continue
            cell = row.values[header]
            try:
                values[field] = self._value(field, cell, row=row, project=project)
            except CellError as error:
                plan.error(row.number, header, error.message)
                failed = True
        credit = base.text(row.values.get(CREDIT_HEADER)).upper()
        if credit:
            try:
                validate_credit_code(credit)
                found = lookups.by_credit.get(credit)
                if found is None:
                    raise CellError(
                        _("No enterprise with the credit code %(code)s is in the system.")
                        % {"code": credit}
                    )
                if "enterprise" in values and values["enterprise"] != found:
                    raise CellError(
                        _("This credit code belongs to %(name)s, not to the enterprise named.")
                        % {"name": found.name}
                    )
                values["enterprise"] = found
            except ValidationError as error:
                plan.error(row.number, CREDIT_HEADER, " ".join(error.messages))
                failed = True
            except CellError as error:
                plan.error(row.number, CREDIT_HEADER, error.message)
                failed = True
        return values, failed

    def _value(self, field, cell, *, row, project):
        lookups = self.lookups
        if field in MONEY_FIELDS:  # the field's own digits; the sign is its constraint's
            return base.amount(cell, field=Project._meta.get_field(field))
        if field in DATE_FIELDS:
            return base.date(cell)
        if field in TEXT_FIELDS:
            return base.text(cell)
        if field == "capital_source":
            return base.choice(cell, self.sources)
        name = base.text(cell)
        if not name:
            return None
        if field == "commissioner":
            found = lookups.people.get(name, [])
            if len(found) > 1:
                raise CellError(
                    _("%(name)s names several commissioners; write “name · unit”.") % {"name": name}
                )
            if not found:
                raise CellError(_("No commissioner named %(name)s.") % {"name": name})
            return found[0]
        table = {
            "enterprise": (lookups.enterprises, _("No enterprise named %(name)s.")),
            "region": (lookups.regions, _("No region named %(name)s.")),
            "chain": (lookups.chains, _("No industry chain named %(name)s.")),
            "park": (lookups.parks, _("No park named %(name)s.")),
        }[field]
        found = table[0].get(name)
        if found is None:
            raise CellError(table[1] % {"name": name[:60]})
        return found

    def _stage(self, plan, row, current):
        """(target stage or "", effective date) asked by the row; errors to the plan."""
        target = ""
        if STAGE_HEADER in row.values and not base.blank(row.values[STAGE_HEADER]):
            try:
                target = base.choice(row.values[STAGE_HEADER], self.stages)
            except CellError as error:
                plan.error(row.number, STAGE_HEADER, error.message)
                return None, None
        on = self.today
        if not base.blank(row.values.get(STAGE_ON_HEADER)):
            try:
                on = base.date(row.values[STAGE_ON_HEADER])
            except CellError as error:
                plan.error(row.number, STAGE_ON_HEADER, error.message)
                return None, None
        return ("" if target == current else target), on

    def _model_errors(self, plan, row, error):
        for field, messages in error.message_dict.items():
            for message in messages:
                if field == NON_FIELD_ERRORS:
                    field = constraint_field(str(message), field)
                header = HEADER_OF.get(field, "" if field == NON_FIELD_ERRORS else field)
                plan.error(row.number, header, message)

    def _update_row(self, plan, row, project):
        if not permissions.may(self.by, permissions.EDIT, project):
            plan.error(
                row.number,
                KEY,
                _("You may not change project %(code)s: it is outside your scope.")
                % {"code": project.code},
            )
            return
        values, failed = self._cells(plan, row, project=project)
        target, on = self._stage(plan, row, project.stage)
        if target is None:
            failed = True
        changes = {f: v for f, v in values.items() if not _same(getattr(project, f), v)}
        override = permissions.may(self.by, permissions.MANAGE, project)
        for field in changes:
            if field not in projects_service.COMMON_FIELDS and not override:
                plan.error(
                    row.number,
                    HEADER_OF[field],
                    _("Only a city bureau manager can change this column."),
                )
                failed = True
        shown = [
            [HEADER_OF[f], self._shown(f, getattr(project, f)), self._shown(f, v)]
            for f, v in changes.items()
        ]
        if target:
            shown.append(
                [STAGE_HEADER, self.stages[project.stage], f"{self.stages[target]}（{on}）"]
            )
            error = rules.stage_move_error(
                current=project.stage,
                target=target,
                override=override,
                resume_stage=project.stage_before_stall()
                if project.stage == Stage.STALLED
                else None,
                on=on,
                today=self.today,
                signed_on=changes.get("signed_on", project.signed_on),
                last_on=self.last_on.get(project.pk),
            )
            if error:
                plan.error(row.number, STAGE_HEADER, error)
                failed = True
        if not failed and self._date_errors(
            plan, row, project, changes, target=target, on=on, override=override
        ):
            failed = True
        reason = base.reason(plan, row, REASON_HEADER, by=self.by, project=project)
        if changes:  # also beside other errors of the row: all of them at once
            try:
                services.check_edit(project, changes, by=self.by, reason=reason)
            except ValidationError as error:
                self._model_errors(plan, row, error)
        plan.add_row(
            row.number,
            code=project.code,
            action=UPDATE if (changes or target) else UNCHANGED,
            project=project.pk,
            version=project.version,
            data=changes,
            changes=shown,
            stage=target,
            stage_on=on.isoformat() if target else "",
            reason=reason,
        )

    def _create_row(self, plan, row, code):
        if not self.may_create:
            plan.error(
                row.number,
                KEY,
                _(
                    "There is no project %(code)s that you may change, and only a city "
                    "bureau manager adds projects."
                )
                % {"code": code},
            )
            return
        values, failed = self._cells(plan, row, project=None)
        values = {f: v for f, v in values.items() if v is not None and v != ""}
        target, on = self._stage(plan, row, Stage.SIGNED)
        if target is None:
            failed = True
        data = {"code": code, **values}
        project = Project(**data, stage=Stage.SIGNED)
        if not failed:
            try:
                project.full_clean()
            except ValidationError as error:
                self._model_errors(plan, row, error)
                failed = True
        if not failed and self._date_errors(
            plan,
            row,
            Project(stage=Stage.SIGNED, signed_on=project.signed_on),
            values,
            target=target,
            on=on,
            override=True,
            history=[(Stage.SIGNED, project.signed_on)],
        ):
            failed = True
        if target and not failed:
            error = rules.stage_move_error(
                current=Stage.SIGNED,
                target=target,
                override=True,  # a manager's own new project
                resume_stage=None,
                on=on,
                today=self.today,
                signed_on=project.signed_on,
                last_on=project.signed_on,
            )
            if error:
                plan.error(row.number, STAGE_HEADER, error)
        shown = [[HEADER_OF[f], "", self._shown(f, v)] for f, v in values.items()]
        if target:
            shown.append([STAGE_HEADER, "", f"{self.stages[target]}（{on}）"])
        plan.add_row(
            row.number,
            code=code,
            action=CREATE,
            project=None,
            version=None,
            data=data,
            changes=shown,
            stage=target,
            stage_on=on.isoformat() if target else "",
            reason="",
        )

    def _date_errors(self, plan, row, project, values, *, target, on, override, history=None):
        """Records the errors of the actual dates among ``values`` against the stage and its
        history (``rules.actual_date_errors``); whether there were any."""
        dates = {f: values[f] for f in ("actual_start_on", "actual_production_on") if f in values}
        if not dates:
            return False
        found = rules.actual_date_errors(
            project=project,
            changed=dates,
            target=target,
            effective_on=on,
            override=override,
            history=project.stage_history() if history is None else history,
        )
        for field, message in found:
            plan.error(row.number, HEADER_OF[field], message)
        return bool(found)

    def _shown(self, field, value):
        if field == "capital_source":
            return self.sources.get(value, value or "")
        if field == "commissioner":
            return value.display(with_unit=True) if value else ""
        if hasattr(value, "pk"):
            return str(getattr(value, "name", value))
        return base.shown(value)

    # --- applying --------------------------------------------------------------------
    def apply(self, plan, *, origin, progress=None):
        """Write the preview ``plan`` (no errors in it) in one transaction, or nothing:
        ``Stale`` when a row's project changed (or a new code appeared) since the preview;
        ValidationError / PermissionDenied when a rule refuses a row now."""
        rows = [r for r in plan["rows"] if r["action"] in (CREATE, UPDATE)]
        with transaction.atomic():
            self._refuse_stale(rows)
            decoded = self._decoded(rows)
            for index, (row, data) in enumerate(zip(rows, decoded, strict=True)):
                stage_on = datetime.date.fromisoformat(row["stage_on"]) if row["stage"] else None
                try:
                    if row["action"] == UPDATE:
                        services.update_project(
                            project_id=row["project"],
                            data=data,
                            expected_version=row["version"],
                            by=self.by,
                            stage=row["stage"] or None,
                            stage_on=stage_on,
                            reason=row["reason"],
                            origin=origin,
                        )
                    else:
                        project = projects_service.create_project(
                            data=data, by=self.by, origin=origin
                        )
                        if row["stage"]:
                            project.advance_to(row["stage"], on=stage_on, by=self.by, origin=origin)
                except locking.Conflict:
                    raise Stale([(row["row"], row["code"])]) from None
                except PermissionDenied:
                    messages = [_("You may not change this project.")]
                    raise ValidationError(
                        _("Row %(row)s (%(code)s): %(messages)s")
                        % {"row": row["row"], "code": row["code"], "messages": " ".join(messages)}
                    ) from None
                except ValidationError as error:
                    messages = error.messages
                    raise ValidationError(
                        _("Row %(row)s (%(code)s): %(messages)s")
                        % {"row": row["row"], "code": row["code"], "messages": " ".join(messages)}
                    ) from None
                if progress:
                    progress(index + 1, len(rows))
        return len(rows)

    def _refuse_stale(self, rows):
        updates = {r["project"]: r for r in rows if r["action"] == UPDATE}
        now = dict(Project.objects.filter(pk__in=updates).values_list("pk", "version"))
        stale = [(r["row"], r["code"]) for pk, r in updates.items() if now.get(pk) != r["version"]]
        new = {r["code"]: r for r in rows if r["action"] == CREATE}
        for code in Project.objects.filter(code__in=new).values_list("code", flat=True):
            stale.append((new[code]["row"], code))
        if stale:
            raise Stale(sorted(stale))

    def _decoded(self, rows):
        wanted = {name: set() for name in FK_MODELS}
        for row in rows:
            for name in FK_MODELS:
                if row["data"].get(name) is not None:
                    wanted[name].add(row["data"][name])
        objects = {
            name: Model.objects.in_bulk(wanted[name]) if wanted[name] else {}
            for name, Model in FK_MODELS.items()
        }
        decoded = []
        for row in rows:
            data = {}
            for name, value in row["data"].items():
                if name in FK_MODELS:
                    if value is not None and value not in objects[name]:
                        raise ValidationError(
                            _("Row %(row)s (%(code)s): %(messages)s")
                            % {
                                "row": row["row"],
                                "code": row["code"],
                                "messages": _("A record it names was deleted meanwhile."),
                            }
                        )
                    data[name] = None if value is None else objects[name][value]
                else:
                    data[name] = Project._meta.get_field(name).to_python(value)
            decoded.append(data)
        return decoded


def _same(current, new):
    if hasattr(current, "pk") or hasattr(new, "pk"):
        return getattr(current, "pk", None) == getattr(new, "pk", None)
    if isinstance(current, Decimal) or isinstance(new, Decimal):
        if current is None or new is None:
            return current is None and new is None
        return Decimal(current) == Decimal(new)
    return (current or None) == (new or None)


__all__ = ["ERROR", "ProjectImporter"]
