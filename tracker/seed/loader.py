"""Loading fixtures/ into the database: idempotent, and fast enough to run on every start.

Reference data (regions, parks, chains, leaders, anchor enterprises, indicators) is matched
on its natural key and brought to the fixture's values; a row is saved only when a value
differs, so a second run writes nothing.

The project book is loaded once: an existing project keeps its own fields. Its history
(stage changes, weekly dispatches and the fields derived from them) is extended up to the
last full ISO week before the load date, but only while nobody has worked on the project in
the app: its version is still 1, its stage changes are the start of the generated ones and
its dispatches are all seed-made. Otherwise the project is left alone ("kept"); history
loaded earlier for a later load date is never cut back either ("ahead").
"""

import csv
import datetime
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from tracker.choices import Stage
from tracker.models import (
    AnnualIndicator,
    ChainLeader,
    Enterprise,
    IndustryChain,
    Park,
    Project,
    Region,
    StageChange,
    WeeklyDispatch,
)
from tracker.projects_service import signing_change

from .history import BookProject, State, Step, history, last_full_week_end

FIXTURES_DIR = Path(settings.BASE_DIR) / "fixtures"
BATCH = 2000
STATE_FIELDS = [
    "stage",
    "actual_start_on",
    "actual_production_on",
    "completed_investment",
    "annual_planned_investment",
]


def _recorded_at(step, tz):
    return datetime.datetime.combine(step.on, datetime.time(17, 30), tz)


def read_json(name):
    return json.loads((FIXTURES_DIR / name).read_text(encoding="utf-8"))


def read_book():
    with (FIXTURES_DIR / "projects.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@dataclass
class Summary:
    created: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)
    kept_projects: list = field(default_factory=list)  # changed in the app: left alone
    ahead_projects: list = field(default_factory=list)  # history already past the load date

    def note(self, model, *, created=0, updated=0):
        name = model._meta.verbose_name_plural
        self.created[str(name)] += created
        self.updated[str(name)] += updated


@dataclass
class Reference:
    regions: dict
    parks: dict
    chains: dict
    enterprises: dict


def upsert(model, lookup, values, summary):
    """Get the row by ``lookup`` and bring ``values`` to the given values; save only changes."""
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        summary.note(model, created=1)
        return model.objects.create(**lookup, **values)
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    if changed:
        for name in changed:
            setattr(obj, name, values[name])
        obj.save(update_fields=changed)
        summary.note(model, updated=1)
    return obj


def load_reference(summary):
    data = read_json("reference.json")
    regions = {}
    for r in data["regions"]:
        regions[r["code"]] = upsert(
            Region,
            {"code": r["code"]},
            {
                "name": r["name"],
                "kind": r["kind"],
                "ranked_in_assessment": r["ranked_in_assessment"],
                "sort_order": r["sort_order"],
            },
            summary,
        )
    parks = {
        p["name"]: upsert(
            Park, {"name": p["name"]}, {"region_id": regions[p["region"]].pk}, summary
        )
        for p in data["parks"]
    }
    chains = {}
    for c in data["chains"]:
        chain = upsert(
            IndustryChain,
            {"code": c["code"]},
            {
                "name": c["name"],
                "emerging": c["emerging"],
                "is_leading": c["is_leading"],
                "lead_unit": c["lead_unit"],
                "sort_order": c["sort_order"],
            },
            summary,
        )
        for order, leader in enumerate(c["leaders"], start=1):
            upsert(
                ChainLeader,
                {"chain": chain, "position": leader["position"], "title": leader["title"]},
                {"sort_order": order},
                summary,
            )
        chains[c["code"]] = chain
    enterprises = {}
    for e in data["enterprises"]:
        enterprises[e["name"]] = upsert(
            Enterprise,
            {"name": e["name"]},
            {
                "region_id": regions[e["region"]].pk,
                "chain_id": chains[e["chain"]].pk,
                "above_scale": e["above_scale"],
                "is_sample": False,
            },
            summary,
        )
    for c in data["chains"]:
        chain = chains[c["code"]]
        have = set(chain.anchor_enterprises.values_list("name", flat=True))
        missing = [enterprises[name] for name in c["anchors"] if name not in have]
        if missing:
            chain.anchor_enterprises.add(*missing)
    return Reference(regions, parks, chains, enterprises)


