"""Accounts get a name (姓名) and a unit (单位), so that pages show people, not logins.

Schema: two text columns with an empty database default. On PostgreSQL ≥ 11 adding a
column with a constant default changes only the catalogue (no table rewrite), and the
default stays, so processes of the previous release that create accounts meanwhile still
insert. Like 0007, the migration gives up after a short wait for the table lock
(``lock_timeout``) rather than queueing every request behind a long transaction; it can
simply be run again.

Data: an account whose Django first/last name is filled gets them as its name (Chinese
order, family name first: 陈 + 丽华 → 陈丽华; Latin names keep "first last"). Change-history
values that recorded such an account by its login (a project's commissioner, a problem's
raiser, an item's verifier …) are rewritten to the name. Accounts without either keep an
empty name: they are shown as "unnamed user (role · region)" until the admin names them.
"""

from django.db import migrations, models

import tracker.validators

LOCK_TIMEOUT = "5s"


def short_lock_waits(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")


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
            for pk, login in list(found):
                ChangeLog.objects.filter(pk=pk).update(**{column: named[login]})


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("tracker", "0007_date_bounds_constraints"),
    ]

    operations = [
        migrations.RunPython(short_lock_waits, migrations.RunPython.noop, elidable=True),
        migrations.AddField(
            model_name="user",
            name="display_name",
            field=models.CharField(
                blank=True,
                db_default="",
                default="",
                help_text="The person's full name as colleagues know it, e.g. 陈丽华.",
                max_length=64,
                validators=[tracker.validators.validate_no_control_characters],
                verbose_name="full name",
            ),
        ),
        migrations.AddField(
            model_name="user",
            name="unit",
            field=models.CharField(
                blank=True,
                db_default="",
                default="",
                help_text="Where the person works, e.g. 袁州区工业和信息化局.",
                max_length=128,
                validators=[tracker.validators.validate_no_control_characters],
                verbose_name="unit",
            ),
        ),
        migrations.RunPython(fill_names, migrations.RunPython.noop),
    ]
