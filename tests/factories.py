"""Plain factory functions: each makes a valid object with sensible defaults."""

import datetime
import itertools
from decimal import Decimal

from tracker.choices import RegionKind, Role, Stage
from tracker.models import (
    Enterprise,
    IndustryChain,
    Job,
    JobFilePart,
    JobKind,
    JobState,
    Park,
    Project,
    Region,
    StageChange,
    User,
    WeeklyDispatch,
)
from tracker.validators import CREDIT_CODE_ALPHABET, credit_code_check_char

_seq = itertools.count(1)
PASSWORD = "Factory-pass-2022"


def credit_code(n=None):
    n = next(_seq) if n is None else n
    body = "91360900" + "".join(CREDIT_CODE_ALPHABET[(n // 31**i) % 31] for i in range(9))
    return body + credit_code_check_char(body)


def region(**kw):
    n = next(_seq)
    kw.setdefault("code", f"region-{n}")
    kw.setdefault("name", f"测试区{n}")
    kw.setdefault("kind", RegionKind.COUNTY)
    return Region.objects.create(**kw)


def park(**kw):
    n = next(_seq)
    kw.setdefault("name", f"测试园区{n}")
    if "region" not in kw:
        kw["region"] = region()
    return Park.objects.create(**kw)


def chain(**kw):
    n = next(_seq)
    kw.setdefault("code", f"chain-{n}")
    kw.setdefault("name", f"测试产业链{n}")
    return IndustryChain.objects.create(**kw)


def enterprise(**kw):
    n = next(_seq)
    kw.setdefault("name", f"测试企业{n}有限公司")
    kw.setdefault("credit_code", credit_code(n))
    if "region" not in kw:
        kw["region"] = region()
    return Enterprise.objects.create(**kw)


def project(*, stage=Stage.SIGNED, history=None, **kw):
    """A project signed on ``signed_on`` with a StageChange for signing.

    ``history`` is a list of (stage, date) recorded after signing, and the project's
    stage, actual start and production dates follow it.
    """
    n = next(_seq)
    kw.setdefault("code", f"T{n:05d}")
    kw.setdefault("name", f"测试项目{n}")
    if "region" not in kw:
        kw["region"] = kw["enterprise"].region if "enterprise" in kw else region()
    if "enterprise" not in kw:
        kw["enterprise"] = enterprise(region=kw["region"])
    if "chain" not in kw:
        kw["chain"] = chain()
    kw.setdefault("signed_on", datetime.date(2022, 3, 1))
    kw.setdefault("signed_amount", Decimal("50000"))
    history = list(history or [])
    if stage != Stage.SIGNED and not history:
        history = [(stage, kw["signed_on"])]
    for to_stage, on in history:
        if to_stage in Stage.reached(Stage.STARTED):
            kw.setdefault("actual_start_on", on)
        if to_stage == Stage.PRODUCTION:
            kw.setdefault("actual_production_on", on)
    kw["stage"] = history[-1][0] if history else Stage.SIGNED
    obj = Project.objects.create(**kw)
    previous = ""
    for to_stage, on in [(Stage.SIGNED, kw["signed_on"]), *history]:
        StageChange.objects.create(
            project=obj, from_stage=previous, to_stage=to_stage, effective_on=on
        )
        previous = to_stage
    return obj


def user(role=Role.COUNTY, **kw):
    n = next(_seq)
    kw.setdefault("username", f"user{n}")
    kw.setdefault("display_name", f"职员{n}号")
    if role == Role.COUNTY and "region" not in kw:
        kw["region"] = region()
    if role == Role.CHAIN_OFFICE and "chain" not in kw:
        kw["chain"] = chain()
    return User.objects.create_user(password=PASSWORD, role=role, **kw)


def dispatch(project, *, iso_year=2022, iso_week=10, **kw):
    kw.setdefault("stage", project.stage)
    kw.setdefault("completed_investment", project.completed_investment)
    return WeeklyDispatch.objects.create(
        project=project, iso_year=iso_year, iso_week=iso_week, **kw
    )


def finished_job(requested_by, content=b"code\n", **kw):
    """A finished export of ``requested_by`` whose file is ``content`` (one part, as a
    worker's first attempt stores it)."""
    kw.setdefault("kind", JobKind.EXPORT)
    kw.setdefault("content_type", "text/csv")
    job = Job.objects.create(
        requested_by=requested_by,
        state=JobState.DONE,
        attempts=1,
        file_size=len(content),
        **kw,
    )
    JobFilePart.objects.create(job=job, attempt=1, number=0, data=content)
    return job
