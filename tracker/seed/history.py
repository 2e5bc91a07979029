"""Synthetic, deterministic history for the project book: stage changes and weekly dispatches.

Pure functions, no database. Each project draws its whole future once, from random
generators seeded with its code only (``random.Random("<code>/plan")`` and
``"<code>/dispatch"``): first the dates of its stage changes (its fate: most projects walk
the main line about on plan, some are slow, a few stall for a while, stall for good or are
terminated), then one weekly report after another from the signing week on. The seed keeps
what happened up to the end of the last full ISO week before the load date. Because every
row is drawn in date order from the project's own generator, cutting the history at a later
date only adds rows: everything dated in 2022 is the same whatever the load date.
"""

import datetime
import random
from dataclasses import dataclass
from decimal import Decimal

from tracker.choices import Stage

DAY = datetime.timedelta(days=1)
WEEK = datetime.timedelta(days=7)

# Probabilities of each fate of a synthetic project (the real projects are "normal").
FATES = (
    ("normal", 0.80),
    ("slow", 0.10),
    ("stall_resume", 0.04),
    ("stall_forever", 0.03),
    ("terminated", 0.03),
)
# Share of the investment realised by production that is done when a stage is reached.
FRACTION = {
    Stage.SIGNED: Decimal("0"),
    Stage.REGISTERED: Decimal("0.005"),
    Stage.LAND: Decimal("0.06"),
    Stage.STARTED: Decimal("0.10"),
    Stage.COMPLETED: Decimal("0.85"),
    Stage.PRODUCTION: Decimal("1"),
}

PROGRESS = {
    Stage.SIGNED: [
        "项目已签约，正在办理企业注册手续",
        "已签约，正在对接项目落地事宜",
        "完成项目备案，推进公司注册",
    ],
    Stage.REGISTERED: [
        "已完成工商注册，正在办理用地手续",
        "公司已注册，正在开展环评、能评",
        "已注册，土地招拍挂准备中",
    ],
    Stage.LAND: [
        "土地已摘牌，正在开展场地平整",
        "已供地，施工图设计及施工许可办理中",
        "场地平整基本完成，准备开工",
    ],
    "started-early": ["桩基及基础施工中", "厂房基础施工", "土方开挖与基础施工"],
    "started-middle": [
        "主体钢结构厂房施工中",
        "主体结构施工，完成约{pct}%",
        "厂房主体建设中，完成约{pct}%",
    ],
    "started-late": [
        "主体厂房封顶，设备采购及进场",
        "厂房装修及配套工程施工",
        "设备基础及配套设施施工",
    ],
    Stage.COMPLETED: [
        "厂房已竣工，设备安装调试中",
        "设备安装完成，进入试生产准备",
        "竣工验收完成，生产线调试中",
    ],
    Stage.PRODUCTION: ["项目已建成投产", "已投产，产能逐步释放"],
    Stage.STALLED: ["项目暂停建设", "项目停工，等待企业资金到位", "项目暂缓推进"],
    Stage.TERMINATED: ["项目已终止，正在办理退出手续", "经研究，项目终止"],
}
PROBLEMS = [
    "用地报批手续办理较慢",
    "环评审批尚未完成",
    "施工用电增容待协调",
    "建筑工人短缺，施工进度偏慢",
    "企业融资到位较慢",
    "设备到货延迟",
    "配套道路尚未建成",
    "排污指标待落实",
    "用工招聘困难",
]
PROBLEMS_2022 = ["受疫情影响，物流运输受阻", "受疫情影响，设备安装人员无法到场"]
STALL_PROBLEMS = [
    "企业资金链紧张，建设暂停",
    "市场行情变化，企业暂缓投资",
    "企业股东调整，项目暂停",
    "上游原料价格波动，企业观望",
]


@dataclass(frozen=True)
class BookProject:
    code: str
    signed_on: datetime.date
    amount: Decimal  # 万元
    planned_start_on: datetime.date
    planned_production_on: datetime.date
    is_sample: bool = True


@dataclass(frozen=True)
class Step:
    """One stage change."""

    on: datetime.date
    from_stage: str
    to_stage: str


@dataclass(frozen=True)
class Report:
    """One weekly dispatch."""

    iso_year: int
    iso_week: int
    stage: str
    completed: Decimal
    progress: str
    problems: str
    filed_at: datetime.datetime
    is_late: bool

    @property
    def week_end(self):
        return datetime.date.fromisocalendar(self.iso_year, self.iso_week, 7)


@dataclass(frozen=True)
class State:
    """A project's derived fields at the end of the kept history."""

    stage: str
    actual_start_on: datetime.date | None
    actual_production_on: datetime.date | None
    completed_investment: Decimal
    annual_planned_investment: Decimal


def last_full_week_end(today):
    """The Sunday that ends the last full ISO week before ``today``."""
    return today - (today.weekday() + 1) * DAY


