"""The review cycle: 月通报 snapshots, 季督查 inspections, 年考核 weights and adjustments,
the 链长制 problem ledger, and the overdue-dispatch flags of the daily check."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..choices import ProblemAction, ProblemStatus, RectificationStatus
from ..querysets import InspectionQuerySet, ProblemQuerySet, RectificationItemQuerySet
from ..validators import (
    TEXT_VALIDATORS,
    YEAR_VALIDATORS,
    bounds_constraints,
    validate_date_in_range,
    validate_past_date,
)


class MonthlyReport(models.Model):
    """A published 月通报: the computed figures frozen as JSON, never recomputed.

    Republishing a month makes the next version (with a reason); old versions stay.
    """

    year = models.PositiveSmallIntegerField(_("year"), validators=YEAR_VALIDATORS)
    month = models.PositiveSmallIntegerField(
        _("month"), validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    data = models.JSONField(_("frozen report data"))
    reason = models.CharField(
        _("reason for republishing"),
        max_length=500,
        blank=True,
        help_text=_("Required from the second version on."),
        validators=TEXT_VALIDATORS,
    )
    published_at = models.DateTimeField(_("published at"), default=timezone.now)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("published by"),
    )

    class Meta:
        ordering = ["-year", "-month", "-version"]
        verbose_name = _("published monthly report")
        verbose_name_plural = _("published monthly reports")
        constraints = [
            models.UniqueConstraint(
                fields=["year", "month", "version"],
                name="monthlyreport_unique_version",
                violation_error_message=_("This version of the month is already published."),
            ),
            models.CheckConstraint(
                condition=Q(month__gte=1, month__lte=12),
                name="monthlyreport_month_range",
                violation_error_message=_("A month is numbered 1 to 12."),
            ),
            models.CheckConstraint(
                condition=Q(version__gte=1),
                name="monthlyreport_version_positive",
                violation_error_message=_("The version number must be positive."),
            ),
            models.CheckConstraint(
                condition=Q(version=1) | ~Q(reason=""),
                name="monthlyreport_republish_has_reason",
                violation_error_message=_("Republishing a month needs a reason."),
            ),
            *bounds_constraints("monthlyreport", moments=["published_at"], years=["year"]),
        ]

    def __str__(self):
        return f"{self.year}-{self.month:02d} v{self.version}"


class Inspection(models.Model):
    """季督查: leaders inspect a region (or one project) in a quarter."""

    year = models.PositiveSmallIntegerField(_("year"), validators=YEAR_VALIDATORS)
    quarter = models.PositiveSmallIntegerField(
        _("quarter"), validators=[MinValueValidator(1), MaxValueValidator(4)]
    )
    region = models.ForeignKey(
        "tracker.Region",
        on_delete=models.PROTECT,
        related_name="inspections",
        verbose_name=_("region"),
    )
    project = models.ForeignKey(
        "tracker.Project",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="inspections",
        verbose_name=_("project"),
    )
    title = models.CharField(_("title"), max_length=200, validators=TEXT_VALIDATORS)
    inspected_on = models.DateField(_("inspected on"), validators=[validate_past_date])
    leader = models.CharField(
        _("leading official"),
        max_length=128,
        blank=True,
        help_text=_("The post, not a name."),
        validators=TEXT_VALIDATORS,
    )
    findings = models.TextField(
        _("findings"), blank=True, max_length=4000, validators=TEXT_VALIDATORS
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    objects = InspectionQuerySet.as_manager()

    class Meta:
        ordering = ["-year", "-quarter", "region__sort_order"]
        verbose_name = _("quarterly inspection")
        verbose_name_plural = _("quarterly inspections")
        constraints = [
            models.CheckConstraint(
                condition=Q(quarter__gte=1, quarter__lte=4),
                name="inspection_quarter_range",
                violation_error_message=_("A quarter is numbered 1 to 4."),
            ),
            *bounds_constraints(
                "inspection", dates=["inspected_on"], moments=["created_at"], years=["year"]
            ),
        ]

    def __str__(self):
        return f"{self.year} Q{self.quarter} {self.title}"

    def clean(self):
        errors = {}
        if self.project_id and self.region_id and self.project.region_id != self.region_id:
            errors["project"] = _("This project is not in the inspected region.")
        if self.inspected_on and self.year and self.quarter:
            quarter = (self.inspected_on.month - 1) // 3 + 1
            if (self.inspected_on.year, quarter) != (self.year, self.quarter):
                errors["inspected_on"] = _("The inspection date is not in the chosen quarter.")
        # A date in the future or before 2000: the field's validator (tracker.validators).
        if errors:
            raise ValidationError(errors)


class RectificationItem(models.Model):
    """A finding to rectify: owner, deadline, open → done → verified (销号)."""

    inspection = models.ForeignKey(
        Inspection,
        on_delete=models.CASCADE,
        related_name="items",
        verbose_name=_("inspection"),
    )
    description = models.TextField(
        _("what must be rectified"), max_length=2000, validators=TEXT_VALIDATORS
    )
    owner_unit = models.CharField(_("responsible unit"), max_length=128, validators=TEXT_VALIDATORS)
    deadline = models.DateField(_("deadline"), validators=[validate_date_in_range])
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=RectificationStatus.choices,
        default=RectificationStatus.OPEN,
    )
    done_on = models.DateField(_("done on"), null=True, blank=True, validators=[validate_past_date])
    done_note = models.TextField(
        _("how it was rectified"), blank=True, max_length=2000, validators=TEXT_VALIDATORS
    )
    verified_on = models.DateField(
        _("verified on"), null=True, blank=True, validators=[validate_past_date]
    )
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("verified by"),
    )
    escalated = models.BooleanField(_("escalated (督办)"), default=False)
    overdue_since = models.DateField(
        _("overdue since"),
        null=True,
        blank=True,
        validators=[validate_date_in_range],
        help_text=_("Set by the daily check when the deadline passed with the item open."),
    )

    objects = RectificationItemQuerySet.as_manager()

    class Meta:
        ordering = ["deadline", "id"]
        verbose_name = _("rectification item")
        verbose_name_plural = _("rectification items")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=RectificationStatus.values),
                name="rectification_status_valid",
                violation_error_message=_("Unknown status."),
            ),
            models.CheckConstraint(
                condition=Q(status=RectificationStatus.OPEN) | Q(done_on__isnull=False),
                name="rectification_done_has_date",
                violation_error_message=_("A done item needs the date it was done."),
            ),
            models.CheckConstraint(
                condition=~Q(status=RectificationStatus.VERIFIED) | Q(verified_on__isnull=False),
                name="rectification_verified_has_date",
                violation_error_message=_("A verified item needs the date it was verified."),
            ),
            models.CheckConstraint(
                condition=Q(verified_on__isnull=True) | Q(verified_on__gte=models.F("done_on")),
                name="rectification_verified_after_done",
                violation_error_message=_("An item cannot be verified before it was done."),
            ),
            *bounds_constraints(
                "rectification", dates=["deadline", "done_on", "verified_on", "overdue_since"]
            ),
        ]

    def __str__(self):
        return self.description[:60]


class AssessmentWeight(models.Model):
    """年考核: the weight of one indicator in a year's county score (editable by managers)."""

    year = models.PositiveSmallIntegerField(_("year"), validators=YEAR_VALIDATORS)
    key = models.SlugField(_("indicator key"), max_length=64)
    name = models.CharField(_("indicator"), max_length=128, validators=TEXT_VALIDATORS)
    weight = models.DecimalField(
        _("weight (points)"),
        max_digits=6,
        decimal_places=2,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    definition = models.CharField(
        _("definition"), max_length=500, blank=True, validators=TEXT_VALIDATORS
    )
    sort_order = models.PositiveSmallIntegerField(_("sort order"), default=0)

    class Meta:
        ordering = ["-year", "sort_order"]
        verbose_name = _("assessment weight")
        verbose_name_plural = _("assessment weights")
        constraints = [
            models.UniqueConstraint(
                fields=["year", "key"],
                name="assessmentweight_unique_year_key",
                violation_error_message=_("This indicator already has a weight for this year."),
            ),
            models.CheckConstraint(
                condition=Q(weight__gte=0, weight__lte=100),
                name="assessmentweight_range",
                violation_error_message=_("A weight is between 0 and 100 points."),
            ),
            *bounds_constraints("assessmentweight", years=["year"]),
        ]

    def __str__(self):
        return f"{self.year} {self.name} ({self.weight})"


class AssessmentAdjustment(models.Model):
    """A manager's adjustment of a region's computed score, with the recorded reason."""

    year = models.PositiveSmallIntegerField(_("year"), validators=YEAR_VALIDATORS)
    region = models.ForeignKey(
        "tracker.Region",
        on_delete=models.PROTECT,
        related_name="assessment_adjustments",
        verbose_name=_("region"),
    )
    points = models.DecimalField(
        _("points (+/−)"),
        max_digits=6,
        decimal_places=2,
        validators=[MinValueValidator(-100), MaxValueValidator(100)],
    )
    reason = models.CharField(_("reason"), max_length=500, validators=TEXT_VALIDATORS)
    adjusted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("adjusted by"),
    )
    adjusted_at = models.DateTimeField(_("adjusted at"), default=timezone.now)

    class Meta:
        ordering = ["-year", "region__sort_order", "adjusted_at"]
        verbose_name = _("assessment adjustment")
        verbose_name_plural = _("assessment adjustments")
        constraints = [
            models.CheckConstraint(
                condition=~Q(reason=""),
                name="assessmentadjustment_has_reason",
                violation_error_message=_("An adjustment needs a reason."),
            ),
            models.CheckConstraint(
                condition=Q(points__gte=-100, points__lte=100) & ~Q(points=0),
                name="assessmentadjustment_points_range",
                violation_error_message=_("An adjustment is between −100 and 100 points, not 0."),
            ),
            *bounds_constraints("assessmentadjustment", moments=["adjusted_at"], years=["year"]),
        ]

    def __str__(self):
        return f"{self.year} {self.region}: {self.points:+}"


