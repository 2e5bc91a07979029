"""Province-scale data for measuring (``manage.py generate_scale_data``; DEBUG only).

Adds to the seed (the 2022 book and the demo accounts must be loaded): the counties of the
other ten cities of Jiangxi with a park each and a county clerk account each, and then
``projects`` illustrative projects (示例数据) across all regions and the ten chains, each with
its enterprise, its stage history, one weekly dispatch per week of the last ``weeks`` full
ISO weeks (from its signing week on; a terminated project stops reporting), problems in the
chain ledger and quarterly inspections with rectification items.

Shapes are the seed's: amounts in the 2022 book's bands (``living._amount``), planned dates
as the living demo plans them, the stage history drawn by the seed's own
``history.plan`` (fates: on plan, slow, stalled, terminated), cumulative investment that
never goes down and reaches the planned fraction at each stage. Nothing is signed before
2023, so no 2022 figure moves.

Deterministic: every project draws from ``random.Random("<seed>/<index>")``, ids are
assigned from the tables' current maximum, timestamps are derived from the dates; the same
seed on the same database state and load date writes the same rows.

Set-based: rows are written in chunks, with PostgreSQL's COPY (psycopg 3 ``cursor.copy``)
or, on SQLite, batched ``executemany`` INSERTs (``bulk_create`` would overwrite the
generated ``auto_now`` timestamps with the time of the run). On PostgreSQL the identity
sequences are moved past the written ids (``setval``) and the tables analysed.
"""

import bisect
import datetime
import random
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction

from tracker.choices import (
    CapitalSource,
    ProblemAction,
    ProblemStatus,
    RectificationStatus,
    RegionKind,
    Role,
    Stage,
)
from tracker.models import (
    Enterprise,
    IndustryChain,
    Inspection,
    Park,
    Problem,
    ProblemEvent,
    Project,
    RectificationItem,
    Region,
    StageChange,
    User,
    WeeklyDispatch,
)

from .history import (
    FRACTION,
    PROBLEMS,
    PROGRESS,
    STALL_PROBLEMS,
    BookProject,
    filing_time,
    last_full_week_end,
    plan,
)
from .living import BANDS, BUILD_MONTHS, IN_PARK, _amount
from .loader import dispatch_deadline, read_json
from .roles import ensure_role_groups
from .synthetic import CITY_LEADER, FOREIGN_CAP, SAMPLE_NOTE, credit_code, working_day

CODE_PREFIX = "GS"
FIRST_SIGNING = datetime.date(2023, 1, 2)  # nothing generated touches the 2022 book
SIGNING_YEARS_BEFORE = 3  # most projects were signed in the three years before the window
IN_WINDOW_SHARE = 0.2  # the rest inside the window
CHUNK = 2000  # projects per write
CREDIT_SERIAL_BASE = 5_000_000  # the seed's serials stay below 2,200,000
PROBLEM_SHARE = 0.03
COMMISSIONED_EVERY = 2000  # every 2000th project is served by the demo commissioner
DAY = datetime.timedelta(days=1)

# The other ten cities of Jiangxi: (code, name, admin code prefix, counties).
CITIES = [
    ("nanchang", "南昌市", "3601",
     "东湖区 西湖区 青云谱区 青山湖区 新建区 红谷滩区 南昌县 安义县 进贤县"),
    ("jingdezhen", "景德镇市", "3602", "昌江区 珠山区 浮梁县 乐平市"),
    ("pingxiang", "萍乡市", "3603", "安源区 湘东区 莲花县 上栗县 芦溪县"),
    ("jiujiang", "九江市", "3604",
     "濂溪区 浔阳区 柴桑区 武宁县 修水县 永修县 德安县 都昌县 湖口县 彭泽县 瑞昌市 "
     "共青城市 庐山市"),
    ("xinyu", "新余市", "3605", "渝水区 分宜县"),
    ("yingtan", "鹰潭市", "3606", "月湖区 余江区 贵溪市"),
    ("ganzhou", "赣州市", "3607",
     "章贡区 南康区 赣县区 信丰县 大余县 上犹县 崇义县 安远县 定南县 全南县 宁都县 于都县 "
     "兴国县 会昌县 寻乌县 石城县 瑞金市 龙南市"),
    ("jian", "吉安市", "3608",
     "吉州区 青原区 吉安县 吉水县 峡江县 新干县 永丰县 泰和县 遂川县 万安县 安福县 永新县 "
     "井冈山市"),
    ("fuzhou", "抚州市", "3610",
     "临川区 东乡区 南城县 黎川县 南丰县 崇仁县 乐安县 宜黄县 金溪县 资溪县 广昌县"),
    ("shangrao", "上饶市", "3611",
     "信州区 广丰区 广信区 玉山县 铅山县 横峰县 弋阳县 余干县 鄱阳县 万年县 婺源县 德兴市"),
]  # fmt: skip
SURNAMES = "王李张刘陈杨黄赵吴周徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国志文斌海燕红梅晓东"
INSPECTION_LEADER = "市政府分管副市长"


