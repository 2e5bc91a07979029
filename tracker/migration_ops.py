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


class _LiveWhereTheDatabaseCan:
    """The concurrent operation on PostgreSQL, ``plain`` (its ordinary form) elsewhere."""

    plain = None

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        run = super().database_forwards if _live(schema_editor) else self._plain_forwards
        return run(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        run = super().database_backwards if _live(schema_editor) else self._plain_backwards
        return run(app_label, schema_editor, from_state, to_state)

    def _plain_forwards(self, *args):
        return self.plain.database_forwards(self, *args)

    def _plain_backwards(self, *args):
        return self.plain.database_backwards(self, *args)


class AddIndexLive(_LiveWhereTheDatabaseCan, AddIndexConcurrently):
    """AddIndex, concurrently where the database can."""

    plain = AddIndex


class RemoveIndexLive(_LiveWhereTheDatabaseCan, RemoveIndexConcurrently):
    """RemoveIndex, concurrently where the database can."""

    plain = RemoveIndex
