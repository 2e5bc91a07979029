"""The back office: every model can be browsed, searched and filtered here.

Nothing is written here that the application's write paths do not write elsewhere: a
model is either saved through its topic's service, which checks the rules and records the
change history in the same transaction, or it is read-only.

=====================  ============================================  ============================
model                  written through                               history
=====================  ============================================  ============================
Project                ``projects_service.create_project`` (add),    ChangeLog; StageChange
                       ``services.update_project`` (change, with     (签约 on creation, each
                       the front end's ProjectForm rules),           stage change)
                       ``Project.advance_to`` (the "change stage"
                       action), ``projects_service.delete_project``
Inspection             ``inspections.create_inspection`` /           ChangeLog
                       ``update_inspection`` / ``delete_inspection``
RectificationItem      ``inspections.add_item`` / ``update_item`` /  ChangeLog
                       ``delete_item`` (status: the inspection page)
AssessmentWeight       ``assessments.set_weights`` (the per-year     ChangeLog
                       weights page, here and on the front end)
WeeklyDispatch,        read-only: the dispatch sheet, the problem    ChangeLog / ProblemEvent
Problem, ProblemEvent, ledger, the monthly report's publishing, the  written by those services
MonthlyReport,         assessment page and the daily check write
AssessmentAdjustment,  them
StageChange,
MissingDispatch,
ChangeLog
=====================  ============================================  ============================

Reference data — Region, Park, IndustryChain (with its chain leaders and anchor
enterprises), ChainLeader, Enterprise, AnnualIndicator, User (role, region, chain, staff
flags, groups) and auth's Group (model permissions) — has no rules beyond the model's own
validation and stays plain admin, but it is *tracked*: ``TrackedAdminMixin`` records every
creation, field change (many-to-many and inline rows included), password change and
deletion in the ChangeLog. Passwords and login times are never copied into the history
(``history.HISTORY_EXCLUDED``).

Login records — django-axes' AccessAttempt (the failure counts that lock an account or an
address), AccessLog (logins and logouts) and AccessFailureLog (failed logins) — are written by
its handler only (tracker/login_throttle.py) and are read-only here, except that deleting an
AccessAttempt lifts its lock at once.

Who may enter: ``permissions.may(user, ENTER, "site")``, and the account must be active
and marked staff: model permissions are not scoped by region, so county staff or
commissioners must not get in even if someone ticks "staff".
"""

from axes import admin as axes_admin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import models, transaction
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_tasks_db.models import DBTaskResult

from . import assessments, inspections, permissions, projects_service
from .choices import ChangeAction, Stage, Tier5020
from .forms import ProjectForm, WeightsForm
from .history import record_changes, record_creation, record_deletion, snapshot, snapshot_m2m
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
from .services import update_project
from .validators import TEXT_VALIDATORS, year_in_range

admin.site.site_header = _("Yichun industrial project tracker")
admin.site.site_title = _("Yichun industrial project tracker")
admin.site.index_title = _("Administration")


def _may_enter(request):
    return permissions.may_enter_admin(request.user)


admin.site.has_permission = _may_enter


# --- change history -------------------------------------------------------------------
def history_url(obj):
    ctype = ContentType.objects.get_for_model(obj, for_concrete_model=True)
    return (
        reverse("admin:tracker_changelog_changelist")
        + "?"
        + urlencode({"content_type__id__exact": ctype.pk, "object_id": obj.pk})
    )


def _date_field(model, path):
    """The date (or timestamp) field a lookup path such as ``project__signed_on__gte`` ends
    on, with the lookup after it; (None, None) for any other path."""
    parts = path.split("__")
    for n, part in enumerate(parts):
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return None, None
        if field.is_relation and field.related_model is not None:
            model = field.related_model
            continue
        if isinstance(field, models.DateField):  # DateTimeField too
            return field, "__".join(parts[n + 1 :])
        return None, None
    return None, None


def _date_value_in_range(lookup, value):
    if lookup == "year":
        return value.isdigit() and year_in_range(int(value))
    if lookup in ("month", "day", "isnull", "week_day", "iso_week_day"):
        return True  # Django itself refuses what is not a number
    parsed = parse_datetime(value) or parse_date(value[:10])
    return parsed is None or year_in_range(parsed.year)  # None: Django refuses it