def _kind(name):
    if name.endswith("区"):
        return RegionKind.DISTRICT
    if name.endswith("市"):
        return RegionKind.CITY
    return RegionKind.COUNTY


def _person(rng):
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


@dataclass
class Counts:
    regions: int = 0
    parks: int = 0
    users: int = 0
    enterprises: int = 0
    projects: int = 0
    stage_changes: int = 0
    dispatches: int = 0
    problems: int = 0
    problem_events: int = 0
    inspections: int = 0
    rectification_items: int = 0
    window: tuple = ()
    extra: dict = field(default_factory=dict)


class NotReady(Exception):
    """The database is not ready for scale data (the message says why)."""


# --- writing ---------------------------------------------------------------------------------
class Writer:
    """Set-based inserts of plain tuples, with ids the caller assigned."""

    def __init__(self):
        self.pg = connection.vendor == "postgresql"
        self.written = set()

    def next_id(self, model):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT MAX(id) FROM {model._meta.db_table}")
            return (cursor.fetchone()[0] or 0) + 1

    def write(self, model, columns, rows):
        if not rows:
            return
        self.written.add(model)
        table = connection.ops.quote_name(model._meta.db_table)
        names = ", ".join(connection.ops.quote_name(c) for c in columns)
        with connection.cursor() as cursor:
            if self.pg:
                with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                return
            fields = [self._field(model, c) for c in columns]
            prepared = [
                [f.get_db_prep_save(v, connection) for f, v in zip(fields, row, strict=True)]
                for row in rows
            ]
            marks = ", ".join(["%s"] * len(columns))
            for start in range(0, len(prepared), 500):
                cursor.executemany(
                    f"INSERT INTO {table} ({names}) VALUES ({marks})",
                    prepared[start : start + 500],
                )

    @staticmethod
    def _field(model, column):
        for f in model._meta.concrete_fields:
            if f.column == column:
                return f
        raise KeyError(column)

    def finish(self):
        """Sequences past the written ids, and fresh planner statistics (PostgreSQL)."""
        if not self.pg:
            return
        with connection.cursor() as cursor:
            for model in self.written:
                table = model._meta.db_table
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                )


def analyse():
    """ANALYZE the written tables (outside the transaction, so the planner sees them)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in (Enterprise, Project, StageChange, WeeklyDispatch, Problem, Inspection):
            cursor.execute(f"ANALYZE {model._meta.db_table}")


# --- the generator ---------------------------------------------------------------------------
def check_ready():
    """Raise NotReady unless the seed's book and demo accounts are loaded and no scale data is."""
    if not settings.DEBUG:
        raise NotReady(
            "Scale data is illustrative and would count in the real figures: DEBUG is off, "
            "so nothing was generated. Run with DJANGO_DEBUG=1 on a scratch database."
        )
    if not Project.objects.filter(signed_on__year=2022).exists():
        raise NotReady(
            "The 2022 project book is not loaded: run `manage.py seed` first (scale data "
            "adds to it)."
        )
    if not User.objects.filter(role=Role.MANAGER, is_active=True).exists():
        raise NotReady(
            "The demo accounts are missing: run `manage.py seed` with DEBUG on (without "
            "--no-demo-users) first."
        )
    if Project.objects.filter(code__startswith=f"{CODE_PREFIX}-").exists():
        raise NotReady(
            "This database already holds generated scale data: use a fresh database "
            "(migrate, seed, then generate_scale_data)."
        )


def window_mondays(end, weeks):
    """The Mondays of the last ``weeks`` full ISO weeks ending on Sunday ``end``."""
    last = end - 6 * DAY
    return [last - 7 * DAY * k for k in reversed(range(weeks))]