def _working_day(day, after):
    """The first Monday–Thursday on or after ``day`` and strictly after ``after``."""
    day = max(day, after + DAY)
    while day.weekday() > 3:
        day += DAY
    return day


def _days(rng, low, high):
    return datetime.timedelta(days=rng.randint(low, high))


def plan(project):
    """The project's whole (future-independent) history: its steps and realised investment.

    Returns ``(steps, target)``; ``target`` is the investment done by production (万元).
    """
    rng = random.Random(f"{project.code}/plan")
    roll = rng.random()
    fate = "normal"
    if project.is_sample:
        total = 0.0
        for name, probability in FATES:
            total += probability
            if roll < total:
                fate = name
                break
    signed = project.signed_on
    build = (project.planned_production_on - project.planned_start_on).days
    if fate == "slow":
        start = project.planned_start_on + _days(rng, 30, 240)
        construction = (build - 45) * rng.uniform(1.5, 5.0)
    else:
        start = project.planned_start_on + _days(rng, -25, 25)
        construction = (build - 45) * rng.uniform(0.9, 1.12)
    start = max(start, signed + 28 * DAY)
    lead = (start - signed).days
    registered = signed + datetime.timedelta(days=round(lead * rng.uniform(0.1, 0.3)))
    land = signed + datetime.timedelta(days=round(lead * rng.uniform(0.45, 0.85)))
    completed = start + datetime.timedelta(days=max(60, round(construction)))
    production = completed + _days(rng, 20, 75)
    main = [
        (Stage.REGISTERED, registered),
        (Stage.LAND, land),
        (Stage.STARTED, start),
        (Stage.COMPLETED, completed),
        (Stage.PRODUCTION, production),
    ]

    amount = project.amount
    if amount >= 1_000_000:  # the giants: the first phase is what gets built
        share = rng.uniform(0.3, 0.5)
    elif amount >= 200_000:
        share = rng.uniform(0.6, 0.95)
    else:
        share = rng.uniform(0.8, 1.0)
    target = (amount * Decimal(str(round(share, 3)))).quantize(Decimal("1"))

    # Side tracks, decided before any date is fixed so that the draws stay in one order.
    side_stage = rng.choice([Stage.LAND, Stage.STARTED])
    stall_at = rng.uniform(0.2, 0.6)
    stall_days = rng.randint(60, 300)
    forever_stage = rng.choice([Stage.REGISTERED, Stage.LAND, Stage.STARTED])
    end_stage = rng.choice([Stage.SIGNED, Stage.SIGNED, Stage.REGISTERED])
    stall_first = rng.random() < 0.7
    end_after = (rng.randint(60, 200), rng.randint(60, 300))

    steps = [Step(signed, "", Stage.SIGNED)]

    def add(stage, on):
        steps.append(Step(_working_day(on, steps[-1].on), steps[-1].to_stage, stage))

    if fate == "terminated":
        for stage, on in main:
            if Stage.order(stage) > Stage.order(end_stage):
                break
            add(stage, on)
        base = steps[-1].on
        if stall_first:
            add(Stage.STALLED, base + end_after[0] * DAY)
        add(Stage.TERMINATED, steps[-1].on + end_after[1] * DAY)
        return steps, target

    shift = datetime.timedelta(0)
    for index, (stage, on) in enumerate(main):
        add(stage, on + shift)
        following = main[index + 1][1] + shift if index + 1 < len(main) else None
        if fate == "stall_forever" and stage == forever_stage:
            add(Stage.STALLED, steps[-1].on + (following - steps[-1].on) * stall_at)
            return steps, target
        if fate == "stall_resume" and stage == side_stage:
            add(Stage.STALLED, steps[-1].on + (following - steps[-1].on) * stall_at)
            add(stage, steps[-1].on + stall_days * DAY)
            shift += steps[-1].on - steps[-2].on
    return steps, target


def stage_on(steps, day):
    """The stage in force at the end of ``day`` (steps are in date order)."""
    current = ""
    for step in steps:
        if step.on > day:
            break
        current = step.to_stage
    return current


def _next_main_step(steps, day, stage):
    order = Stage.order(stage)
    for step in steps:
        if step.on > day and Stage.order(step.to_stage) is not None:
            if Stage.order(step.to_stage) > order:
                return step
    return None


def _progress(rng, steps, day, stage):
    if stage == Stage.STARTED:
        started = max(s.on for s in steps if s.to_stage == Stage.STARTED and s.on <= day)
        done = _next_main_step(steps, day, stage)
        span = (done.on - started).days if done else 365
        elapsed = min(0.95, (day - started).days / max(span, 1))
        key = "started-early" if elapsed < 0.3 else "started-middle" if elapsed < 0.7 else None
        text = rng.choice(PROGRESS[key or "started-late"])
        return text.format(pct=max(5, int(elapsed * 20) * 5))
    return rng.choice(PROGRESS[stage])


