import datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import permissions
from ..choices import (
    CapitalSource,
    ChainLeaderPosition,
    ChangeAction,
    RegionKind,
    Role,
    Stage,
    Tier5020,
)
from ..history import noted, record_changes, snapshot
from ..investment import cap_error
from ..querysets import DispatchQuerySet, ProjectQuerySet, RestrictedQuerySet
from ..rules import billion_or_more, stage_before_stall, stage_move_error, tier_5020
from ..validators import (
    TEXT_VALIDATORS,
    YEAR_VALIDATORS,
    bounds_constraints,
    validate_credit_code,
    validate_date_in_range,
    validate_past_date,
)

MONEY = {"max_digits": 14, "decimal_places": 2}


class Region(models.Model):
    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=64, unique=True, validators=TEXT_VALIDATORS)
    kind = models.CharField(_("kind"), max_length=16, choices=RegionKind.choices)
    ranked_in_assessment = models.BooleanField(
        _("ranked in the industrial assessment"),
        default=True,
        help_text=_("Counted and ranked in the monthly report and the annual assessment."),
    )
    sort_order = models.PositiveSmallIntegerField(_("sort order"), default=0)

    class Meta:
        ordering = ["sort_order", "name"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self):
        return self.name


class Park(models.Model):
    name = models.CharField(_("name"), max_length=64, unique=True, validators=TEXT_VALIDATORS)
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="parks", verbose_name=_("region")
    )

    class Meta:
        ordering = ["region__sort_order", "name"]
        verbose_name = _("industrial park")
        verbose_name_plural = _("industrial parks")

    def __str__(self):
        return self.name


class IndustryChain(models.Model):
    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=64, unique=True, validators=TEXT_VALIDATORS)
    emerging = models.BooleanField(_("emerging industry"), default=False)
    is_leading = models.BooleanField(_("leading industry (首位产业)"), default=False)
    lead_unit = models.CharField(
        _("lead unit"), max_length=128, blank=True, validators=TEXT_VALIDATORS
    )
    anchor_enterprises = models.ManyToManyField(
        "Enterprise",
        blank=True,
        related_name="anchored_chains",
        verbose_name=_("anchor enterprises"),
    )
    sort_order = models.PositiveSmallIntegerField(_("sort order"), default=0)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["sort_order", "name"]
        verbose_name = _("industry chain")
        verbose_name_plural = _("industry chains")

    def __str__(self):
        return self.name


class ChainLeader(models.Model):
    chain = models.ForeignKey(
        IndustryChain,
        on_delete=models.CASCADE,
        related_name="leaders",
        verbose_name=_("industry chain"),
    )
    position = models.CharField(
        _("position in the chain"), max_length=16, choices=ChainLeaderPosition.choices
    )
    title = models.CharField(
        _("official title"),
        max_length=128,
        help_text=_("The post, e.g. 市政府副市长; no personal names of real officials."),
        validators=TEXT_VALIDATORS,
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="chain_leader_posts",
        verbose_name=_("user account"),
    )
    sort_order = models.PositiveSmallIntegerField(_("sort order"), default=0)

    class Meta:
        ordering = ["chain__sort_order", "sort_order"]
        verbose_name = _("chain leader")
        verbose_name_plural = _("chain leaders")
        constraints = [
            models.UniqueConstraint(
                fields=["chain", "position", "title"],
                name="chainleader_unique_post",
                violation_error_message=_("This chain already has this post."),
            ),
        ]

    def __str__(self):
        return f"{self.chain} · {self.get_position_display()} · {self.title}"


def _user_text_field(name):
    """AbstractUser's field ``name`` with the text rule of every text field added."""
    field = AbstractUser._meta.get_field(name)
    _name, _path, args, kwargs = field.deconstruct()
    kwargs["validators"] = [*kwargs.get("validators", ()), *TEXT_VALIDATORS]
    return type(field)(*args, **kwargs)