class BoundedDateChangeList(ChangeList):
    """A list whose date lookups in the URL (the date hierarchy, the date filters) stay
    within the years the app deals in: at year 1 or 9999 the admin's own date arithmetic
    and the time-zone conversion overflow (a 500). Outside, the admin's answer to any
    invalid lookup (the list with "?e=1")."""

    def get_filters(self, request):
        for key, values in self.get_filters_params().items():
            field, lookup = _date_field(self.model, key)
            if field is not None and not all(_date_value_in_range(lookup, v) for v in values):
                raise IncorrectLookupParameters(key)
        return super().get_filters(request)


class BoundedDateLookupsMixin:
    def get_changelist(self, request, **kwargs):
        return BoundedDateChangeList


class HistoryLinkMixin(BoundedDateLookupsMixin):
    """Every admin of the app has it (so every list also gets the bounded date lookups)."""

    @admin.display(description=_("change history"))
    def history_link(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        return format_html('<a href="{}">{}</a>', history_url(obj), _("Show the change history"))


class TrackedAdminMixin(HistoryLinkMixin):
    """Reference data saved by the admin itself, every write recorded in the ChangeLog:
    creations (with their values), field changes, many-to-many changes, inline rows and
    deletions, in the admin's transaction."""

    def save_model(self, request, obj, form, change):
        if not change:
            obj.save()
            record_creation(obj, by=request.user, values=True)
            return
        before = snapshot(type(obj)._default_manager.get(pk=obj.pk))
        obj.save()
        # Read back what the database stored (decimal places), to compare like with like.
        obj.refresh_from_db()
        record_changes(obj, before, by=request.user)

    def save_related(self, request, form, formsets, change):
        obj = form.instance
        before = snapshot_m2m(obj) if change else dict.fromkeys(snapshot_m2m(obj), "")
        super().save_related(request, form, formsets, change)
        if before:
            record_changes(obj, before, by=request.user, after=snapshot_m2m(obj))

    def save_formset(self, request, form, formset, change):
        by = request.user
        model = formset.model
        pks = [f.instance.pk for f in formset.initial_forms if f.instance.pk]
        before = {o.pk: snapshot(o) for o in model._default_manager.filter(pk__in=pks)}
        for deleted in formset.deleted_forms:
            if deleted.instance.pk:
                record_deletion(deleted.instance, by=by)
        formset.save()
        for obj in formset.new_objects:
            record_creation(obj, by=by, values=True)
        for obj, _fields in formset.changed_objects:
            obj.refresh_from_db()
            record_changes(obj, before[obj.pk], by=by)

    def delete_model(self, request, obj):
        record_deletion(obj, by=request.user)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        # The list's "delete selected" action is not run in a transaction by the admin.
        with transaction.atomic():
            for obj in queryset:
                record_deletion(obj, by=request.user)
            super().delete_queryset(request, queryset)


class ReadOnlyAdminMixin(HistoryLinkMixin):
    """Records that the app writes through its services: browse and search only."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _apply_errors(form, error):
    """Put a service's ValidationError on the admin form (by field where there is one)."""
    if hasattr(error, "error_dict"):
        for field, messages_ in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages_)
    else:
        form.add_error(None, error.messages)


# --- reference data -------------------------------------------------------------------
@admin.register(Region)
class RegionAdmin(TrackedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "code", "kind", "ranked_in_assessment", "sort_order")
    list_filter = ("kind", "ranked_in_assessment")
    search_fields = ("name", "code")


@admin.register(Park)
class ParkAdmin(TrackedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "region")
    list_filter = ("region",)
    list_select_related = ("region",)
    search_fields = ("name", "region__name")


class ChainLeaderInline(admin.TabularInline):
    model = ChainLeader
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(IndustryChain)
class IndustryChainAdmin(TrackedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "code", "emerging", "is_leading", "lead_unit", "sort_order")
    list_filter = ("emerging", "is_leading")
    search_fields = ("name", "code", "lead_unit")
    filter_horizontal = ("anchor_enterprises",)
    inlines = [ChainLeaderInline]


@admin.register(ChainLeader)
class ChainLeaderAdmin(TrackedAdminMixin, admin.ModelAdmin):
    list_display = ("chain", "position", "title", "user", "sort_order")
    list_filter = ("chain", "position")
    list_select_related = ("chain", "user")
    search_fields = ("title", "chain__name", "user__display_name", "user__username")
    autocomplete_fields = ("user",)


