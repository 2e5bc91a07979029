"""The back office: every model can be browsed, searched and filtered here.

Project and dispatch saves write the same change history (ChangeLog) as the front end.
A project's stage is never typed in: it moves through ``Project.advance_to`` (the
"change stage" action), which checks the allowed transitions and records a StageChange.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .choices import ChangeAction, Stage, Tier5020
from .models import (
    AnnualIndicator,
    AssessmentAdjustment,
    AssessmentWeight,
    ChainLeader,
    ChangeLog,
    Enterprise,
    IndustryChain,
    Inspection,
    MissingDispatch,
    MonthlyReport,
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
from .services import move_problems, record_changes, record_creation, snapshot

admin.site.site_header = _("Yichun industrial project tracker")
admin.site.site_title = _("Yichun industrial project tracker")
admin.site.index_title = _("Administration")


def _managers_only(request):
    """The back office is for the city bureau: model permissions are not scoped by region,
    so county staff or commissioners must not get in even if someone ticks "staff"."""
    user = request.user
    return user.is_active and user.is_staff and user.is_manager


admin.site.has_permission = _managers_only


# --- reference data -------------------------------------------------------------------
@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "kind", "ranked_in_assessment", "sort_order")
    list_filter = ("kind", "ranked_in_assessment")
    search_fields = ("name", "code")


@admin.register(Park)
class ParkAdmin(admin.ModelAdmin):
    list_display = ("name", "region")
    list_filter = ("region",)
    list_select_related = ("region",)
    search_fields = ("name", "region__name")


class ChainLeaderInline(admin.TabularInline):
    model = ChainLeader
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(IndustryChain)
class IndustryChainAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "emerging", "is_leading", "lead_unit", "sort_order")
    list_filter = ("emerging", "is_leading")
    search_fields = ("name", "code", "lead_unit")
    filter_horizontal = ("anchor_enterprises",)
    inlines = [ChainLeaderInline]


@admin.register(ChainLeader)
class ChainLeaderAdmin(admin.ModelAdmin):
    list_display = ("chain", "position", "title", "user", "sort_order")
    list_filter = ("chain", "position")
    list_select_related = ("chain", "user")
    search_fields = ("title", "chain__name", "user__username")
    autocomplete_fields = ("user",)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        *DjangoUserAdmin.fieldsets[:1],
        (_("Role and scope"), {"fields": ("role", "region", "chain")}),
        *DjangoUserAdmin.fieldsets[1:],
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        (_("Role and scope"), {"fields": ("role", "region", "chain")}),
    )
    list_display = (
        "username",
        "last_name",
        "first_name",
        "role",
        "region",
        "chain",
        "is_staff",
        "is_active",
    )
    list_filter = ("role", "region", "chain", "is_staff", "is_superuser", "is_active", "groups")
    list_select_related = ("region", "chain")


@admin.register(Enterprise)
class EnterpriseAdmin(admin.ModelAdmin):
    list_display = ("name", "credit_code", "region", "chain", "above_scale", "is_sample")
    list_filter = ("region", "chain", "above_scale", "is_sample")
    list_select_related = ("region", "chain")
    search_fields = ("name", "credit_code")


@admin.register(AnnualIndicator)
class AnnualIndicatorAdmin(admin.ModelAdmin):
    list_display = ("year", "name", "value", "unit", "growth", "growth_unit", "provincial_rank")
    list_display_links = ("year", "name")
    list_filter = ("year",)
    search_fields = ("name", "key", "source")


# --- change history -------------------------------------------------------------------
def _record_deletion(obj, *, by):
    ChangeLog.objects.create(
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=True),
        object_id=obj.pk,
        object_repr=str(obj)[:200],
        action=ChangeAction.DELETE,
        changed_by=by,
    )


class HistoryAdminMixin:
    """Saves and deletions made in the admin land in ChangeLog, like the front end's."""

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            if not change:
                obj.save()
                self.after_create(obj, by=request.user)
                record_creation(obj, by=request.user)
                return
            before = snapshot(type(obj).objects.get(pk=obj.pk))
            self.before_update(obj)
            obj.save()
            # Read back what the database stored (F() expressions, decimal places), so
            # that the history compares like with like.
            obj.refresh_from_db()
            record_changes(obj, before, by=request.user)
            self.after_update(obj, by=request.user)

    def before_update(self, obj):
        pass

    def after_create(self, obj, *, by):
        pass

    def after_update(self, obj, *, by):
        pass

    def delete_model(self, request, obj):
        with transaction.atomic():
            _record_deletion(obj, by=request.user)
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                _record_deletion(obj, by=request.user)
            super().delete_queryset(request, queryset)

    @admin.display(description=_("change history"))
    def history_link(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        ctype = ContentType.objects.get_for_model(obj, for_concrete_model=True)
        url = (
            reverse("admin:tracker_changelog_changelist")
            + "?"
            + urlencode({"content_type__id__exact": ctype.pk, "object_id": obj.pk})
        )
        return format_html('<a href="{}">{}</a>', url, _("Show the change history"))


@admin.register(ChangeLog)
class ChangeLogAdmin(admin.ModelAdmin):
    """Read-only: the history is written by the application, never by hand."""

    list_display = (
        "changed_at",
        "content_type",
        "object_repr",
        "action",
        "field",
        "old_value",
        "new_value",
        "changed_by",
    )
    list_filter = ("action", "content_type", "changed_at")
    list_select_related = ("content_type", "changed_by")
    search_fields = ("object_repr", "field", "old_value", "new_value", "changed_by__username")
    date_hierarchy = "changed_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- projects -------------------------------------------------------------------------
class StageChangeInline(admin.TabularInline):
    model = StageChange
    fields = ("effective_on", "from_stage", "to_stage", "changed_by", "recorded_at", "note")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("changed_by")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class TierFilter(admin.SimpleListFilter):
    title = _("5020 tier")
    parameter_name = "tier"

    def lookups(self, request, model_admin):
        return [(str(value), label) for value, label in Tier5020.choices]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return queryset.in_tier(self.value())


class BillionFilter(admin.SimpleListFilter):
    title = _("≥ 1 亿元")
    parameter_name = "billion"

    def lookups(self, request, model_admin):
        return [("1", _("Yes")), ("0", _("No"))]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return queryset.billion_or_more(self.value() == "1")


class ProjectAdminForm(forms.ModelForm):
    """Carries the version the user started from, so that a concurrent edit is refused."""

    expected_version = forms.IntegerField(
        label=_("version you started from"), widget=forms.HiddenInput, required=False
    )

    class Meta:
        model = Project
        fields = "__all__"  # noqa: DJ007 — the admin's fieldsets pick the fields

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["expected_version"].initial = self.instance.version

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk:
            # The admin runs the whole request in a transaction: the row stays locked
            # until the save, so nobody can slip in between this check and the write.
            current = (
                Project.objects.select_for_update()
                .filter(pk=self.instance.pk)
                .values_list("version", flat=True)
                .first()
            )
            if current is not None and cleaned.get("expected_version") != current:
                raise ValidationError(
                    _(
                        "Someone else changed this project while you were editing it (it is "
                        "now at version %(version)s). Reload the page and make your change "
                        "again."
                    ),
                    code="stale_version",
                    params={"version": current},
                )
        return cleaned


class ChangeStageForm(forms.Form):
    stage = forms.ChoiceField(label=_("new stage"), choices=Stage.choices)
    effective_on = forms.DateField(
        label=_("effective on"), widget=forms.DateInput(attrs={"type": "date"})
    )
    note = forms.CharField(label=_("note"), max_length=500, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["effective_on"].initial = timezone.localdate()


@admin.register(Project)
class ProjectAdmin(HistoryAdminMixin, admin.ModelAdmin):
    form = ProjectAdminForm
    list_display = (
        "code",
        "name",
        "region",
        "chain",
        "signed_on",
        "signed_amount",
        "stage",
        "tier_5020_display",
        "billion_display",
        "is_sample",
    )
    list_display_links = ("code", "name")
    list_filter = (
        "region",
        "chain",
        "stage",
        "capital_source",
        TierFilter,
        BillionFilter,
        "is_sample",
        "signed_on",
    )
    list_select_related = ("region", "chain")
    search_fields = ("code", "name", "enterprise__name")
    date_hierarchy = "signed_on"
    autocomplete_fields = ("enterprise", "commissioner")
    readonly_fields = (
        "stage",
        "version",
        "tier_5020_display",
        "billion_display",
        "history_link",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("code", "name", "enterprise", "region", "park", "chain", "is_sample")}),
        (
            _("Signing"),
            {
                "fields": (
                    "capital_source",
                    "signed_on",
                    "signed_amount",
                    "tier_5020_display",
                    "billion_display",
                )
            },
        ),
        (
            _("Schedule"),
            {
                "fields": (
                    "planned_start_on",
                    "planned_production_on",
                    "actual_start_on",
                    "actual_production_on",
                )
            },
        ),
        (_("Investment"), {"fields": ("annual_planned_investment", "completed_investment")}),
        (
            _("Responsibility"),
            {"fields": ("responsible_leader", "responsible_unit", "commissioner")},
        ),
        (
            _("Stage"),
            {
                "description": _(
                    "The stage is changed with the “Change the stage” action of the project "
                    "list, which checks the allowed transitions and records the effective date."
                ),
                "fields": ("stage", "version", "expected_version"),
            },
        ),
        (_("Notes"), {"fields": ("notes",)}),
        (_("Record"), {"fields": ("history_link", "created_at", "updated_at")}),
    )
    inlines = [StageChangeInline]
    actions = ["change_stage"]

    def get_queryset(self, request):
        return super().get_queryset(request).with_tiers()

    def get_deleted_objects(self, objs, request):
        # A project's stage changes go with it, although nobody may delete one on its own.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(StageChange._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    @admin.display(description=_("5020 tier"), ordering="tier_5020_value")
    def tier_5020_display(self, obj):
        value = getattr(obj, "tier_5020_value", None)
        if value is None:
            if obj.pk is None or obj.signed_amount is None:
                return "-"
            value = obj.tier_5020
        return Tier5020(value).label

    @admin.display(description=_("≥ 1 亿元"), boolean=True, ordering="is_billion_value")
    def billion_display(self, obj):
        value = getattr(obj, "is_billion_value", None)
        if value is None:
            if obj.pk is None or obj.signed_amount is None:
                return None
            value = obj.is_billion
        return bool(value)

    def before_update(self, obj):
        obj.version = F("version") + 1

    def after_update(self, obj, *, by):
        # A project moved to another region or chain takes its problems along (their
        # scope follows the project), as an edit on the project page does.
        ChangeLog.objects.bulk_create(move_problems(obj, by=by, at=timezone.now()))

    def after_create(self, obj, *, by):
        # Every project's history starts with its signing, so that "stage as of a day"
        # has an answer from the signing date on (reports, lights, the dashboard).
        StageChange.objects.create(
            project=obj,
            from_stage="",
            to_stage=Stage.SIGNED,
            effective_on=obj.signed_on,
            changed_by=by,
        )

    @admin.action(description=_("Change the stage of the selected projects"))
    def change_stage(self, request, queryset):
        form = ChangeStageForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            moved, refused = 0, []
            for project in queryset.order_by("code"):
                try:
                    project.advance_to(
                        form.cleaned_data["stage"],
                        on=form.cleaned_data["effective_on"],
                        by=request.user,
                        note=form.cleaned_data["note"],
                    )
                except ValidationError as error:
                    refused.append(f"{project.code}: {' '.join(error.messages)}")
                else:
                    moved += 1
            if moved:
                self.message_user(
                    request,
                    ngettext(
                        "%(count)d project moved to the new stage.",
                        "%(count)d projects moved to the new stage.",
                        moved,
                    )
                    % {"count": moved},
                    messages.SUCCESS,
                )
            for line in refused:
                self.message_user(request, line, messages.ERROR)
            return None
        return TemplateResponse(
            request,
            "admin/tracker/project/change_stage.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Change the stage"),
                "opts": self.model._meta,
                "form": form,
                "projects": queryset.order_by("code"),
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )


