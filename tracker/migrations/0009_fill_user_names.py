"""Names for the accounts that 0008 gave a 姓名 column (see its docstring).

A migration of its own: 0008's ALTER TABLE holds the table lock until its transaction ends,
so reading accounts and rewriting history there would keep every signed-in request waiting.
Here only row locks are taken: an account whose Django first/last name is filled gets them as
its name, and the change-history values that recorded it by its login are rewritten to the
name, one UPDATE per login and column (the history keeps who it was; the login itself stays
in the account).
"""

from django.db import migrations


def joined_name(first, last):
    first, last = first.strip(), last.strip()
    if first.isascii() and last.isascii():
        return " ".join(part for part in (first, last) if part)
    return last + first


def user_fields(apps):
    """(content type id, field name) of every foreign key of a tracker model to an account."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    pairs = []
    for model in apps.get_app_config("tracker").get_models():
        names = [
            f.name
            for f in model._meta.concrete_fields
            if f.is_relation and f.related_model._meta.label_lower == "tracker.user"
        ]
        ctype = ContentType.objects.filter(app_label="tracker", model=model._meta.model_name)
        ctype = ctype.first() if names else None
        if ctype is not None:
            pairs += [(ctype.pk, name) for name in names]
    return pairs


def fill_names(apps, schema_editor):
    User = apps.get_model("tracker", "User")
    ChangeLog = apps.get_model("tracker", "ChangeLog")
    named = {}
    users = User.objects.filter(display_name="").exclude(first_name="", last_name="")
    for user in list(users.only("username", "first_name", "last_name")):
        name = joined_name(user.first_name, user.last_name)[:64]
        if name:
            User.objects.filter(pk=user.pk).update(display_name=name)
            named[user.username] = name
    if not named:
        return
    # Only the few history rows that hold one of these logins are read and rewritten.
    for ctype_id, field in user_fields(apps):
        rows = ChangeLog.objects.filter(content_type_id=ctype_id, field=field)
        for column in ("old_value", "new_value"):
            found = rows.filter(**{f"{column}__in": list(named)}).values_list("pk", column)
            for login in {login for _pk, login in found}:
                rows.filter(**{column: login}).update(**{column: named[login]})


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("tracker", "0008_user_names"),
    ]

    operations = [migrations.RunPython(fill_names, migrations.RunPython.noop)]