class User(AbstractUser):
    username = _user_text_field("username")
    first_name = _user_text_field("first_name")
    last_name = _user_text_field("last_name")
    email = _user_text_field("email")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, blank=True)
    region = models.ForeignKey(
        Region,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff",
        verbose_name=_("region"),
    )
    chain = models.ForeignKey(
        IndustryChain,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="office_staff",
        verbose_name=_("industry chain"),
    )

    # A person is shown by this name (and unit), never by the login: see ``display``.
    # ``db_default``: processes of the previous release, running while 0008 is applied,
    # create accounts without these columns.
    display_name = models.CharField(
        _("full name"),
        max_length=64,
        blank=True,
        default="",
        db_default="",
        help_text=_("The person's full name as colleagues know it, e.g. 陈丽华."),
        validators=TEXT_VALIDATORS,
    )
    unit = models.CharField(
        _("unit"),
        max_length=128,
        blank=True,
        default="",
        db_default="",
        help_text=_("Where the person works, e.g. 袁州区工业和信息化局."),
        validators=TEXT_VALIDATORS,
    )

    objects = UserManager()

    class Meta(AbstractUser.Meta):
        verbose_name = _("user")
        verbose_name_plural = _("users")
        # The scope rules read the region of county staff and the chain of a chain office.
        constraints = [
            *permissions.account_constraints(),
            *bounds_constraints("user", moments=["last_login", "date_joined"]),
        ]

    def display(self, *, with_unit=False):
        """How this person is shown everywhere: the name, with the unit if asked
        ("陈丽华 · 袁州区工业和信息化局"); never the login. An account without a name reads
        "unnamed user (role · region/chain)" until the admin gives it one."""
        name = self.display_name.strip()
        if not name:
            scope = [
                str(part) for part in (self.get_role_display(), self.region, self.chain) if part
            ]
            if not scope:
                scope = [str(_("administrator") if self.is_superuser else _("no role"))]
            name = _("unnamed user (%(scope)s)") % {"scope": " · ".join(scope)}
        unit = self.unit.strip()
        return f"{name} · {unit}" if with_unit and unit else name

    def __str__(self):
        return self.display()

    @property
    def display_with_unit(self):
        return self.display(with_unit=True)

    # Django's own pages (the admin's greeting, the password forms) ask these.
    def get_full_name(self):
        return self.display()

    def get_short_name(self):
        return self.display()

    @classmethod
    def display_by_id(cls, ids, *, with_unit=False):
        """``{pk: display}`` for the users ``ids`` (ids, or a ``values()`` queryset of
        them used as a subquery), in one query, for rows read with ``values()``."""
        if not isinstance(ids, models.QuerySet):
            ids = {pk for pk in ids if pk is not None}
        users = cls.objects.filter(pk__in=ids)
        return {
            user.pk: user.display(with_unit=with_unit)
            for user in users.select_related("region", "chain")
        }