@admin.register(User)
class UserAdmin(TrackedAdminMixin, DjangoUserAdmin):
    # Pages show a person by name and unit (``User.display``); Django's first and last name
    # are not asked for (0008 copied them into the name).
    personal = (DjangoUserAdmin.fieldsets[1][0], {"fields": ("display_name", "unit", "email")})
    fieldsets = (
        *DjangoUserAdmin.fieldsets[:1],
        personal,
        (_("Role and scope"), {"fields": ("role", "region", "chain")}),
        *DjangoUserAdmin.fieldsets[2:],
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        personal,
        (_("Role and scope"), {"fields": ("role", "region", "chain")}),
    )
    list_display = (
        "username",
        "display_name",
        "unit",
        "role",
        "region",
        "chain",
        "is_staff",
        "is_active",
    )
    list_filter = ("role", "region", "chain", "is_staff", "is_superuser", "is_active", "groups")
    list_select_related = ("region", "chain")
    search_fields = ("username", "display_name", "unit", "email", "first_name", "last_name")
    # Recorded by Django at login and creation, not typed in.
    readonly_fields = ("last_login", "date_joined")

    def user_change_password(self, request, id, form_url=""):
        # The password page saves the form itself, not through save_model: record that the
        # password changed (never the hash) when it did.
        with transaction.atomic():
            old = User.objects.filter(pk=id).values_list("password", flat=True).first()
            response = super().user_change_password(request, id, form_url)
            user = User.objects.filter(pk=id).first()
            if user is not None and user.password != old:
                ChangeLog.objects.create(
                    content_type=ContentType.objects.get_for_model(User),
                    object_id=user.pk,
                    object_repr=str(user)[:200],
                    action=ChangeAction.UPDATE,
                    field="password",
                    old_value="",
                    new_value=str(_("(changed)")),
                    changed_by=request.user,
                )
        return response


# Groups carry the back office's model permissions: tracked like the accounts.
admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(TrackedAdminMixin, DjangoGroupAdmin):
    pass


@admin.register(Enterprise)
class EnterpriseAdmin(TrackedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "credit_code", "region", "chain", "above_scale", "is_sample")
    list_filter = ("region", "chain", "above_scale", "is_sample")
    list_select_related = ("region", "chain")
    search_fields = ("name", "credit_code")


@admin.register(AnnualIndicator)
class AnnualIndicatorAdmin(TrackedAdminMixin, admin.ModelAdmin):
    list_display = ("year", "name", "value", "unit", "growth", "growth_unit", "provincial_rank")
    list_display_links = ("year", "name")
    list_filter = ("year",)
    search_fields = ("name", "key", "source")


@admin.register(ChangeLog)
class ChangeLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
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
    search_fields = (
        "object_repr",
        "field",
        "old_value",
        "new_value",
        "changed_by__display_name",
        "changed_by__username",
    )
    date_hierarchy = "changed_at"


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


# The project's model fields a form may give; the stage and the version are the app's.
PROJECT_FIELDS = [
    f.name
    for f in Project._meta.concrete_fields
    if f.editable and f.name not in projects_service.NOT_GIVEN and not f.primary_key
]


