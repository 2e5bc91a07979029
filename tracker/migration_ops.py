"""Migration operations of our own, shared by the migrations that use them.

``AddIndexLive`` and ``RemoveIndexLive`` build and drop an index without locking writes on a
live PostgreSQL (``CREATE/DROP INDEX CONCURRENTLY``, so the migration that uses them must be
``atomic = False``) and the ordinary way elsewhere (SQLite). A concurrent build that fails
(a deadlock, a cancelled statement) leaves an INVALID index behind: drop it and migrate again.
Kept stable: migrations import these by name.
"""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
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