@admin.register(StageChange)
class StageChangeAdmin(admin.ModelAdmin):
    """Read-only: stage changes are made with Project.advance_to (the project action)."""

    list_display = (
        "project",
        "from_stage",
        "to_stage",
        "effective_on",
        "changed_by",
        "recorded_at",
    )
    list_filter = ("to_stage", "from_stage", "effective_on")
    list_select_related = ("project", "changed_by")
    search_fields = ("project__code", "project__name", "note")
    date_hierarchy = "effective_on"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WeeklyDispatch)
class WeeklyDispatchAdmin(HistoryAdminMixin, admin.ModelAdmin):
    list_display = (
        "project",
        "iso_year",
        "iso_week",
        "stage",
        "completed_investment",
        "is_late",
        "filed_by",
        "filed_at",
    )
    list_filter = ("iso_year", "is_late", "stage", "project__region")
    list_select_related = ("project", "filed_by")
    search_fields = ("project__code", "project__name")
    raw_id_fields = ("project",)
    autocomplete_fields = ("filed_by",)
    # Who filed, when and whether late are facts of the filing, not editable afterwards;
    # the stage of a report follows the project's stage history.
    readonly_fields = ("history_link", "stage", "filed_by", "filed_at", "is_late")


# --- the review cycle ------------------------------------------------------------------
class ReadOnlyAdminMixin:
    """Records that the app writes through its services: browse and search only."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(MonthlyReport)
class MonthlyReportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """A published report is frozen: it is neither edited nor deleted, only republished."""

    list_display = ("__str__", "year", "month", "version", "published_at", "published_by")
    list_filter = ("year", "month")
    list_select_related = ("published_by",)
    search_fields = ("reason",)
    exclude = ("data",)


class RectificationItemInline(admin.TabularInline):
    model = RectificationItem
    extra = 0
    fields = ("description", "owner_unit", "deadline", "status", "overdue_since", "escalated")
    readonly_fields = ("status", "overdue_since")


@admin.register(Inspection)
class InspectionAdmin(admin.ModelAdmin):
    list_display = ("title", "year", "quarter", "region", "project", "inspected_on")
    list_filter = ("year", "quarter", "region")
    list_select_related = ("region", "project")
    search_fields = ("title", "findings", "project__name")
    raw_id_fields = ("project",)
    autocomplete_fields = ("created_by",)
    inlines = [RectificationItemInline]


@admin.register(RectificationItem)
class RectificationItemAdmin(admin.ModelAdmin):
    """Status moves on the inspection page (open → done → verified); read-only here."""

    list_display = (
        "description",
        "inspection",
        "owner_unit",
        "deadline",
        "status",
        "overdue_since",
        "escalated",
    )
    list_filter = ("status", "escalated", "inspection__region", "deadline")
    list_select_related = ("inspection", "inspection__region")
    search_fields = ("description", "owner_unit", "inspection__title")
    readonly_fields = ("status", "done_on", "verified_on", "verified_by", "overdue_since")
    raw_id_fields = ("inspection",)


@admin.register(AssessmentWeight)
class AssessmentWeightAdmin(admin.ModelAdmin):
    list_display = ("name", "year", "key", "weight", "sort_order")
    list_filter = ("year",)
    search_fields = ("name", "key", "definition")


@admin.register(AssessmentAdjustment)
class AssessmentAdjustmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Adjustments are made on the assessment page, which records who made them."""

    list_display = ("region", "year", "points", "reason", "adjusted_by", "adjusted_at")
    list_filter = ("year", "region")
    list_select_related = ("region", "adjusted_by")
    search_fields = ("reason",)


