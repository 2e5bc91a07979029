"""Demo data of the review cycle: 2022's quarterly inspections (示例) and assessment weights.

Three inspections per quarter of 2022, rotating over the ranked regions (the first of each
quarter about one project of the region), each with two or three rectification items in
various states: verified, done and waiting for verification, open and overdue, escalated.
All titles start with 示例 (illustrative). Deterministic and idempotent: an inspection is
matched on (year, quarter, region, title) and its items are only made with it.

The assessment's default weights (``tracker.assessments.ensure_default_weights``) are
created for 2022 and every later year up to the load date.
"""

import datetime

from tracker.assessments import ensure_default_weights
from tracker.choices import RectificationStatus, Role
from tracker.models import AssessmentWeight, Inspection, Project, RectificationItem, Region, User

YEAR = 2022
PER_QUARTER = 3
QUARTER_NAMES = {1: "第一季度", 2: "第二季度", 3: "第三季度", 4: "第四季度"}
LEADERS = ["市政府副市长", "市工信局局长", "市政府副秘书长", "市工信局副局长"]
FINDINGS = [
    "项目用地报批进度滞后，施工许可尚未办理；要素保障需加快协调。",
    "部分项目开工后施工力量不足，形象进度落后于序时进度。",
    "投产项目达产率不高，配套企业招引不到位。",
    "调度信息报送不及时，个别项目数据与现场不一致。",
]
ITEMS = [
    ("加快办理项目施工许可及用地手续", "县(市、区)自然资源局"),
    ("增加施工力量，倒排工期确保序时进度", "项目所在园区管委会"),
    ("核实周调度数据，建立专人报送制度", "县(市、区)工信局"),
    ("协调解决企业用电、用工问题", "县(市、区)发改委"),
]
# (status, escalated) of the items of each inspection, cycled: every state appears.
STATES = [
    [(RectificationStatus.VERIFIED, False), (RectificationStatus.DONE, False)],
    [(RectificationStatus.OPEN, True), (RectificationStatus.VERIFIED, False)],
    [
        (RectificationStatus.DONE, False),
        (RectificationStatus.OPEN, False),
        (RectificationStatus.VERIFIED, False),
    ],
]


def _inspection_day(quarter, n):
    return datetime.date(YEAR, 3 * quarter - 1, 8 + 7 * n)


def load_reviews(*, today, summary, with_samples=True):
    """Create the demo inspections (once, unless ``with_samples`` is off) and the default
    weights; returns nothing."""
    regions = list(Region.objects.filter(ranked_in_assessment=True).order_by("sort_order", "pk"))
    manager = User.objects.filter(role=Role.MANAGER, is_active=True).order_by("pk").first()
    created = items_created = 0
    if regions and with_samples:
        for quarter in range(1, 5):
            for n in range(PER_QUARTER):
                region = regions[((quarter - 1) * PER_QUARTER + n) % len(regions)]
                day = _inspection_day(quarter, n)
                if day > today:
                    continue
                project = None
                if n == 0:
                    project = (
                        Project.objects.filter(region=region, signed_on__lte=day)
                        .order_by("-signed_amount", "code")
                        .first()
                    )
                subject = f"{project.name}项目" if project else "重大工业项目"
                title = f"示例：{YEAR}年{QUARTER_NAMES[quarter]}{region.name}{subject}督查"
                inspection, made = Inspection.objects.get_or_create(
                    year=YEAR,
                    quarter=quarter,
                    region=region,
                    title=title[:200],
                    defaults={
                        "project": project,
                        "inspected_on": day,
                        "leader": LEADERS[(quarter + n) % len(LEADERS)],
                        "findings": "（示例）" + FINDINGS[(quarter + n) % len(FINDINGS)],
                        "created_by": manager,
                    },
                )
                if not made:
                    continue
                created += 1
                items_created += _make_items(inspection, quarter, n, manager)
    summary.note(Inspection, created=created)
    summary.note(RectificationItem, created=items_created)
    before = AssessmentWeight.objects.count()
    for year in range(YEAR, today.year + 1):
        ensure_default_weights(year)
    summary.note(AssessmentWeight, created=AssessmentWeight.objects.count() - before)


def _make_items(inspection, quarter, n, manager):
    rows = []
    for k, (status, escalated) in enumerate(STATES[(quarter + n) % len(STATES)]):
        description, unit = ITEMS[(quarter + n + k) % len(ITEMS)]
        deadline = inspection.inspected_on + datetime.timedelta(days=30 + 15 * k)
        item = RectificationItem(
            inspection=inspection,
            description=f"（示例）{description}",
            owner_unit=unit,
            deadline=deadline,
            status=status,
            escalated=escalated,
        )
        if status != RectificationStatus.OPEN:
            item.done_on = deadline - datetime.timedelta(days=5)
            item.done_note = "（示例）已按要求整改，附现场照片及相关手续。"
        if status == RectificationStatus.VERIFIED:
            item.verified_on = deadline
            item.verified_by = manager
        rows.append(item)
    RectificationItem.objects.bulk_create(rows)
    return len(rows)
