"""Demo accounts for the local demo (the command only calls this when DEBUG is on)."""

from django.conf import settings
from django.contrib.auth.hashers import make_password

from tracker.models import Project, User

from .loader import read_json


def ensure_demo_users(ref, groups_by_name, summary):
    """Create the missing demo accounts; existing accounts keep their password and fields.

    Group membership and the commissioner's projects are added when missing (never removed),
    and so are the name and unit of an account that has none yet: no unit and no name but
    the office label the demo accounts carried as first name before migration 0008.
    Returns the demo users in fixture order.
    """
    users = []
    encoded = None  # one hash for all: the password is published anyway, and hashing is slow
    for spec in read_json("demo_users.json")["users"]:
        user = User.objects.filter(username=spec["username"]).first()
        if user is None:
            user = User(
                username=spec["username"],
                display_name=spec["display_name"],
                unit=spec["unit"],
                is_superuser=spec["is_superuser"],
                is_staff=spec["is_staff"],
                role=spec["role"],
                region=ref.regions[spec["region"]] if spec.get("region") else None,
                chain=ref.chains[spec["chain"]] if spec.get("chain") else None,
            )
            encoded = encoded or make_password(settings.DEMO_PASSWORD)
            user.password = encoded
            user.save()
            summary.note(User, created=1)
        elif not user.unit and user.display_name in ("", user.last_name + user.first_name):
            user.display_name, user.unit = spec["display_name"], spec["unit"]
            user.save(update_fields=["display_name", "unit"])
            summary.note(User, updated=1)
        if spec["group"] and not user.groups.filter(name=spec["group"]).exists():
            user.groups.add(groups_by_name[spec["group"]])
        if spec.get("projects"):
            Project.objects.filter(code__in=spec["projects"], commissioner__isnull=True).update(
                commissioner=user
            )
        users.append(user)
    return users