class Problem(models.Model):
    """链长制 problem ledger: raised → assigned → resolved → closed."""

    chain = models.ForeignKey(
        "tracker.IndustryChain",
        on_delete=models.PROTECT,
        related_name="problems",
        verbose_name=_("industry chain"),
    )
    project = models.ForeignKey(
        "tracker.Project",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_problems",
        verbose_name=_("project"),
    )
    region = models.ForeignKey(
        "tracker.Region",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="problems",
        verbose_name=_("region"),
        help_text=_("The project's region; empty for a chain-wide problem."),
    )
    title = models.CharField(_("problem"), max_length=200, validators=TEXT_VALIDATORS)
    description = models.TextField(
        _("description"), blank=True, max_length=4000, validators=TEXT_VALIDATORS
    )
    status = models.CharField(
        _("status"), max_length=16, choices=ProblemStatus.choices, default=ProblemStatus.RAISED
    )
    assigned_unit = models.CharField(
        _("assigned unit"), max_length=128, blank=True, validators=TEXT_VALIDATORS
    )
    deadline = models.DateField(
        _("deadline"), null=True, blank=True, validators=[validate_date_in_range]
    )
    resolution = models.TextField(
        _("resolution"), blank=True, max_length=4000, validators=TEXT_VALIDATORS
    )
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("raised by"),
    )
    raised_on = models.DateField(
        _("raised on"), default=timezone.localdate, validators=[validate_past_date]
    )
    resolved_on = models.DateField(
        _("resolved on"), null=True, blank=True, validators=[validate_past_date]
    )
    closed_on = models.DateField(
        _("closed on"), null=True, blank=True, validators=[validate_past_date]
    )
    escalated = models.BooleanField(_("escalated (督办)"), default=False)
    overdue_since = models.DateField(
        _("overdue since"),
        null=True,
        blank=True,
        validators=[validate_date_in_range],
        help_text=_("Set by the daily check when the deadline passed unresolved."),
    )
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    objects = ProblemQuerySet.as_manager()

    class Meta:
        ordering = ["-raised_on", "-id"]
        verbose_name = _("chain problem")
        verbose_name_plural = _("chain problem ledger")
        indexes = [
            models.Index(fields=["chain", "status"], name="problem_chain_status_idx"),
            models.Index(fields=["region", "status"], name="problem_region_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ProblemStatus.values),
                name="problem_status_valid",
                violation_error_message=_("Unknown status."),
            ),
            models.CheckConstraint(
                condition=Q(status=ProblemStatus.RAISED)
                | (~Q(assigned_unit="") & Q(deadline__isnull=False)),
                name="problem_assigned_has_unit_and_deadline",
                violation_error_message=_(
                    "An assigned problem needs a responsible unit and a deadline."
                ),
            ),
            models.CheckConstraint(
                condition=~Q(status__in=[ProblemStatus.RESOLVED, ProblemStatus.CLOSED])
                | Q(resolved_on__isnull=False),
                name="problem_resolved_has_date",
                violation_error_message=_("A resolved problem needs the date it was resolved."),
            ),
            models.CheckConstraint(
                condition=~Q(status=ProblemStatus.CLOSED) | Q(closed_on__isnull=False),
                name="problem_closed_has_date",
                violation_error_message=_("A closed problem needs the date it was closed."),
            ),
            models.CheckConstraint(
                condition=Q(deadline__isnull=True) | Q(deadline__gte=models.F("raised_on")),
                name="problem_deadline_after_raised",
                violation_error_message=_("The deadline cannot be before the problem was raised."),
            ),
            *bounds_constraints(
                "problem",
                dates=["deadline", "raised_on", "resolved_on", "closed_on", "overdue_since"],
            ),
        ]

    def __str__(self):
        return self.title

    def clean(self):
        if self.project_id and self.chain_id and self.project.chain_id != self.chain_id:
            raise ValidationError({"project": _("This project belongs to another chain.")})


