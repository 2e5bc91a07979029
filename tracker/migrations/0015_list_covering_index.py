"""The project list's default order as a covering index (issue 10).

A deep page of the list reads its 50 ids with ``ORDER BY signed_on DESC, code, id OFFSET n``
(tracker.tables.PageData). With ``project_signed_code_idx`` PostgreSQL fetched every skipped
row from the table to read its id: page 1000 of 100,000 projects took 155 ms of SQL against
9 ms from an index that holds the id too (an index-only scan of the skipped entries). This
index replaces that one; built and dropped concurrently on PostgreSQL (``atomic = False``).
SQLite has no covering indexes: there it is the same index under its new name.
"""

from django.db import migrations, models

from tracker.migration_ops import AddIndexLive, RemoveIndexLive


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("tracker", "0014_bulk_jobs"),
    ]

    operations = [
        AddIndexLive(
            model_name="project",
            index=models.Index(
                fields=["-signed_on", "code"], include=["id"], name="project_signed_code_id_idx"
            ),
        ),
        RemoveIndexLive(model_name="project", name="project_signed_code_idx"),
    ]
