"""Accounts get a name (姓名) and a unit (单位), so that pages show people, not logins.

Schema: two text columns with an empty database default. On PostgreSQL ≥ 11 adding a
column with a constant default changes only the catalogue (no table rewrite), and the
default stays, so processes of the previous release that create accounts meanwhile still
insert. Like 0007, the migration gives up after a short wait for the table lock
(``lock_timeout``) rather than queueing every request behind a long transaction; it can
simply be run again.

Data (0009_fill_user_names, a migration of its own so that this one's table lock is released
before any row is read): an account whose Django first/last name is filled gets them as its name (Chinese
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
    ]