class ProblemEvent(models.Model):
    """One step in a problem's life: assignment, extension (new date + reason), resolution…"""

    problem = models.ForeignKey(
        Problem, on_delete=models.CASCADE, related_name="events", verbose_name=_("problem")
    )
    action = models.CharField(_("action"), max_length=16, choices=ProblemAction.choices)
    from_status = models.CharField(
        _("from status"), max_length=16, choices=ProblemStatus.choices, blank=True
    )
    to_status = models.CharField(
        _("to status"), max_length=16, choices=ProblemStatus.choices, blank=True
    )
    old_deadline = models.DateField(
        _("old deadline"), null=True, blank=True, validators=[validate_date_in_range]
    )
    new_deadline = models.DateField(
        _("new deadline"), null=True, blank=True, validators=[validate_date_in_range]
    )
    note = models.TextField(_("note"), blank=True, max_length=2000, validators=TEXT_VALIDATORS)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("problem event")
        verbose_name_plural = _("problem events")
        constraints = [
            models.CheckConstraint(
                condition=~Q(action=ProblemAction.EXTEND)
                | (
                    Q(new_deadline__isnull=False)
                    & Q(old_deadline__isnull=False)
                    & Q(new_deadline__gt=models.F("old_deadline"))
                    & ~Q(note="")
                ),
                name="problemevent_extension_has_new_date_and_reason",
                violation_error_message=_("An extension needs a new, later deadline and a reason."),
            ),
            *bounds_constraints(
                "problemevent", dates=["old_deadline", "new_deadline"], moments=["at"]
            ),
        ]

    def __str__(self):
        return f"{self.problem}: {self.get_action_display()}"