class ProblemEventInline(admin.TabularInline):
    model = ProblemEvent
    extra = 0
    can_delete = False
    fields = (
        "at",
        "action",
        "from_status",
        "to_status",
        "old_deadline",
        "new_deadline",
        "note",
        "by",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Problem)
class ProblemAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only here: a problem moves through the ledger's actions (/problems/), which check
    the steps, lock the row and record each one."""

    list_display = (
        "title",
        "chain",
        "region",
        "project",
        "status",
        "assigned_unit",
        "deadline",
        "overdue_since",
        "escalated",
    )
    list_filter = ("status", "chain", "region", "escalated", "deadline")
    list_select_related = ("chain", "region", "project")
    search_fields = ("title", "description", "assigned_unit", "project__name")
    inlines = [ProblemEventInline]


@admin.register(ProblemEvent)
class ProblemEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("problem", "action", "from_status", "to_status", "new_deadline", "by", "at")
    list_filter = ("action", "to_status")
    list_select_related = ("problem", "by")
    search_fields = ("problem__title", "note")


@admin.register(MissingDispatch)
class MissingDispatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("project", "iso_year", "iso_week", "flagged_at")
    list_filter = ("iso_year", "project__region")
    list_select_related = ("project",)
    search_fields = ("project__code", "project__name")