def load_indicators(summary):
    data = read_json("indicators_2022.json")
    for order, i in enumerate(data["indicators"], start=1):
        upsert(
            AnnualIndicator,
            {"year": data["year"], "key": i["key"]},
            {
                "name": i["name"],
                "value": None if i["value"] is None else Decimal(i["value"]),
                "unit": i["unit"],
                "growth": None if i["growth"] is None else Decimal(i["growth"]),
                "growth_unit": i["growth_unit"],
                "provincial_rank": i["provincial_rank"],
                "note": i["note"],
                "source": data["source"],
                "sort_order": order,
            },
            summary,
        )


def dispatch_deadline():
    """(ISO weekday, time, tz) of the weekly filing deadline, from settings.TRACKER."""
    conf = settings.TRACKER
    hour, minute = (int(part) for part in conf["DISPATCH_DEADLINE_TIME"].split(":"))
    return (
        int(conf["DISPATCH_DEADLINE_WEEKDAY"]),
        datetime.time(hour, minute),
        ZoneInfo(settings.TIME_ZONE),
    )


def _book_project(row):
    return BookProject(
        code=row["code"],
        signed_on=datetime.date.fromisoformat(row["signed_on"]),
        amount=Decimal(row["signed_amount"]),
        planned_start_on=datetime.date.fromisoformat(row["planned_start_on"]),
        planned_production_on=datetime.date.fromisoformat(row["planned_production_on"]),
        is_sample=row["is_sample"] == "1",
    )


def _generate(entry, *, today, with_history):
    if not with_history:
        zero = Decimal("0")
        steps = [Step(entry.signed_on, "", Stage.SIGNED)]
        return steps, [], State(Stage.SIGNED, None, None, zero, zero)
    return history(
        entry,
        until=last_full_week_end(today),
        deadline=dispatch_deadline(),
        year_plan=today.year,
    )


def _reached(steps, stage):
    return any(s.to_stage in Stage.reached(stage) for s in steps)


