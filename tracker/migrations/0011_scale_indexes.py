"""Indexes for the project list's sorts and filters at province scale (issue 10).

Built without locking writes: on PostgreSQL ``CREATE INDEX CONCURRENTLY`` (and ``DROP INDEX
CONCURRENTLY`` for the two they replace), which cannot run in a transaction, so the migration
is not atomic; other databases (SQLite) build them the ordinary way. A concurrent build that
fails (a deadlock, a cancelled statement) leaves an INVALID index behind: drop it and run the
migration again.

``project_signed_code_idx`` (signed_on DESC, code) is the list's default order and replaces
``project_signed_on_idx``; ``project_stage_id_idx`` (stage, id) serves the stage filter and
the sort by stage and replaces ``project_stage_idx``.
"""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models
from django.db.migrations.operations import AddIndex, RemoveIndex


def _live(schema_editor):
    return schema_editor.connection.vendor == "postgresql"


class AddIndexLive(AddIndexConcurrently):
    """AddIndex, concurrently where the database can."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if _live(schema_editor):
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if _live(schema_editor):
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class RemoveIndexLive(RemoveIndexConcurrently):
    """RemoveIndex, concurrently where the database can."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if _live(schema_editor):
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return RemoveIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if _live(schema_editor):
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return RemoveIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("tracker", "0010_background_jobs"),
    ]

    operations = [
        AddIndexLive(
            model_name="project",
            index=models.Index(fields=["-signed_on", "code"], name="project_signed_code_idx"),
        ),
        RemoveIndexLive(model_name="project", name="project_signed_on_idx"),
        AddIndexLive(
            model_name="project",
            index=models.Index(fields=["stage", "id"], name="project_stage_id_idx"),
        ),
        RemoveIndexLive(model_name="project", name="project_stage_idx"),
        AddIndexLive(
            model_name="project",
            index=models.Index(fields=["signed_amount", "id"], name="project_amount_id_idx"),
        ),
        AddIndexLive(
            model_name="project",
            index=models.Index(fields=["name", "id"], name="project_name_id_idx"),
        ),
    ]
