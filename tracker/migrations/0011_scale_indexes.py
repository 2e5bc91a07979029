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

from django.db import migrations, models

from tracker.migration_ops import AddIndexLive, RemoveIndexLive


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
