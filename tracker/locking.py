"""Optimistic locking: the one mechanism for every edit that starts from a page opened earlier.

A row that people edit from a form carries a ``version`` (a positive integer, 1 when
created). A page remembers the version it showed; a save names it as ``expected_version``.
The save is refused with :class:`Conflict` (carrying the current row, so the page can show
the other person's values next to the user's) when the row has moved on, and every
successful save bumps the version. Nothing is written on a conflict.

Two ways to apply it, one rule:

- :func:`update` for a writer of one row that holds no lock: the version guard sits in the
  UPDATE's WHERE clause, so a save that lands between the read and the write matches no row
  (the project form, the problem steps).
- :func:`check` for a writer that has already locked the row (``select_for_update``) and
  writes many rows in bulk (the weekly dispatch sheet): compare, then write with
  :func:`bumped`. A row that does not exist yet has version 0 (``NO_ROW``), so "the page saw
  no report, but one has been filed since" is a conflict too.
"""

from django.db.models import F

NO_ROW = 0


class Conflict(Exception):
    """The row was saved by someone else after the page was opened; nothing was written.

    ``current``: the row as it is now (freshly read; None if it does not exist);
    ``expected_version``: the version the page was opened with.
    """

    def __init__(self, current, *, expected_version):
        self.current = current
        self.expected_version = expected_version
        found = version_of(current)
        super().__init__(f"{current!r}: expected version {expected_version}, found {found}")


def version_of(row):
    return NO_ROW if row is None else row.version


def bumped():
    """The expression that bumps the version in an UPDATE."""
    return F("version") + 1


def check(current, expected_version):
    """Raise :class:`Conflict` unless ``current`` (read under a lock, or None for no row)
    is still at ``expected_version``."""
    if version_of(current) != expected_version:
        raise Conflict(current, expected_version=expected_version)


def update(queryset, *, pk, expected_version, **changes):
    """``UPDATE … SET changes, version = version + 1 WHERE pk = … AND version = expected``.

    Raises :class:`Conflict` with the freshly read row when no row matched (someone else
    saved first). ``queryset`` is the model's manager or a queryset of it.
    """
    updated = queryset.filter(pk=pk, version=expected_version).update(**changes, version=bumped())
    if not updated:
        raise Conflict(queryset.filter(pk=pk).first(), expected_version=expected_version)
    return updated