class MissingDispatch(models.Model):
    """A week whose dispatch deadline passed without a report: flagged by the daily check."""

    project = models.ForeignKey(
        "tracker.Project",
        on_delete=models.CASCADE,
        related_name="missing_dispatches",
        verbose_name=_("project"),
    )
    iso_year = models.PositiveSmallIntegerField(_("ISO year"), validators=YEAR_VALIDATORS)
    iso_week = models.PositiveSmallIntegerField(
        _("ISO week"), validators=[MinValueValidator(1), MaxValueValidator(53)]
    )
    flagged_at = models.DateTimeField(_("flagged at"), default=timezone.now)

    class Meta:
        ordering = ["-iso_year", "-iso_week"]
        verbose_name = _("missing weekly dispatch")
        verbose_name_plural = _("missing weekly dispatches")
        constraints = [
            models.UniqueConstraint(
                fields=["project", "iso_year", "iso_week"],
                name="missingdispatch_one_per_project_week",
                violation_error_message=_("This week is already flagged for this project."),
            ),
            models.CheckConstraint(
                condition=Q(iso_week__gte=1, iso_week__lte=53),
                name="missingdispatch_iso_week_range",
                violation_error_message=_("An ISO week is numbered 1 to 53."),
            ),
            *bounds_constraints("missingdispatch", moments=["flagged_at"], years=["iso_year"]),
        ]

    def __str__(self):
        return f"{self.project.code} {self.iso_year}-W{self.iso_week:02d}"
