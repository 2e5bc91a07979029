"""/healthz: may a load balancer send requests to this app process?

Yes ("200 ok") when the database answers and every migration on disk is applied to it;
otherwise "503 unavailable". The answer says nothing else: no version, no host name, no
error (the reason goes to the server log). No login, GET and HEAD only, never cached.

Each request asks the database afresh (``SELECT 1`` and the ``django_migrations`` rows,
through Django's MigrationExecutor: about 5 ms once the migration modules are imported),
so an instance left running across a release without ``migrate`` reports itself unfit.
"""

import logging

from django.contrib.auth.decorators import login_not_required
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)


def unapplied_migrations(connection):
    """The migrations on disk that the database has not recorded as applied."""
    executor = MigrationExecutor(connection)
    return executor.migration_plan(executor.loader.graph.leaf_nodes())


def database_is_ready(alias=DEFAULT_DB_ALIAS):
    connection = connections[alias]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        plan = unapplied_migrations(connection)
    except Exception:
        logger.warning("health check: database %r is not reachable", alias, exc_info=True)
        return False
    if plan:
        logger.warning(
            "health check: %d migration(s) not applied, first %s.%s",
            len(plan),
            plan[0][0].app_label,
            plan[0][0].name,
        )
        return False
    return True


@login_not_required
@require_safe
@never_cache
def healthz(request):
    if database_is_ready():
        return HttpResponse("ok", content_type="text/plain; charset=utf-8")
    return HttpResponse("unavailable", status=503, content_type="text/plain; charset=utf-8")