class ProjectChangeForm(ProjectForm):
    """The front end's project form — its rules (dates against the stage history, the
    cumulative investment that does not go down, the manager-only fields) — plus the code and
    the sample flag. Saved with ``services.update_project``; the stage moves with the
    "change the stage" action. Carries the version the user started from, so that a
    concurrent edit is refused."""

    # ``version`` is not editable, so the admin cannot put a field of that name on the page.
    expected_version = forms.IntegerField(
        label=_("version you started from"), widget=forms.HiddenInput, min_value=1
    )

    class Meta(ProjectForm.Meta):
        fields = ["code", *ProjectForm.Meta.fields, "is_sample"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("version", "opened_at", "target_stage", "stage_effective_on", "stage_note"):
            self.fields.pop(name, None)
        self.fields["expected_version"].initial = self.instance.version

    def clean(self):
        cleaned = super().clean()
        # The admin runs the whole request in a transaction: the row stays locked until
        # the save, so nobody can slip in between this check and the write.
        current = (
            Project.objects.select_for_update()
            .filter(pk=self.instance.pk)
            .values_list("version", flat=True)
            .first()
        )
        expected = cleaned.get("expected_version")
        if current is not None and expected is not None and expected != current:
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
    note = forms.CharField(
        label=_("note"), max_length=500, required=False, validators=TEXT_VALIDATORS
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["effective_on"].initial = timezone.localdate()


@admin.register(Project)
class ProjectAdmin(HistoryLinkMixin, admin.ModelAdmin):
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
        (
            _("Investment"),
            {"fields": ("annual_planned_investment", "completed_investment", "reason")},
        ),
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

    def get_fieldsets(self, request, obj=None):
        if obj is None:  # a new project starts at 签约; it has no version or history yet
            return [
                (name, {**options, "fields": [f for f in options["fields"] if f != "reason"]})
                for name, options in self.fieldsets
                if name not in (_("Stage"), _("Record"))
            ]
        return self.fieldsets

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            return super().get_form(request, obj, change=change, **kwargs)
        form = super().get_form(request, obj, change=change, form=ProjectChangeForm, **kwargs)
        user = request.user

        class ProjectChangeFormForUser(form):
            def __init__(self, *args, **kw):
                super().__init__(*args, user=user, **kw)

        return ProjectChangeFormForUser

    def save_model(self, request, obj, form, change):
        if not change:
            data = {name: form.cleaned_data[name] for name in PROJECT_FIELDS if name in form.fields}
            created = projects_service.create_project(data=data, by=request.user)
            obj.pk, obj._state.adding = created.pk, False
            return
        data = {
            name: form.cleaned_data[name] for name in form.changed_data if name in PROJECT_FIELDS
        }
        if data:
            # Also moves the project's problems to its new region or chain, with history.
            update_project(
                project_id=obj.pk,
                data=data,
                expected_version=form.cleaned_data["expected_version"],
                by=request.user,
                reason=form.lowering_reason(),
            )

    def delete_model(self, request, obj):
        projects_service.delete_project(project=obj, by=request.user)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for project in queryset:
                projects_service.delete_project(project=project, by=request.user)

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
class StageChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
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


@admin.register(WeeklyDispatch)
class WeeklyDispatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: the dispatch sheet (/dispatch/) files and corrects reports, checking the
    cap, the cumulative figures and the week, and keeps the project's own figure in step."""

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
    readonly_fields = ("history_link",)


# --- the review cycle ------------------------------------------------------------------
@admin.register(MonthlyReport)
class MonthlyReportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """A published report is frozen: it is neither edited nor deleted, only republished."""

    list_display = ("__str__", "year", "month", "version", "published_at", "published_by")
    list_filter = ("year", "month")
    list_select_related = ("published_by",)
    search_fields = ("reason",)
    exclude = ("data",)


class RectificationItemInline(admin.TabularInline):
    """Shown with the inspection; each item is added and edited on its own page (through
    ``inspections.add_item`` / ``update_item``), its status on the inspection page."""

    model = RectificationItem
    extra = 0
    fields = ("description", "owner_unit", "deadline", "status", "overdue_since", "escalated")
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ServiceAdminMixin(HistoryLinkMixin):
    """A model whose saves go through its topic's service: the form's ``clean`` asks the
    service's checks (so a refusal shows beside the field and nothing is saved), and
    ``save_model`` / ``delete_model`` call the service, which checks again under the row
    lock and records the history."""

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                self.delete_model(request, obj)


class InspectionAdminForm(forms.ModelForm):
    class Meta:
        model = Inspection
        fields = inspections.INSPECTION_FIELDS

    def clean(self):
        cleaned = super().clean()
        error = inspections.inspection_date_error(
            inspection=self.instance, inspected_on=cleaned.get("inspected_on")
        )
        if error:
            self.add_error("inspected_on", error)
        return cleaned


@admin.register(Inspection)
class InspectionAdmin(ServiceAdminMixin, admin.ModelAdmin):
    form = InspectionAdminForm
    list_display = ("title", "year", "quarter", "region", "project", "inspected_on")
    list_filter = ("year", "quarter", "region")
    list_select_related = ("region", "project")
    search_fields = ("title", "findings", "project__name")
    raw_id_fields = ("project",)
    readonly_fields = ("created_by", "created_at", "history_link")
    inlines = [RectificationItemInline]

    def save_model(self, request, obj, form, change):
        fields = form.changed_data if change else form.cleaned_data
        data = {name: form.cleaned_data[name] for name in fields if name in form._meta.fields}
        if change:
            if data:
                inspections.update_inspection(inspection=obj, data=data, by=request.user)
            return
        created = inspections.create_inspection(data=data, by=request.user)
        obj.pk, obj._state.adding = created.pk, False

    def delete_model(self, request, obj):
        inspections.delete_inspection(inspection=obj, by=request.user)


class RectificationItemAdminForm(forms.ModelForm):
    class Meta:
        model = RectificationItem
        fields = ("inspection", *inspections.ITEM_FIELDS)

    def clean(self):
        cleaned = super().clean()
        inspection = cleaned.get("inspection") or getattr(self.instance, "inspection", None)
        if inspection is not None and cleaned.get("deadline"):
            error = inspections.deadline_error(inspection=inspection, deadline=cleaned["deadline"])
            if error:
                self.add_error("deadline", error)
        return cleaned


@admin.register(RectificationItem)
class RectificationItemAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """Added and edited through ``inspections.add_item`` / ``update_item``; the status moves
    on the inspection page (open → done → verified, escalation)."""

    form = RectificationItemAdminForm
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
    raw_id_fields = ("inspection",)
    _STATUS_FIELDS = (
        "status",
        "done_on",
        "done_note",
        "verified_on",
        "verified_by",
        "escalated",
        "overdue_since",
        "history_link",
    )

    def get_readonly_fields(self, request, obj=None):
        # An item stays with the inspection it was found in.
        return self._STATUS_FIELDS if obj is None else ("inspection", *self._STATUS_FIELDS)

    def get_fields(self, request, obj=None):
        fields = ["inspection", *inspections.ITEM_FIELDS]
        return fields if obj is None else [*fields, *self._STATUS_FIELDS]

    def save_model(self, request, obj, form, change):
        if change:
            data = {
                name: form.cleaned_data[name]
                for name in form.changed_data
                if name in inspections.ITEM_FIELDS
            }
            if data:
                inspections.update_item(item=obj, data=data, by=request.user)
            return
        created = inspections.add_item(
            inspection=form.cleaned_data["inspection"],
            by=request.user,
            **{name: form.cleaned_data[name] for name in inspections.ITEM_FIELDS},
        )
        obj.pk, obj._state.adding = created.pk, False

    def delete_model(self, request, obj):
        inspections.delete_item(item=obj, by=request.user)


@admin.register(AssessmentWeight)
class AssessmentWeightAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """A year's weights are saved together (each 0–100, together exactly 100) with
    ``assessments.set_weights``, on the per-year page linked from the list."""

    list_display = ("name", "year", "key", "weight", "sort_order", "year_link")
    list_filter = ("year",)
    search_fields = ("name", "key", "definition")
    readonly_fields = ("year_link", "history_link")

    @admin.display(description=_("edit the year's weights"))
    def year_link(self, obj):
        url = reverse("admin:tracker_assessmentweight_year", args=[obj.year])
        return format_html(
            '<a href="{}">{}</a>', url, _("Edit the weights of %(year)s") % {"year": obj.year}
        )

    def get_urls(self):
        return [
            path(
                "year/<int:year>/",
                self.admin_site.admin_view(self.year_view),
                name="tracker_assessmentweight_year",
            ),
            *super().get_urls(),
        ]

    def year_view(self, request, year):
        if not permissions.may(request.user, permissions.ADJUST, "assessment"):
            raise PermissionDenied
        form = WeightsForm(request.POST or None, weights=assessments.weights_for(year))
        if request.method == "POST" and form.is_valid():
            try:
                assessments.set_weights(year=year, values=form.values(), by=request.user)
            except ValidationError as error:
                _apply_errors(form, error)
            else:
                self.message_user(
                    request, _("The weights of %(year)s were saved.") % {"year": year}
                )
                return redirect(
                    reverse("admin:tracker_assessmentweight_changelist") + f"?year={year}"
                )
        return TemplateResponse(
            request,
            "admin/tracker/assessmentweight/year.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Assessment weights %(year)s") % {"year": year},
                "opts": self.model._meta,
                "form": form,
                "year": year,
            },
        )


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


# --- login records (django-axes; settings.AXES_ENABLE_ADMIN is off, they are shown here) ---
class LoginRecordAdminMixin(BoundedDateLookupsMixin):
    """Written by the login throttle only: browse and search (dates bounded like every list)."""

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AccessAttempt)
class AccessAttemptAdmin(LoginRecordAdminMixin, axes_admin.AccessAttemptAdmin):
    """Deleting a row lifts the lock it holds (the delete permission is axes' default)."""


@admin.register(AccessLog)
class AccessLogAdmin(LoginRecordAdminMixin, axes_admin.AccessLogAdmin):
    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AccessFailureLog)
class AccessFailureLogAdmin(LoginRecordAdminMixin, axes_admin.AccessFailureLogAdmin):
    def has_delete_permission(self, request, obj=None):
        return False


# --- background work (issue 10) ---
# django-tasks-db registers its queue rows in the admin. They are the engine's bookkeeping,
# in English, and not a back-office topic: a job is seen by its requester on its own page
# (tracker/views/jobs.py), and workers are watched through their logs.
if admin.site.is_registered(DBTaskResult):
    admin.site.unregister(DBTaskResult)
