"""The role groups, kept complete for models added after migration 0002_role_groups.

Migration 0002 creates the four groups with the permissions of the models that existed then.
``ensure_role_groups`` applies the same rules to every tracker model of today's code, adding
what is missing and never removing anything (an administrator may have widened a group).
"""

from django.apps import apps
from django.contrib.auth.models import Group, Permission

from tracker.choices import Role

GROUP_NAMES = {
    Role.MANAGER: "市工信局管理员",
    Role.COUNTY: "县市区工作人员",
    Role.COMMISSIONER: "企业特派员",
    Role.CHAIN_OFFICE: "链长办",
}
REFERENCE = ["region", "park", "industrychain", "chainleader", "enterprise", "annualindicator"]
HISTORY = ["stagechange"]
MANAGER_READ_ONLY = ["user", "changelog"]


def rules(model_names):
    """Group name → set of (codename, model name), as in migration 0002."""

    def perms(models, actions):
        return {(f"{action}_{model}", model) for model in models for action in actions}

    readonly = perms(REFERENCE + HISTORY, ["view"])
    staff = (
        readonly
        | perms(["project"], ["view", "change"])
        | perms(["weeklydispatch"], ["view", "add", "change"])
    )
    editable = [m for m in model_names if m not in MANAGER_READ_ONLY]
    return {
        GROUP_NAMES[Role.MANAGER]: perms(model_names, ["view"])
        | perms(editable, ["add", "change"]),
        GROUP_NAMES[Role.COUNTY]: staff,
        GROUP_NAMES[Role.COMMISSIONER]: staff,
        GROUP_NAMES[Role.CHAIN_OFFICE]: readonly | perms(["project", "weeklydispatch"], ["view"]),
    }


def ensure_role_groups():
    """Create missing groups and add missing permissions; returns the groups by role."""
    model_names = [m._meta.model_name for m in apps.get_app_config("tracker").get_models()]
    available = {
        (p.codename, p.content_type.model): p
        for p in Permission.objects.filter(content_type__app_label="tracker").select_related(
            "content_type"
        )
    }
    groups = {}
    for name, wanted in rules(model_names).items():
        group, _created = Group.objects.get_or_create(name=name)
        have = set(group.permissions.values_list("codename", "content_type__model"))
        missing = [available[key] for key in sorted(wanted - have) if key in available]
        if missing:
            group.permissions.add(*missing)
        groups[name] = group
    return {role: groups[name] for role, name in GROUP_NAMES.items()}
