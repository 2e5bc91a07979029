"""Demo problems for the 链长制 problem ledger (local demo only, with the demo accounts).

Six illustrative problems, each title marked （示例）, in every state the ledger knows: raised,
assigned and overdue, extended, escalated, resolved and awaiting closure, closed. They are
made through the ledger's own services (so events and change history are real), dated
relative to the load date, and matched on their title: running the seed again adds nothing.
"""

import datetime

from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from tracker import problems as ledger
from tracker.choices import Role
from tracker.models import ChangeLog, IndustryChain, Problem, ProblemEvent, Project, User

SAMPLE = "（示例）"
DEMO_USERNAMES = ("manager", "yuanzhou", "zhangshu", "tepaiyuan", "lidian")
LEAD_CHAIN = "lithium"

# (title, target, raised by, raised days before the load date, description, steps)
# target: "lithium-yuanzhou-<n>" (n-th lithium project of 袁州区 by code), "zhangshu" (first
# project of 樟树市), "commissioned" (the commissioner's first project), "chain" (chain-wide).
# step: (action, by, days before the load date, keyword arguments; "deadline" in days
# relative to the load date).
SPECS = [
    (
        "项目用地指标尚未落实",
        "lithium-yuanzhou-0",
        "yuanzhou",
        40,
        "二期用地约120亩，指标需市级统筹。",
        [("assign", "lidian", 38, {"unit": "袁州区自然资源分局", "deadline": -10})],
    ),
    (
        "电力增容报装进度慢",
        "lithium-yuanzhou-1",
        "yuanzhou",
        30,
        "110千伏专线接入方案未批复，影响设备调试。",
        [
            ("assign", "lidian", 29, {"unit": "国网宜春供电公司", "deadline": -15}),
            ("extend", "lidian", 16, {"deadline": 20, "reason": "专线方案需省公司审批"}),
        ],
    ),
    (
        "锂电产业链隔膜配套企业缺失",
        "chain",
        "lidian",
        60,
        "电池企业隔膜全部外购，物流成本高。",
        [
            ("assign", "lidian", 59, {"unit": "市商务局", "deadline": -5}),
            ("escalate", "manager", 3, {"reason": "逾期未办结，列入督办"}),
        ],
    ),
    (
        "环评批复等待时间长",
        "zhangshu",
        "zhangshu",
        50,
        "",
        [
            ("assign", "manager", 48, {"unit": "市生态环境局樟树分局", "deadline": -20}),
            ("resolve", "zhangshu", 22, {"resolution": "已取得环评批复文件。"}),
            ("close", "manager", 18, {"note": "经核实已办结，予以销号。"}),
        ],
    ),
    (
        "厂房施工许可办理",
        "lithium-yuanzhou-0",
        "yuanzhou",
        20,
        "",
        [
            ("assign", "lidian", 19, {"unit": "袁州区住建局", "deadline": 10}),
            ("resolve", "yuanzhou", 2, {"resolution": "施工许可证已核发。"}),
        ],
    ),
    ("企业反映用工招聘困难", "commissioned", "tepaiyuan", 12, "一线操作工缺口约200人。", []),
]


def _targets():
    """target key → (project or None, chain); missing targets are left out."""
    chain = IndustryChain.objects.filter(code=LEAD_CHAIN).first()
    targets = {}
    if chain is not None:
        targets["chain"] = (None, chain)
        lithium = Project.objects.filter(chain=chain, region__code="yuanzhou").order_by("code")
        for n, project in enumerate(lithium[:2]):
            targets[f"lithium-yuanzhou-{n}"] = (project, None)
    first = Project.objects.filter(region__code="zhangshu").order_by("code").first()
    if first is not None:
        targets["zhangshu"] = (first, None)
    commissioned = (
        Project.objects.filter(
            commissioner__username="tepaiyuan", commissioner__role=Role.COMMISSIONER
        )
        .order_by("code")
        .first()
    )
    if commissioned is not None:
        targets["commissioned"] = (commissioned, None)
    return targets


def _backdate(problem, since, when):
    """Give the rows a step just wrote the simulated time of the step."""
    ProblemEvent.objects.filter(problem=problem, at__gte=since).update(at=when)
    ChangeLog.objects.filter(
        content_type=ContentType.objects.get_for_model(Problem),
        object_id=problem.pk,
        changed_at__gte=since,
    ).update(changed_at=when)