def load_book(ref, *, today, with_history, summary, rows=None):
    """Create missing enterprises and projects, then extend each untouched project's history.

    ``rows`` are project rows in the columns of projects.csv (default: the 2022 book read from
    it); ``tracker.seed.living`` passes the demo's later signings the same way.
    """
    if rows is None:
        rows = read_book()
    generated = {}
    for row in rows:
        generated[row["code"]] = _generate(
            _book_project(row), today=today, with_history=with_history
        )

    # Enterprises of the synthetic projects (the real ones come from reference.json).
    existing = {
        e.name: e for e in Enterprise.objects.filter(name__in=[r["enterprise"] for r in rows])
    }
    new = []
    for row in rows:
        if row["enterprise"] in existing or row["is_sample"] != "1":
            continue
        steps, _reports, state = generated[row["code"]]
        new.append(
            Enterprise(
                name=row["enterprise"],
                credit_code=row["enterprise_credit_code"]
                if _reached(steps, Stage.REGISTERED)
                else "",
                region=ref.regions[row["region"]],
                chain=ref.chains[row["chain"]],
                above_scale=state.actual_production_on is not None,
                is_sample=True,
            )
        )
    Enterprise.objects.bulk_create(new, batch_size=BATCH)
    summary.note(Enterprise, created=len(new))
    enterprises = {
        e.name: e for e in Enterprise.objects.filter(name__in=[r["enterprise"] for r in rows])
    }
    unknown = sorted({r["enterprise"] for r in rows} - set(enterprises))
    if unknown:
        raise ValueError(f"projects.csv names enterprises missing from reference.json: {unknown}")

    # Projects: created once with the book's values.
    codes = [r["code"] for r in rows]
    have = set(Project.objects.filter(code__in=codes).values_list("code", flat=True))
    new = []
    for row in rows:
        if row["code"] in have:
            continue
        state = generated[row["code"]][2]
        new.append(
            Project(
                code=row["code"],
                name=row["name"],
                enterprise=enterprises[row["enterprise"]],
                region=ref.regions[row["region"]],
                park=ref.parks[row["park"]] if row["park"] else None,
                chain=ref.chains[row["chain"]],
                capital_source=row["capital_source"],
                signed_on=datetime.date.fromisoformat(row["signed_on"]),
                signed_amount=Decimal(row["signed_amount"]),
                planned_start_on=datetime.date.fromisoformat(row["planned_start_on"]),
                planned_production_on=datetime.date.fromisoformat(row["planned_production_on"]),
                responsible_leader=row["responsible_leader"],
                responsible_unit=row["responsible_unit"],
                notes=row["notes"],
                is_sample=row["is_sample"] == "1",
                **{name: getattr(state, name) for name in STATE_FIELDS},
            )
        )
    Project.objects.bulk_create(new, batch_size=BATCH)
    summary.note(Project, created=len(new))

    projects = {p.code: p for p in Project.objects.filter(code__in=codes)}
    ids = [p.pk for p in projects.values()]
    have_steps = defaultdict(list)
    for project_id, *step in (
        StageChange.objects.filter(project_id__in=ids)
        .order_by("project_id", "effective_on", "id")
        .values_list("project_id", "from_stage", "to_stage", "effective_on")
    ):
        have_steps[project_id].append(tuple(step))
    have_reports = defaultdict(dict)
    for project_id, year, week, filed_by in WeeklyDispatch.objects.filter(
        project_id__in=ids
    ).values_list("project_id", "iso_year", "iso_week", "filed_by_id"):
        have_reports[project_id][(year, week)] = filed_by

    # A load date before the one loaded last leaves all history as it is: no project's
    # history or plan goes back in time, not even one that had nothing more to add.
    loaded_until = max(
        (
            datetime.date.fromisocalendar(year, week, 7)
            for weeks in have_reports.values()
            for year, week in weeks
        ),
        default=None,
    )
    behind = loaded_until is not None and loaded_until > last_full_week_end(today)

    tz = ZoneInfo(settings.TIME_ZONE)
    new_steps, new_reports, changed_projects, changed_enterprises = [], [], [], []
    now = timezone.now()
    for row in rows:
        project = projects[row["code"]]
        steps, reports, state = generated[row["code"]]
        wanted_steps = [(s.from_stage, s.to_stage, s.on) for s in steps]
        wanted_weeks = {(r.iso_year, r.iso_week) for r in reports}
        got_steps = have_steps[project.pk]
        got_reports = have_reports[project.pk]
        if behind and got_steps:
            summary.ahead_projects.append(project.code)
            continue
        seed_made = project.version == 1 and all(by is None for by in got_reports.values())
        if not (
            seed_made
            and got_steps == wanted_steps[: len(got_steps)]
            and wanted_weeks.issuperset(got_reports)
        ):
            if (
                seed_made
                and wanted_steps == got_steps[: len(wanted_steps)]
                and wanted_weeks.issubset(got_reports)
            ):
                summary.ahead_projects.append(project.code)  # loaded for a later date before
            else:
                summary.kept_projects.append(project.code)
            continue
        new_steps += [
            # The first step is the signing, as for a project created in the app.
            signing_change(project, recorded_at=_recorded_at(s, tz))
            if s.from_stage == ""
            else StageChange(
                project=project,
                from_stage=s.from_stage,
                to_stage=s.to_stage,
                effective_on=s.on,
                recorded_at=_recorded_at(s, tz),
            )
            for s in steps[len(got_steps) :]
        ]
        new_reports += [
            WeeklyDispatch(
                project=project,
                iso_year=r.iso_year,
                iso_week=r.iso_week,
                stage=r.stage,
                completed_investment=r.completed,
                progress=r.progress,
                problems=r.problems,
                filed_at=r.filed_at,
                is_late=r.is_late,
            )
            for r in reports
            if (r.iso_year, r.iso_week) not in got_reports
        ]
        differs = [n for n in STATE_FIELDS if getattr(project, n) != getattr(state, n)]
        if differs:
            for name in STATE_FIELDS:
                setattr(project, name, getattr(state, name))
            project.updated_at = now
            changed_projects.append(project)
        if row["is_sample"] == "1":
            enterprise = enterprises[row["enterprise"]]
            changes = False
            if not enterprise.credit_code and _reached(steps, Stage.REGISTERED):
                enterprise.credit_code = row["enterprise_credit_code"]
                changes = True
            if not enterprise.above_scale and state.actual_production_on is not None:
                enterprise.above_scale = True
                changes = True
            if changes:
                changed_enterprises.append(enterprise)

    StageChange.objects.bulk_create(new_steps, batch_size=BATCH)
    WeeklyDispatch.objects.bulk_create(new_reports, batch_size=BATCH)
    Project.objects.bulk_update(changed_projects, [*STATE_FIELDS, "updated_at"], batch_size=BATCH)
    Enterprise.objects.bulk_update(
        changed_enterprises, ["credit_code", "above_scale"], batch_size=BATCH
    )
    summary.note(StageChange, created=len(new_steps))
    summary.note(WeeklyDispatch, created=len(new_reports))
    summary.note(Project, updated=len(changed_projects))
    summary.note(Enterprise, updated=len(changed_enterprises))
    return projects