class Generator:
    def __init__(self, *, projects, weeks, seed, today, progress=None):
        self.n = projects
        self.weeks = weeks
        self.seed = seed
        self.today = today
        self.end = last_full_week_end(today)
        self.mondays = window_mondays(self.end, weeks)
        self.progress = progress or (lambda done, total: None)
        self.tz = ZoneInfo(settings.TIME_ZONE)
        self.deadline = dispatch_deadline()
        self.counts = Counts(window=(self.mondays[0], self.end))
        self.writer = Writer()
        self.ratio = settings.TRACKER["MAX_COMPLETED_RATIO"]

    def moment(self, day, hour=17, minute=30):
        return datetime.datetime.combine(day, datetime.time(hour, minute), self.tz)

    # -- reference data: regions, parks, clerks --
    def reference(self):
        rng = random.Random(f"{self.seed}/reference")
        data = read_json("reference.json")
        admin = {r["code"]: r["admin_code"] for r in data["regions"]}
        order = Region.objects.order_by("-sort_order").values_list("sort_order", flat=True)[:1]
        sort_order = (order[0] if order else 0) + 1
        existing = set(Region.objects.values_list("code", flat=True))
        new_regions = []
        for city_code, _city, prefix, names in CITIES:
            for k, name in enumerate(names.split(), start=1):
                code = f"{city_code}-{k:02d}"
                admin[code] = f"{prefix}{k + 1:02d}"
                if code in existing:
                    continue
                new_regions.append(
                    Region(
                        code=code,
                        name=name,
                        kind=_kind(name),
                        ranked_in_assessment=True,
                        sort_order=sort_order,
                    )
                )
                sort_order += 1
        Region.objects.bulk_create(new_regions)
        self.counts.regions = len(new_regions)
        regions = list(Region.objects.order_by("sort_order", "code"))
        new_codes = {r.code for r in new_regions}
        parks = [Park(name=f"{r.name}工业园区", region=r) for r in regions if r.code in new_codes]
        Park.objects.bulk_create(parks)
        self.counts.parks = len(parks)
        self.parks = {}
        for park in Park.objects.order_by("name"):
            self.parks.setdefault(park.region_id, park.pk)

        # A county clerk for every new region (the demo has two for Yichun's counties).
        groups = ensure_role_groups()
        password = make_password(settings.DEMO_PASSWORD)
        clerks = [
            User(
                username=f"clerk-{r.code}",
                password=password,
                display_name=_person(rng),
                unit=f"{r.name}工业和信息化局",
                role=Role.COUNTY,
                region=r,
                date_joined=self.moment(self.mondays[0]),
            )
            for r in regions
            if r.code in new_codes
        ]
        User.objects.bulk_create(clerks)
        created = User.objects.filter(username__in=[c.username for c in clerks])
        groups[Role.COUNTY].user_set.add(*created)
        self.counts.users = len(clerks)
        self.clerk = dict(
            User.objects.filter(role=Role.COUNTY, region__isnull=False)
            .order_by("-id")
            .values_list("region_id", "pk")
        )
        self.manager = (
            User.objects.filter(role=Role.MANAGER, is_active=True).order_by("pk").first().pk
        )
        commissioner = User.objects.filter(role=Role.COMMISSIONER).order_by("pk").first()
        self.commissioner = commissioner.pk if commissioner else None

        self.regions = regions
        self.region_admin = {r.pk: admin.get(r.code, "360900") for r in regions}
        self.region_unit = {
            r.pk: next(
                (x["responsible_unit"] for x in data["regions"] if x["code"] == r.code),
                f"{r.name}工信局",
            )
            for r in regions
        }
        self.region_leader = {
            r.pk: next(
                (x["responsible_leader"] for x in data["regions"] if x["code"] == r.code),
                f"{r.name}政府分管副职",
            )
            for r in regions
        }
        # Regions drawn by weight (some counties are industrial centres), chains by the
        # fixture's weights in Yichun and by a drawn profile elsewhere.
        self.region_weights = [rng.uniform(0.4, 2.0) for _ in regions]
        chains = list(IndustryChain.objects.order_by("sort_order"))
        self.chains = chains
        by_code = {c["code"]: c for c in data["chains"]}
        self.chain_meta = {c.pk: by_code.get(c.code, {}) for c in chains}
        self.chain_weights = {}
        for r in regions:
            weights = [
                by_code.get(c.code, {}).get("region_weights", {}).get(r.code, 0) for c in chains
            ]
            if not any(weights):
                weights = [rng.uniform(0.2, 3.0) for _ in chains]
            self.chain_weights[r.pk] = weights

    # -- one project --
    def project(self, index, pid, rng):
        region = rng.choices(self.regions, weights=self.region_weights)[0]
        chain = rng.choices(self.chains, weights=self.chain_weights[region.pk])[0]
        meta = self.chain_meta[chain.pk]
        band = rng.choices([b for b, _ in BANDS], weights=[w for _, w in BANDS])[0]
        amount = Decimal(_amount(rng, band, chain.code == "lithium"))
        window_start = self.mondays[0]
        last_signing = self.end - 14 * DAY
        first = max(FIRST_SIGNING, window_start - 365 * SIGNING_YEARS_BEFORE * DAY)
        if window_start > first and rng.random() >= IN_WINDOW_SHARE:
            low, high = first, min(window_start, last_signing)
        else:
            low, high = max(first, window_start), last_signing
        high = max(low, high)
        signed = low + datetime.timedelta(days=rng.randint(0, (high - low).days))
        signed = working_day(signed)
        if signed > last_signing:
            signed = low
        planned_start = working_day(signed + datetime.timedelta(days=rng.randint(45, 150)))
        planned_production = working_day(
            planned_start + datetime.timedelta(days=30 * rng.randint(*BUILD_MONTHS[band]))
        )
        capital = CapitalSource.DOMESTIC
        roll = rng.random()
        if amount <= FOREIGN_CAP:
            capital = (
                CapitalSource.FOREIGN
                if roll < 0.04
                else CapitalSource.MIXED
                if roll < 0.09
                else CapitalSource.DOMESTIC
            )
        park = self.parks.get(region.pk) if rng.random() < IN_PARK else None
        code = f"{CODE_PREFIX}-{index:07d}"
        book = BookProject(code, signed, amount, planned_start, planned_production, True)
        steps, target = plan(book)
        kept = [s for s in steps if s.on <= self.end]
        product = rng.choice(meta.get("products") or ["工业"])
        word = rng.choice(meta.get("enterprise_words") or ["实业"])
        return {
            "pid": pid,
            "code": code,
            "region": region,
            "chain": chain,
            "band": band,
            "amount": amount,
            "signed": signed,
            "planned_start": planned_start,
            "planned_production": planned_production,
            "capital": capital,
            "park": park,
            "steps": steps,
            "kept": kept,
            "target": target,
            "product": product,
            "word": word,
        }

    @staticmethod
    def _fraction(main, day):
        """Share of the target done on ``day``: linear between the main-line steps."""
        dates = [on for on, _stage in main]
        i = bisect.bisect_right(dates, day) - 1
        if i < 0:
            return Decimal(0)
        on, stage = main[i]
        here = FRACTION[stage]
        if i + 1 >= len(main):
            return here
        nxt_on, nxt_stage = main[i + 1]
        span = (nxt_on - on).days or 1
        return here + (FRACTION[nxt_stage] - here) * Decimal((day - on).days) / Decimal(span)

    def reports(self, p, rng):
        """(iso_year, iso_week, stage, completed, progress, problems, filed_at, is_late)."""
        steps = p["kept"]
        dates = [s.on for s in steps]
        main = [(s.on, s.to_stage) for s in p["steps"] if s.to_stage in FRACTION]
        weekday, deadline_time, tz = self.deadline
        signed_monday = p["signed"] - p["signed"].weekday() * DAY
        terminated = next((s.on for s in steps if s.to_stage == Stage.TERMINATED), None)
        completed = Decimal(0)
        rows = []
        target = p["target"]
        for monday in self.mondays:
            if monday < signed_monday:
                continue
            if terminated and monday > terminated:
                break
            filed_at = filing_time(rng, monday, tz)
            day = filed_at.date()
            i = bisect.bisect_right(dates, day) - 1
            stage = steps[i].to_stage if i >= 0 else Stage.SIGNED
            if stage not in Stage.side_states():
                done = (target * self._fraction(main, day)).quantize(Decimal("1"))
                completed = min(max(completed, done), p["amount"])
            if stage == Stage.STARTED:
                text = rng.choice(PROGRESS["started-middle"]).format(pct=rng.randint(2, 18) * 5)
            else:
                text = rng.choice(PROGRESS[stage])
            problem = ""
            if stage == Stage.STALLED:
                problem = rng.choice(STALL_PROBLEMS)
            elif stage not in (Stage.PRODUCTION, Stage.TERMINATED) and rng.random() < 0.1:
                problem = rng.choice(PROBLEMS)
            due = datetime.datetime.combine(monday + (weekday - 1) * DAY, deadline_time, tz)
            iso = monday.isocalendar()
            rows.append(
                (iso.year, iso.week, stage, completed, text, problem, filed_at, filed_at > due)
            )
        return rows

    def annual_plan(self, p, rng):
        year = self.end.year
        main = [(s.on, s.to_stage) for s in p["steps"] if s.to_stage in FRACTION]
        if p["kept"][-1].to_stage in Stage.side_states():
            return Decimal(0)
        share = self._fraction(main, datetime.date(year, 12, 31)) - self._fraction(
            main, datetime.date(year, 1, 1)
        )
        factor = Decimal(str(round(rng.uniform(0.95, 1.15), 3)))
        return (p["target"] * share * factor).quantize(Decimal("10"))

    # -- the run --
    def run(self):
        self.reference()
        w = self.writer
        ids = {
            m: w.next_id(m)
            for m in (
                Enterprise,
                Project,
                StageChange,
                WeeklyDispatch,
                Problem,
                ProblemEvent,
                Inspection,
                RectificationItem,
            )
        }
        samples = {}  # region pk → [(signed_on, project id)] for the inspections
        done = 0
        self.progress(0, self.n)
        while done < self.n:
            size = min(CHUNK, self.n - done)
            enterprises, projects, changes, dispatches, problems, events = [], [], [], [], [], []
            for index in range(done + 1, done + size + 1):
                rng = random.Random(f"{self.seed}/{index}")
                pid = ids[Project]
                ids[Project] += 1
                p = self.project(index, pid, rng)
                eid = ids[Enterprise]
                ids[Enterprise] += 1
                registered = p["kept"][-1].to_stage != Stage.SIGNED or len(p["kept"]) > 1
                enterprises.append(
                    (
                        eid,
                        f"示例{p['word']}有限公司{p['code']}",
                        credit_code(self.region_admin[p["region"].pk], CREDIT_SERIAL_BASE + index)
                        if registered
                        else "",
                        p["region"].pk,
                        p["chain"].pk,
                        p["band"] != "small" and rng.random() < 0.5,
                        True,
                    )
                )
                reports = self.reports(p, rng)
                kept = p["kept"]
                started = [s.on for s in kept if s.to_stage in Stage.reached(Stage.STARTED)]
                production = [s.on for s in kept if s.to_stage == Stage.PRODUCTION]
                completed = reports[-1][3] if reports else Decimal(0)
                clerk = self.clerk.get(p["region"].pk)
                commissioner = self.commissioner if index % COMMISSIONED_EVERY == 0 else None
                leader = CITY_LEADER if p["band"] == "big" else self.region_leader[p["region"].pk]
                projects.append(
                    (
                        pid,
                        p["code"],
                        f"示例{p['product']}项目{p['code']}",
                        eid,
                        p["region"].pk,
                        p["park"],
                        p["chain"].pk,
                        p["capital"].value,
                        p["signed"],
                        p["amount"],
                        p["planned_start"],
                        p["planned_production"],
                        started[0] if started else None,
                        production[0] if production else None,
                        self.annual_plan(p, rng),
                        completed,
                        kept[-1].to_stage,
                        leader,
                        self.region_unit[p["region"].pk],
                        commissioner,
                        SAMPLE_NOTE,
                        True,
                        1,
                        self.moment(p["signed"]),
                        self.moment(self.end),
                    )
                )
                for s in kept:
                    changes.append(
                        (
                            ids[StageChange],
                            pid,
                            s.from_stage,
                            s.to_stage,
                            s.on,
                            None,
                            self.moment(s.on),
                            "",
                        )
                    )
                    ids[StageChange] += 1
                for r in reports:
                    dispatches.append((ids[WeeklyDispatch], pid, *r, clerk, 1))
                    ids[WeeklyDispatch] += 1
                if rng.random() < PROBLEM_SHARE:
                    self.problem(p, rng, ids, problems, events, clerk)
                samples.setdefault(p["region"].pk, []).append((p["signed"], pid))
            w.write(
                Enterprise,
                ["id", "name", "credit_code", "region_id", "chain_id", "above_scale", "is_sample"],
                enterprises,
            )
            w.write(Project, PROJECT_COLUMNS, projects)
            w.write(StageChange, CHANGE_COLUMNS, changes)
            w.write(WeeklyDispatch, DISPATCH_COLUMNS, dispatches)
            w.write(Problem, PROBLEM_COLUMNS, problems)
            w.write(ProblemEvent, EVENT_COLUMNS, events)
            c = self.counts
            c.enterprises += len(enterprises)
            c.projects += len(projects)
            c.stage_changes += len(changes)
            c.dispatches += len(dispatches)
            c.problems += len(problems)
            c.problem_events += len(events)
            done += size
            self.progress(done, self.n)
        self.inspections(samples, ids)
        w.finish()
        return self.counts

    def problem(self, p, rng, ids, problems, events, clerk):
        first = max(p["signed"], self.mondays[0])
        if first >= self.end:
            return
        raised = first + datetime.timedelta(days=rng.randint(0, (self.end - first).days))
        by = clerk or self.manager
        roll = rng.random()
        status = (
            ProblemStatus.RAISED
            if roll < 0.2
            else ProblemStatus.ASSIGNED
            if roll < 0.55
            else ProblemStatus.RESOLVED
            if roll < 0.7
            else ProblemStatus.CLOSED
        )
        unit = self.region_unit[p["region"].pk]
        deadline = None
        assigned_on = resolved_on = closed_on = None
        if status != ProblemStatus.RAISED:
            assigned_on = raised + datetime.timedelta(days=rng.randint(0, 5))
            deadline = assigned_on + datetime.timedelta(days=rng.randint(14, 90))
        if status in (ProblemStatus.RESOLVED, ProblemStatus.CLOSED):
            resolved_on = assigned_on + datetime.timedelta(days=rng.randint(3, 60))
            closed_on = resolved_on + datetime.timedelta(days=rng.randint(1, 14))
            if closed_on > self.end:  # not that far yet: still assigned
                status, resolved_on, closed_on = ProblemStatus.ASSIGNED, None, None
            elif status == ProblemStatus.RESOLVED:
                closed_on = None
        if assigned_on and assigned_on > self.end:
            assigned_on = self.end
        title = rng.choice(PROBLEMS)
        pid = ids[Problem]
        ids[Problem] += 1
        problems.append(
            (
                pid,
                p["chain"].pk,
                p["pid"],
                p["region"].pk,
                title,
                f"{p['code']}：{title}（示例）",
                status.value,
                unit if status != ProblemStatus.RAISED else "",
                deadline,
                "已协调解决。" if resolved_on else "",
                by,
                raised,
                resolved_on,
                closed_on,
                False,
                None,
                1,
            )
        )
        steps = [(ProblemAction.RAISE, "", ProblemStatus.RAISED, raised, by)]
        if assigned_on:
            steps.append(
                (ProblemAction.ASSIGN, ProblemStatus.RAISED, ProblemStatus.ASSIGNED, assigned_on,
                 self.manager)
            )  # fmt: skip
        if resolved_on:
            steps.append(
                (ProblemAction.RESOLVE, ProblemStatus.ASSIGNED, ProblemStatus.RESOLVED,
                 resolved_on, by)
            )  # fmt: skip
        if closed_on:
            steps.append(
                (ProblemAction.CLOSE, ProblemStatus.RESOLVED, ProblemStatus.CLOSED, closed_on,
                 self.manager)
            )  # fmt: skip
        for action, before, after, on, who in steps:
            events.append(
                (ids[ProblemEvent], pid, action.value, before, after, None,
                 deadline if action == ProblemAction.ASSIGN else None, "", who,
                 self.moment(on, 10, 0))
            )  # fmt: skip
            ids[ProblemEvent] += 1

    def inspections(self, samples, ids):
        """One inspection per region and quarter of the window, two rectification items each."""
        quarters = sorted(
            {(m.year, (m.month - 1) // 3 + 1) for m in self.mondays},
        )
        inspections, items = [], []
        for region in self.regions:
            rng = random.Random(f"{self.seed}/inspection/{region.code}")
            pool = sorted(samples.get(region.pk, []))
            for year, quarter in quarters:
                first_day = datetime.date(year, quarter * 3 - 2, 1)
                last_day = datetime.date(year + quarter // 4, quarter * 3 % 12 + 1, 1) - DAY
                low, high = max(first_day, self.mondays[0]), min(last_day, self.end)
                if low > high:
                    continue
                day = low + datetime.timedelta(days=rng.randint(0, (high - low).days))
                if working_day(day) <= high:
                    day = working_day(day)
                signed = [pid for on, pid in pool if on <= day]
                project = rng.choice(signed) if signed and rng.random() < 0.5 else None
                iid = ids[Inspection]
                ids[Inspection] += 1
                inspections.append(
                    (iid, year, quarter, region.pk, project,
                     f"{year}年第{quarter}季度{region.name}重大项目督查（示例）", day,
                     INSPECTION_LEADER, "项目推进总体有序，部分项目要素保障需加强。（示例）",
                     self.manager, self.moment(day))
                )  # fmt: skip
                for n in range(2):
                    deadline = day + datetime.timedelta(days=rng.randint(20, 60))
                    status = rng.choice(list(RectificationStatus))
                    done_on = verified_on = None
                    if status != RectificationStatus.OPEN:
                        done_on = day + datetime.timedelta(days=rng.randint(5, 40))
                        if done_on > self.end:
                            status, done_on = RectificationStatus.OPEN, None
                    if status == RectificationStatus.VERIFIED:
                        verified_on = done_on + datetime.timedelta(days=rng.randint(1, 10))
                        if verified_on > self.end:
                            status, verified_on = RectificationStatus.DONE, None
                    items.append(
                        (ids[RectificationItem], iid,
                         ["要素保障问题需加快协调解决", "项目建设进度滞后需制定赶工计划"][n],
                         self.region_unit[region.pk], deadline, status.value, done_on,
                         "已整改到位。" if done_on else "", verified_on,
                         self.manager if verified_on else None, False, None)
                    )  # fmt: skip
                    ids[RectificationItem] += 1
        self.writer.write(Inspection, INSPECTION_COLUMNS, inspections)
        self.writer.write(RectificationItem, ITEM_COLUMNS, items)
        self.counts.inspections = len(inspections)
        self.counts.rectification_items = len(items)


PROJECT_COLUMNS = [
    "id", "code", "name", "enterprise_id", "region_id", "park_id", "chain_id", "capital_source",
    "signed_on", "signed_amount", "planned_start_on", "planned_production_on", "actual_start_on",
    "actual_production_on", "annual_planned_investment", "completed_investment", "stage",
    "responsible_leader", "responsible_unit", "commissioner_id", "notes", "is_sample", "version",
    "created_at", "updated_at",
]  # fmt: skip
CHANGE_COLUMNS = [
    "id", "project_id", "from_stage", "to_stage", "effective_on", "changed_by_id", "recorded_at",
    "note",
]  # fmt: skip
DISPATCH_COLUMNS = [
    "id", "project_id", "iso_year", "iso_week", "stage", "completed_investment", "progress",
    "problems", "filed_at", "is_late", "filed_by_id", "version",
]  # fmt: skip
PROBLEM_COLUMNS = [
    "id", "chain_id", "project_id", "region_id", "title", "description", "status",
    "assigned_unit", "deadline", "resolution", "raised_by_id", "raised_on", "resolved_on",
    "closed_on", "escalated", "overdue_since", "version",
]  # fmt: skip
EVENT_COLUMNS = [
    "id", "problem_id", "action", "from_status", "to_status", "old_deadline", "new_deadline",
    "note", "by_id", "at",
]  # fmt: skip
INSPECTION_COLUMNS = [
    "id", "year", "quarter", "region_id", "project_id", "title", "inspected_on", "leader",
    "findings", "created_by_id", "created_at",
]  # fmt: skip
ITEM_COLUMNS = [
    "id", "inspection_id", "description", "owner_unit", "deadline", "status", "done_on",
    "done_note", "verified_on", "verified_by_id", "escalated", "overdue_since",
]  # fmt: skip


def generate(*, projects, weeks, seed=0, today, progress=None):
    """Generate the scale data in one transaction; returns the Counts. Raises NotReady."""
    check_ready()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for model in (Enterprise, Project, StageChange, WeeklyDispatch, Problem,
                              ProblemEvent, Inspection, RectificationItem):  # fmt: skip
                    cursor.execute(f"LOCK TABLE {model._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")
        counts = Generator(
            projects=projects, weeks=weeks, seed=seed, today=today, progress=progress
        ).run()
    analyse()
    return counts