def load_demo_problems(*, today, summary=None):
    """Create the demo problems that are missing; returns how many were created."""
    users = {u.username: u for u in User.objects.filter(username__in=DEMO_USERNAMES)}
    if set(users) != set(DEMO_USERNAMES):
        return 0
    tz = timezone.get_current_timezone()
    targets = _targets()
    existing = set(Problem.objects.filter(title__endswith=SAMPLE).values_list("title", flat=True))
    # Never before the load date's year: the demo problems must not change a past year's
    # figures (the 2022 ledger is ``load_2022_problems``).
    floor = datetime.date(today.year, 1, 1)
    created = 0
    for title, target, raiser, raised_ago, description, steps in SPECS:
        title = title + SAMPLE
        if title in existing or target not in targets:
            continue
        project, chain = targets[target]
        day = max(today - datetime.timedelta(days=raised_ago), floor)
        since = timezone.now()
        problem = ledger.raise_problem(
            by=users[raiser],
            title=title,
            description=description,
            project=project,
            chain=chain,
            today=day,
        )
        _backdate(problem, since, datetime.datetime.combine(day, datetime.time(9), tzinfo=tz))
        for action, by, ago, kwargs in steps:
            day = max(today - datetime.timedelta(days=ago), floor)
            kwargs = dict(kwargs)
            if "deadline" in kwargs:
                kwargs["deadline"] = max(today + datetime.timedelta(days=kwargs["deadline"]), day)
            problem.refresh_from_db()
            since = timezone.now()
            ledger.SERVICES[action](
                problem_id=problem.pk,
                expected_version=problem.version,
                by=users[by],
                today=day,
                **kwargs,
            )
            when = datetime.datetime.combine(day, datetime.time(10), tzinfo=tz)
            _backdate(problem, since, when)
        created += 1
    if summary is not None and created:
        summary.note(Problem, created=created)
    return created


# --- the 2022 ledger -----------------------------------------------------------------------
# So that the 2022 monthly reports, dashboard and assessment have a problem-resolution rate
# to show: for every chain, a few problems raised against its 2022 projects during 2022, each
# assigned, most resolved and closed, some after their deadline, some still open at year end.
# (topic, unit handling it, days to the deadline)
TOPICS_2022 = [
    ("用地报批进度慢", "县(市、区)自然资源局", 45),
    ("电力增容报装待批复", "国网宜春供电公司", 30),
    ("环评审批时间长", "市生态环境局", 40),
    ("项目融资存在缺口", "市金融办", 60),
    ("关键设备到货延迟", "县(市、区)工信局", 30),
    ("一线用工招聘困难", "市人社局", 45),
    ("施工许可办理慢", "县(市、区)住建局", 20),
    ("园区配套道路未建成", "园区管委会", 90),
]
PER_CHAIN_2022 = 4


def _plan_2022(index):
    """(raised day, days to resolve or None, close?) for the index-th problem: deterministic."""
    raised = datetime.date(2022, 1 + (index * 5) % 11, 3 + (index * 7) % 24)
    pattern = index % 6
    if pattern == 5:
        return raised, None, False  # still open at year end
    days = (12, 25, 50, 35, 70)[pattern]  # 50 and 70 days: resolved after the deadline
    return raised, days, pattern != 3  # one in six resolved but not yet closed


def load_2022_problems(*, summary=None):
    """Create the 2022 ledger problems that are missing; returns how many were created."""
    users = {u.username: u for u in User.objects.filter(username__in=("manager", "lidian"))}
    if set(users) != {"manager", "lidian"}:
        return 0
    existing = set(Problem.objects.filter(title__endswith=SAMPLE).values_list("title", flat=True))
    tz = timezone.get_current_timezone()
    created = index = 0
    for chain in IndustryChain.objects.order_by("sort_order", "pk"):
        projects = list(
            Project.objects.filter(
                chain=chain, signed_on__year=2022, signed_on__lte="2022-06-30"
            ).order_by("code")[:PER_CHAIN_2022]
        )
        side = users["lidian"] if chain.code == LEAD_CHAIN else users["manager"]
        for project in projects:
            topic, unit, deadline_days = TOPICS_2022[index % len(TOPICS_2022)]
            raised, resolve_days, close = _plan_2022(index)
            index += 1
            raised = max(raised, project.signed_on)
            title = f"{project.code} {topic}{SAMPLE}"
            if title in existing:
                continue
            since = timezone.now()
            problem = ledger.raise_problem(
                by=side,
                title=title,
                project=project,
                today=raised,
                description="周调度中反映的问题，转入链长制问题清单。",
            )
            steps = [
                (
                    "assign",
                    raised + datetime.timedelta(days=2),
                    {"unit": unit, "deadline": raised + datetime.timedelta(days=deadline_days)},
                ),
            ]
            if resolve_days is not None:
                resolved = raised + datetime.timedelta(days=resolve_days)
                steps.append(("resolve", resolved, {"resolution": "已协调解决。"}))
                if close:
                    closed = resolved + datetime.timedelta(days=5)
                    steps.append(("close", closed, {"note": "经核实已办结，予以销号。"}))
            _backdate(
                problem, since, datetime.datetime.combine(raised, datetime.time(9), tzinfo=tz)
            )
            for action, day, kwargs in steps:
                problem.refresh_from_db()
                since = timezone.now()
                ledger.SERVICES[action](
                    problem_id=problem.pk,
                    expected_version=problem.version,
                    by=side,
                    today=day,
                    **kwargs,
                )
                _backdate(
                    problem, since, datetime.datetime.combine(day, datetime.time(10), tzinfo=tz)
                )
            created += 1
    if summary is not None and created:
        summary.note(Problem, created=created)
    return created
