"""The domain model, split by topic: the project book, the review cycle, jobs, saved views."""

from .imports import ImportBatch
from .jobs import FILE_PART_BYTES, Job, JobFilePart, JobKind, JobState
from .projects import (
    AnnualIndicator,
    ChainLeader,
    ChangeLog,
    Enterprise,
    IndustryChain,
    Park,
    Project,
    Region,
    StageChange,
    User,
    WeeklyDispatch,
)
from .reviews import (
    AssessmentAdjustment,
    AssessmentWeight,
    Inspection,
    MissingDispatch,
    MonthlyReport,
    Problem,
    ProblemEvent,
    RectificationItem,
)
from .views import ListColumns, SavedView

__all__ = [
    "FILE_PART_BYTES",
    "AnnualIndicator",
    "AssessmentAdjustment",
    "AssessmentWeight",
    "ChainLeader",
    "ChangeLog",
    "Enterprise",
    "ImportBatch",
    "IndustryChain",
    "Inspection",
    "Job",
    "JobFilePart",
    "JobKind",
    "JobState",
    "ListColumns",
    "MissingDispatch",
    "MonthlyReport",
    "Park",
    "Problem",
    "ProblemEvent",
    "Project",
    "RectificationItem",
    "Region",
    "SavedView",
    "StageChange",
    "User",
    "WeeklyDispatch",
]
