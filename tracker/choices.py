"""Every enumerated value of the domain, in one place.

Raw stage strings never appear outside this module: code asks ``Stage.STARTED`` and
``Stage.reached(...)``.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class RegionKind(models.TextChoices):
    DISTRICT = "district", _("district")
    CITY = "city", _("county-level city")
    COUNTY = "county", _("county")
    SPECIAL = "special", _("special zone")


class CapitalSource(models.TextChoices):
    DOMESTIC = "domestic", _("domestic")
    FOREIGN = "foreign", _("foreign")
    MIXED = "mixed", _("mixed")


class Stage(models.TextChoices):
    SIGNED = "signed", _("signed")
    REGISTERED = "registered", _("company registered")
    LAND = "land", _("land supplied")
    STARTED = "started", _("construction started")
    COMPLETED = "completed", _("construction completed")
    PRODUCTION = "production", _("in production")
    STALLED = "stalled", _("stalled")
    TERMINATED = "terminated", _("terminated")

    @classmethod
    def main_line(cls):
        """The forward path a healthy project walks, in order."""
        return [
            cls.SIGNED,
            cls.REGISTERED,
            cls.LAND,
            cls.STARTED,
            cls.COMPLETED,
            cls.PRODUCTION,
        ]

    @classmethod
    def side_states(cls):
        return [cls.STALLED, cls.TERMINATED]

    @classmethod
    def order(cls, stage):
        """Position on the main line (0 = signed), or None for a side state."""
        line = cls.main_line()
        return line.index(stage) if stage in line else None

    @classmethod
    def reached(cls, stage):
        """The main-line stages at or after ``stage`` (e.g. 'started or later')."""
        line = cls.main_line()
        return line[line.index(stage) :]


class Role(models.TextChoices):
    MANAGER = "manager", _("city bureau manager")
    COUNTY = "county", _("county staff")
    COMMISSIONER = "commissioner", _("enterprise commissioner")
    CHAIN_OFFICE = "chain_office", _("chain leader office")


class ChainLeaderPosition(models.TextChoices):
    LEADER = "leader", _("chain leader")
    DEPUTY = "deputy", _("deputy chain leader")


class Tier5020(models.IntegerChoices):
    NONE = 0, _("not 5020")
    TIER_20 = 20, _("5020: ≥ 20 亿元")
    TIER_50 = 50, _("5020: ≥ 50 亿元")


class Tier5020Filter(models.TextChoices):
    """The project list's 5020 drop-down: any tier, one tier, or not 5020."""

    ANY = "5020", _("5020 (≥ 20 亿元)")
    TIER_50 = "50", Tier5020.TIER_50.label
    TIER_20 = "20", _("5020: 20–50 亿元")
    NONE = "0", Tier5020.NONE.label


class Light(models.TextChoices):
    """Warning lights (红黄绿灯), tracker/lights.py."""

    GREEN = "green", _("green")
    YELLOW = "yellow", _("yellow")
    RED = "red", _("red")


class Quarter(models.IntegerChoices):
    Q1 = 1, _("Q1")
    Q2 = 2, _("Q2")
    Q3 = 3, _("Q3")
    Q4 = 4, _("Q4")


# A yes/no filter's drop-down (the values django-filter's BooleanFilter reads): 全部, 是, 否.
YES_NO_ALL = [("", _("all")), ("true", _("yes")), ("false", _("no"))]


class ChangeAction(models.TextChoices):
    CREATE = "create", _("created")
    UPDATE = "update", _("changed")
    DELETE = "delete", _("deleted")


class RectificationStatus(models.TextChoices):
    OPEN = "open", _("open")
    DONE = "done", _("done")
    VERIFIED = "verified", _("verified (closed)")


class ProblemStatus(models.TextChoices):
    RAISED = "raised", _("raised")
    ASSIGNED = "assigned", _("assigned")
    RESOLVED = "resolved", _("resolved")
    CLOSED = "closed", _("closed")

    @classmethod
    def open_states(cls):
        """Still to be handled: raised or assigned (the states that can go overdue)."""
        return [cls.RAISED, cls.ASSIGNED]


class ProblemAction(models.TextChoices):
    RAISE = "raise", _("raised")
    ASSIGN = "assign", _("assigned")
    EXTEND = "extend", _("deadline extended")
    RESOLVE = "resolve", _("resolved")
    CLOSE = "close", _("closed")
    REOPEN = "reopen", _("reopened")
    ESCALATE = "escalate", _("escalated")
    COMMENT = "comment", _("comment")


class JobKind(models.TextChoices):
    EXPORT = "export", _("Export")
    PUBLISH = "publish", _("Publishing the monthly report")
    OVERDUE_CHECK = "overdue_check", _("Daily overdue check")
    IMPORT = "import", _("Import")
    BULK = "bulk", _("Bulk change")


class JobState(models.TextChoices):
    QUEUED = "queued", _("Waiting for a worker")
    RUNNING = "running", _("Running")
    DONE = "done", _("Finished")
    FAILED = "failed", _("Failed")


class ImportKind(models.TextChoices):
    PROJECTS = "projects", _("project book")
    DISPATCH = "dispatch", _("weekly dispatch sheet")


class ImportState(models.TextChoices):
    PREVIEWING = "previewing", _("Preview being made")
    READY = "ready", _("Preview ready, not applied")
    APPLYING = "applying", _("Being applied")
    APPLIED = "applied", _("Applied")
    FAILED = "failed", _("Not applied")


class ListName(models.TextChoices):
    """The filtered list pages a saved view or a column choice belongs to."""

    PROJECTS = "projects", _("Projects")
    PROBLEMS = "problems", _("Problems")
    INSPECTIONS = "inspections", _("Inspections")


class Visibility(models.TextChoices):
    """Who sees a saved view besides its owner."""

    PRIVATE = "private", _("Only me")
    GROUP = "group", _("My group")
    PUBLIC = "public", _("Everyone")