class Enterprise(models.Model):
    name = models.CharField(_("name"), max_length=128, unique=True, validators=TEXT_VALIDATORS)
    credit_code = models.CharField(
        _("unified social credit code"),
        max_length=18,
        blank=True,
        validators=[validate_credit_code],
        help_text=_("18 characters, GB 32100-2015. Empty until the company is registered."),
    )
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="enterprises", verbose_name=_("region")
    )
    chain = models.ForeignKey(
        IndustryChain,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="enterprises",
        verbose_name=_("industry chain"),
    )
    above_scale = models.BooleanField(_("above designated size"), default=False)
    is_sample = models.BooleanField(
        _("illustrative data"),
        default=False,
        help_text=_("Synthetic record of the demo project book (示例数据)."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("enterprise")
        verbose_name_plural = _("enterprises")
        constraints = [
            models.UniqueConstraint(
                fields=["credit_code"],
                condition=~Q(credit_code=""),
                name="enterprise_unique_credit_code",
                violation_error_message=_(
                    "Another enterprise already has this unified social credit code."
                ),
            ),
            models.CheckConstraint(
                condition=Q(credit_code="") | Q(credit_code__regex=r"^[0-9A-HJ-NP-RTUWXY]{18}$"),
                name="enterprise_credit_code_format",
                violation_error_message=_(
                    "A unified social credit code has 18 digits or capital letters."
                ),
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        self.credit_code = (self.credit_code or "").strip().upper()


class Project(models.Model):
    code = models.CharField(
        _("project code"), max_length=32, unique=True, validators=TEXT_VALIDATORS
    )
    name = models.CharField(_("project name"), max_length=200, validators=TEXT_VALIDATORS)
    enterprise = models.ForeignKey(
        Enterprise, on_delete=models.PROTECT, related_name="projects", verbose_name=_("enterprise")
    )
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="projects", verbose_name=_("region")
    )
    park = models.ForeignKey(
        Park,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="projects",
        verbose_name=_("industrial park"),
    )
    chain = models.ForeignKey(
        IndustryChain,
        on_delete=models.PROTECT,
        related_name="projects",
        verbose_name=_("industry chain"),
    )
    capital_source = models.CharField(
        _("capital source"),
        max_length=16,
        choices=CapitalSource.choices,
        default=CapitalSource.DOMESTIC,
    )
    signed_on = models.DateField(_("signed on"), validators=[validate_past_date])
    signed_amount = models.DecimalField(_("signed amount (万元)"), **MONEY)
    planned_start_on = models.DateField(
        _("planned start"), null=True, blank=True, validators=[validate_date_in_range]
    )
    planned_production_on = models.DateField(
        _("planned production"), null=True, blank=True, validators=[validate_date_in_range]
    )
    actual_start_on = models.DateField(
        _("actual start"), null=True, blank=True, validators=[validate_past_date]
    )
    actual_production_on = models.DateField(
        _("actual production"), null=True, blank=True, validators=[validate_past_date]
    )
    annual_planned_investment = models.DecimalField(
        _("annual planned investment (万元)"), default=Decimal("0"), **MONEY
    )
    completed_investment = models.DecimalField(
        _("cumulative completed investment (万元)"), default=Decimal("0"), **MONEY
    )
    stage = models.CharField(
        _("stage"), max_length=16, choices=Stage.choices, default=Stage.SIGNED, editable=False
    )
    responsible_leader = models.CharField(
        _("responsible leader"), max_length=64, blank=True, validators=TEXT_VALIDATORS
    )
    responsible_unit = models.CharField(
        _("responsible unit"), max_length=128, blank=True, validators=TEXT_VALIDATORS
    )
    commissioner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="commissioned_projects",
        verbose_name=_("enterprise commissioner"),
    )
    notes = models.TextField(_("notes"), blank=True, max_length=4000, validators=TEXT_VALIDATORS)
    is_sample = models.BooleanField(
        _("illustrative data"),
        default=False,
        help_text=_("Synthetic record of the demo project book (示例数据)."),
    )
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["-signed_on", "code"]
        verbose_name = _("project")
        verbose_name_plural = _("projects")
        # The list's sorts and filters (issue 10; added live by migrations 0011 and 0015):
        # the default order itself, and each sortable column with the id that breaks its
        # ties (tracker.tables.total_order), read forwards or backwards. Each holds the id,
        # so a page's ids are read from the index alone (an index-only scan: a deep page's
        # OFFSET then skips index entries, not table rows; PostgreSQL). The first serves the
        # signed-date filters, the stage and amount ones their filters too.
        indexes = [
            models.Index(
                fields=["-signed_on", "code"], include=["id"], name="project_signed_code_id_idx"
            ),
            models.Index(fields=["region", "signed_on"], name="project_region_signed_idx"),
            models.Index(fields=["chain", "signed_on"], name="project_chain_signed_idx"),
            models.Index(fields=["stage", "id"], name="project_stage_id_idx"),
            models.Index(fields=["signed_amount", "id"], name="project_amount_id_idx"),
            models.Index(fields=["name", "id"], name="project_name_id_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(signed_amount__gte=0),
                name="project_signed_amount_not_negative",
                violation_error_message=_("The signed amount cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(annual_planned_investment__gte=0),
                name="project_annual_plan_not_negative",
                violation_error_message=_("The annual planned investment cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(completed_investment__gte=0),
                name="project_completed_not_negative",
                violation_error_message=_("The completed investment cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(actual_start_on__isnull=True) | Q(actual_start_on__gte=F("signed_on")),
                name="project_start_not_before_signing",
                violation_error_message=_("Construction cannot start before the signing date."),
            ),
            models.CheckConstraint(
                condition=Q(actual_production_on__isnull=True)
                | Q(actual_start_on__isnull=False, actual_production_on__gte=F("actual_start_on")),
                name="project_production_after_start",
                violation_error_message=_(
                    "Production cannot begin before construction has started."
                ),
            ),
            models.CheckConstraint(
                condition=Q(planned_start_on__isnull=True)
                | Q(planned_start_on__gte=F("signed_on")),
                name="project_planned_start_not_before_signing",
                violation_error_message=_("The planned start cannot be before the signing date."),
            ),
            models.CheckConstraint(
                condition=Q(planned_production_on__isnull=True)
                | Q(planned_start_on__isnull=True)
                | Q(planned_production_on__gte=F("planned_start_on")),
                name="project_planned_production_after_start",
                violation_error_message=_(
                    "The planned production date cannot be before the planned start."
                ),
            ),
            models.CheckConstraint(
                condition=Q(stage__in=Stage.values),
                name="project_stage_valid",
                violation_error_message=_("Unknown project stage."),
            ),
            models.CheckConstraint(
                condition=Q(version__gte=1),
                name="project_version_positive",
                violation_error_message=_("The version number must be positive."),
            ),
            *bounds_constraints(
                "project",
                dates=[
                    "signed_on",
                    "planned_start_on",
                    "planned_production_on",
                    "actual_start_on",
                    "actual_production_on",
                ],
                moments=["created_at", "updated_at"],
            ),
        ]

    def __str__(self):
        return f"{self.code} {self.name}"

    # --- derived classification -------------------------------------------------------
    @property
    def tier_5020(self):
        return tier_5020(self.signed_amount, self.capital_source)

    @property
    def tier_5020_label(self):
        return Tier5020(self.tier_5020).label

    @property
    def is_billion(self):
        return billion_or_more(self.signed_amount)

    # --- validation ----------------------------------------------------------------------
    def clean(self):
        errors = {}
        if self.park_id and self.region_id and self.park.region_id != self.region_id:
            errors["park"] = _("This park is not in the selected region.")
        cap = cap_error(self.completed_investment, self.signed_amount)
        if cap:
            errors["completed_investment"] = cap
        # Dates in the future or before 2000: the fields' validators (tracker.validators).
        if errors:
            raise ValidationError(errors)

    # --- behaviour -----------------------------------------------------------------------
    def advance_to(self, stage, *, on, by, note="", origin=""):
        """Move the project to ``stage`` with effect from ``on``, recorded in the history.

        ``origin`` (an import, a bulk change) goes before ``note`` on the StageChange and
        on the history rows (``history.noted``).

        Raises ValidationError (with a message a person can read) when the move is not
        allowed for ``by``. Saves the project and the StageChange in one transaction.
        """
        with transaction.atomic():
            locked = Project.objects.select_for_update().get(pk=self.pk)
            last = locked.stage_changes.order_by("-effective_on", "-id").first()
            error = stage_move_error(
                current=locked.stage,
                target=stage,
                override=permissions.may(by, permissions.MANAGE, locked),
                resume_stage=locked.stage_before_stall() if locked.stage == Stage.STALLED else None,
                on=on,
                today=timezone.localdate(),
                signed_on=locked.signed_on,
                last_on=last.effective_on if last else None,
            )
            if error:
                raise ValidationError({"stage": error})
            before = snapshot(locked, {"stage", "actual_start_on", "actual_production_on"})
            from_stage = locked.stage
            locked.stage = stage
            # A manager moving a project back undoes the dates of the stages it leaves.
            if Stage.order(stage) is not None:
                if Stage.order(stage) < Stage.order(Stage.STARTED):
                    locked.actual_start_on = None
                if stage != Stage.PRODUCTION:
                    locked.actual_production_on = None
            if stage in Stage.reached(Stage.STARTED) and locked.actual_start_on is None:
                locked.actual_start_on = on
            if stage == Stage.PRODUCTION and locked.actual_production_on is None:
                locked.actual_production_on = on
            locked.version = F("version") + 1
            locked.save(
                update_fields=[
                    "stage",
                    "actual_start_on",
                    "actual_production_on",
                    "version",
                    "updated_at",
                ]
            )
            locked.refresh_from_db()
            StageChange.objects.create(
                project=locked,
                from_stage=from_stage,
                to_stage=stage,
                effective_on=on,
                changed_by=by,
                note=noted(origin, note)[:500],
            )
            record_changes(locked, before, by=by, note=noted(origin))
        for field in ("stage", "actual_start_on", "actual_production_on", "version", "updated_at"):
            setattr(self, field, getattr(locked, field))
        return self

    def stage_before_stall(self):
        """The main-line stage the project was at before it stalled (or None)."""
        return stage_before_stall(self.stage_changes.all())

    def stage_history(self):
        """The stage changes as (to_stage, effective_on), oldest first: what
        ``rules.actual_date_errors`` reads."""
        return list(
            self.stage_changes.order_by("effective_on", "id").values_list(
                "to_stage", "effective_on"
            )
        )


class StageChange(models.Model):
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="stage_changes", verbose_name=_("project")
    )
    from_stage = models.CharField(_("from stage"), max_length=16, choices=Stage.choices, blank=True)
    to_stage = models.CharField(_("to stage"), max_length=16, choices=Stage.choices)
    effective_on = models.DateField(_("effective on"), validators=[validate_past_date])
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("changed by"),
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    note = models.CharField(_("note"), max_length=500, blank=True, validators=TEXT_VALIDATORS)

    class Meta:
        ordering = ["effective_on", "id"]
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")
        indexes = [
            models.Index(fields=["project", "effective_on"], name="stagechange_project_on_idx"),
            models.Index(fields=["to_stage", "effective_on"], name="stagechange_to_on_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(to_stage__in=Stage.values),
                name="stagechange_to_stage_valid",
                violation_error_message=_("Unknown project stage."),
            ),
            models.CheckConstraint(
                condition=~Q(from_stage=F("to_stage")),
                name="stagechange_changes_something",
                violation_error_message=_("A stage change must change the stage."),
            ),
            *bounds_constraints("stagechange", dates=["effective_on"], moments=["recorded_at"]),
        ]

    def __str__(self):
        before = self.get_from_stage_display() or "-"
        return (
            f"{self.project.code}: {before} → {self.get_to_stage_display()} ({self.effective_on})"
        )


class WeeklyDispatch(models.Model):
    """周调度: one report per project per ISO week."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="dispatches", verbose_name=_("project")
    )
    iso_year = models.PositiveSmallIntegerField(_("ISO year"), validators=YEAR_VALIDATORS)
    iso_week = models.PositiveSmallIntegerField(
        _("ISO week"), validators=[MinValueValidator(1), MaxValueValidator(53)]
    )
    stage = models.CharField(_("stage reported"), max_length=16, choices=Stage.choices)
    completed_investment = models.DecimalField(_("cumulative completed investment (万元)"), **MONEY)
    progress = models.TextField(
        _("progress (形象进度)"), blank=True, max_length=2000, validators=TEXT_VALIDATORS
    )
    problems = models.TextField(
        _("problems"), blank=True, max_length=2000, validators=TEXT_VALIDATORS
    )
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("filed by"),
    )
    filed_at = models.DateTimeField(_("filed at"), default=timezone.now)
    is_late = models.BooleanField(_("filed late"), default=False)
    # Optimistic lock (tracker.locking): bumped by every filing of this report.
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    objects = DispatchQuerySet.as_manager()

    class Meta:
        ordering = ["-iso_year", "-iso_week", "project__code"]
        verbose_name = _("weekly dispatch")
        verbose_name_plural = _("weekly dispatches")
        indexes = [
            models.Index(fields=["iso_year", "iso_week"], name="dispatch_week_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "iso_year", "iso_week"],
                name="dispatch_one_per_project_week",
                violation_error_message=_("This project already has a report for this week."),
            ),
            models.CheckConstraint(
                condition=Q(iso_week__gte=1, iso_week__lte=53),
                name="dispatch_iso_week_range",
                violation_error_message=_("An ISO week is numbered 1 to 53."),
            ),
            models.CheckConstraint(
                condition=Q(completed_investment__gte=0),
                name="dispatch_completed_not_negative",
                violation_error_message=_("The completed investment cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(stage__in=Stage.values),
                name="dispatch_stage_valid",
                violation_error_message=_("Unknown project stage."),
            ),
            *bounds_constraints("dispatch", moments=["filed_at"], years=["iso_year"]),
        ]

    def __str__(self):
        return f"{self.project.code} {self.iso_year}-W{self.iso_week:02d}"

    @property
    def week_start(self):
        return datetime.date.fromisocalendar(self.iso_year, self.iso_week, 1)

    def clean(self):
        try:
            datetime.date.fromisocalendar(self.iso_year, self.iso_week, 1)
        except (TypeError, ValueError):
            raise ValidationError(
                {
                    "iso_week": _("Year %(year)s has no ISO week %(week)s.")
                    % {"year": self.iso_year, "week": self.iso_week}
                }
            ) from None


class ChangeLog(models.Model):
    """Who changed what, when: old → new, per field, for projects and dispatches."""

    content_type = models.ForeignKey(
        "contenttypes.ContentType", on_delete=models.CASCADE, verbose_name=_("record type")
    )
    object_id = models.PositiveBigIntegerField(_("record id"))
    object_repr = models.CharField(_("record"), max_length=200, validators=TEXT_VALIDATORS)
    action = models.CharField(_("action"), max_length=8, choices=ChangeAction.choices)
    field = models.CharField(_("field"), max_length=64, blank=True, validators=TEXT_VALIDATORS)
    old_value = models.TextField(_("old value"), blank=True, validators=TEXT_VALIDATORS)
    new_value = models.TextField(_("new value"), blank=True, validators=TEXT_VALIDATORS)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("changed by"),
    )
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)
    # Why, when the change needed one (a manager lowering a cumulative figure, say).
    note = models.TextField(_("reason"), blank=True, default="", validators=TEXT_VALIDATORS)

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name = _("change history entry")
        verbose_name_plural = _("change history")
        constraints = bounds_constraints("changelog", moments=["changed_at"])
        indexes = [
            models.Index(
                fields=["content_type", "object_id", "changed_at"], name="changelog_object_idx"
            ),
        ]

    def __str__(self):
        return f"{self.object_repr} · {self.field}: {self.old_value} → {self.new_value}"


# 11 digits before the point: 15 significant digits, which SQLite (storing a decimal as a
# floating-point number) gives back exactly; a 16-digit value would no longer read back.
INDICATOR_VALUE_LIMIT = Decimal("99999999999.9999")


class AnnualIndicator(models.Model):
    """A city-level figure of one year (e.g. 规上工业营业收入 2022)."""

    year = models.PositiveSmallIntegerField(_("year"), validators=YEAR_VALIDATORS)
    key = models.SlugField(_("key"), max_length=64)
    name = models.CharField(_("indicator"), max_length=128, validators=TEXT_VALIDATORS)
    value = models.DecimalField(
        _("value"),
        max_digits=16,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[
            MinValueValidator(-INDICATOR_VALUE_LIMIT),
            MaxValueValidator(INDICATOR_VALUE_LIMIT),
        ],
    )
    unit = models.CharField(_("unit"), max_length=32, blank=True, validators=TEXT_VALIDATORS)
    growth = models.DecimalField(_("growth"), max_digits=8, decimal_places=2, null=True, blank=True)
    growth_unit = models.CharField(
        _("growth unit"), max_length=16, blank=True, default="%", validators=TEXT_VALIDATORS
    )
    provincial_rank = models.PositiveSmallIntegerField(_("provincial rank"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=255, blank=True, validators=TEXT_VALIDATORS)
    source = models.CharField(_("source"), max_length=255, blank=True, validators=TEXT_VALIDATORS)
    sort_order = models.PositiveSmallIntegerField(_("sort order"), default=0)

    class Meta:
        ordering = ["-year", "sort_order"]
        verbose_name = _("annual indicator")
        verbose_name_plural = _("annual indicators")
        constraints = [
            models.UniqueConstraint(
                fields=["year", "key"],
                name="indicator_unique_year_key",
                violation_error_message=_("This indicator already exists for this year."),
            ),
            models.CheckConstraint(
                condition=Q(year__gte=2000, year__lte=2100),
                name="indicator_year_range",
                violation_error_message=_("The year must be between 2000 and 2100."),
            ),
            models.CheckConstraint(
                condition=Q(provincial_rank__isnull=True) | Q(provincial_rank__gte=1),
                name="indicator_rank_positive",
                violation_error_message=_("A provincial rank starts at 1."),
            ),
            models.CheckConstraint(
                condition=Q(value__gte=-INDICATOR_VALUE_LIMIT, value__lte=INDICATOR_VALUE_LIMIT),
                name="indicator_value_range",
                violation_error_message=_(
                    "A value is between −99,999,999,999.9999 and 99,999,999,999.9999."
                ),
            ),
        ]

    def __str__(self):
        return f"{self.year} {self.name}"