def filing_time(rng, monday, tz):
    """When the week of ``monday`` was filed: mostly Thursday or Friday morning, 3 % late on
    Friday evening (two draws of ``rng``, in this order)."""
    roll = rng.random()
    minutes = rng.randint(0, 510)
    if roll < 0.03:  # late: Friday evening
        return datetime.datetime.combine(
            monday + 4 * DAY, datetime.time(18, 10), tz
        ) + datetime.timedelta(minutes=minutes // 2)
    if roll < 0.55:
        return datetime.datetime.combine(
            monday + 3 * DAY, datetime.time(9, 0), tz
        ) + datetime.timedelta(minutes=minutes)
    return datetime.datetime.combine(
        monday + 4 * DAY, datetime.time(8, 30), tz
    ) + datetime.timedelta(minutes=minutes + 20)


def reports(project, steps, target, *, until, deadline):
    """Weekly reports from the signing week to the week of production or termination.

    Only weeks that ended on or before ``until`` are produced. ``deadline`` is the weekly
    filing deadline as (ISO weekday, datetime.time, tzinfo); a report filed after it is late.
    """
    rng = random.Random(f"{project.code}/dispatch")
    weekday, deadline_time, tz = deadline
    last = steps[-1]
    final_monday = None
    if last.to_stage in (Stage.PRODUCTION, Stage.TERMINATED):
        final_monday = last.on - last.on.weekday() * DAY
    monday = project.signed_on - project.signed_on.weekday() * DAY
    completed = Decimal("0")
    rows = []
    while monday + 6 * DAY <= until and (final_monday is None or monday <= final_monday):
        filed_at = filing_time(rng, monday, tz)
        day = filed_at.date()
        stage = stage_on(steps, day)
        noise = Decimal(str(round(rng.uniform(0.5, 1.5), 3)))
        if stage == Stage.PRODUCTION:
            completed = max(completed, target)
        elif stage in FRACTION:
            following = _next_main_step(steps, day, stage)
            if following is not None:
                goal = FRACTION[following.to_stage] * target
                weeks_left = max(Decimal(1), Decimal((following.on - day).days) / 7)
                step = max(Decimal(0), goal - completed) / weeks_left * noise
                completed = (completed + step).quantize(Decimal("1"))
        completed = min(completed, project.amount)
        progress = _progress(rng, steps, day, stage)
        problem_roll = rng.random()
        problem = ""
        if stage == Stage.STALLED:
            problem = rng.choice(STALL_PROBLEMS)
        elif stage != Stage.PRODUCTION and stage != Stage.TERMINATED and problem_roll < 0.12:
            pool = PROBLEMS + (PROBLEMS_2022 if day.year == 2022 else [])
            problem = pool[int(problem_roll / 0.12 * len(pool))]
        due = datetime.datetime.combine(monday + (weekday - 1) * DAY, deadline_time, tz)
        iso = monday.isocalendar()
        rows.append(
            Report(
                iso_year=iso.year,
                iso_week=iso.week,
                stage=stage,
                completed=completed,
                progress=progress,
                problems=problem,
                filed_at=filed_at,
                is_late=filed_at > due,
            )
        )
        monday += WEEK
    return rows


def history(project, *, until, deadline, year_plan=None):
    """Steps and reports up to ``until`` and the project's state at that point.

    ``year_plan`` is the calendar year whose annual planned investment is wanted (the load
    date's year): the investment the project's own schedule puts into that ISO year, as the
    county would have planned it at the start of the year.
    """
    steps, target = plan(project)
    horizon = until
    if year_plan is not None:  # look ahead to the end of the plan year (same draws)
        horizon = max(until, datetime.date.fromisocalendar(year_plan + 1, 1, 1) - DAY)
    ahead = reports(project, steps, target, until=horizon, deadline=deadline)
    rows = [r for r in ahead if r.week_end <= until]
    kept = [s for s in steps if s.on <= until]
    annual = Decimal("0")
    if year_plan is not None:
        before = [r.completed for r in ahead if r.iso_year < year_plan]
        during = [r.completed for r in ahead if r.iso_year == year_plan]
        if during:
            planned = during[-1] - (before[-1] if before else Decimal(0))
            factor = random.Random(f"{project.code}/plan/{year_plan}").uniform(0.95, 1.15)
            annual = (planned * Decimal(str(round(factor, 3)))).quantize(Decimal("10"))
    started = [s.on for s in kept if s.to_stage in Stage.reached(Stage.STARTED)]
    production = [s.on for s in kept if s.to_stage == Stage.PRODUCTION]
    state = State(
        stage=kept[-1].to_stage,
        actual_start_on=started[0] if started else None,
        actual_production_on=production[0] if production else None,
        completed_investment=rows[-1].completed if rows else Decimal("0"),
        annual_planned_investment=annual,
    )
    return kept, rows, state
