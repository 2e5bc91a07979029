"""Benchmark: how the main pages scale when the project book grows tenfold.

Run with ``make bench``. It seeds a scratch SQLite database (or the PostgreSQL database in
BENCH_DATABASE_URL), times each page with Django's test client, then adds nine synthetic
copies of every project (with their stage history and dispatches) and times the same pages
again in the same run. It prints, per page, the median time at 1× and 10× and their ratio,
plus the query counts. This machine is shared and noisy, so only the ratios measured side by
side mean something; nothing here asserts a time.
"""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yichun.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")
scratch = Path(tempfile.mkdtemp(prefix="yichun-bench-")) / "bench.sqlite3"
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{scratch}"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from tracker.models import Enterprise, Project, StageChange, User, WeeklyDispatch  # noqa: E402

PAGES = [
    ("project list", "/projects/?signed_year=2022"),
    ("project list, filtered", "/projects/?chain=1&billion=true&per_page=100"),
    ("project detail", "/projects/{pk}/"),
    ("dashboard 2022", "/dashboard/?year=2022"),
    ("monthly report 2022-12", "/reports/monthly/2022-12/"),
    ("assessment 2022", "/assessments/2022/"),
    ("problem ledger", "/problems/"),
    ("home (manager)", "/"),
]
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))


def measure(client, pk):
    results = {}
    for name, url in PAGES:
        url = url.format(pk=pk)
        client.get(url)  # warm up
        times = []
        for _ in range(REPEAT):
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter()
                response = client.get(url)
                times.append(time.perf_counter() - start)
            assert response.status_code == 200, (url, response.status_code)
        results[name] = (statistics.median(times), len(queries))
    return results


@transaction.atomic
def grow_tenfold():
    """Nine copies of every project, each with its stage history and dispatches."""
    originals = list(Project.objects.all())
    changes = list(StageChange.objects.all())
    dispatches = list(WeeklyDispatch.objects.all())
    by_project_changes, by_project_dispatches = {}, {}
    for c in changes:
        by_project_changes.setdefault(c.project_id, []).append(c)
    for d in dispatches:
        by_project_dispatches.setdefault(d.project_id, []).append(d)
    for copy in range(1, 10):
        enterprise = Enterprise.objects.create(
            name=f"基准测试企业{copy}", region=originals[0].region, is_sample=True
        )
        clones = []
        for p in originals:
            clone = Project(**{f.attname: getattr(p, f.attname) for f in Project._meta.fields})
            clone.pk = None
            clone.code = f"{p.code}-B{copy}"
            clone.enterprise = enterprise
            clones.append(clone)
        Project.objects.bulk_create(clones, batch_size=500)
        by_code = dict(Project.objects.filter(code__endswith=f"-B{copy}").values_list("code", "pk"))
        new_ids = {p.pk: by_code[f"{p.code}-B{copy}"] for p in originals}
        new_changes, new_dispatches = [], []
        for old_pk, new_pk in new_ids.items():
            for c in by_project_changes.get(old_pk, []):
                c2 = StageChange(
                    **{f.attname: getattr(c, f.attname) for f in StageChange._meta.fields}
                )
                c2.pk, c2.project_id = None, new_pk
                new_changes.append(c2)
            for d in by_project_dispatches.get(old_pk, []):
                d2 = WeeklyDispatch(
                    **{f.attname: getattr(d, f.attname) for f in WeeklyDispatch._meta.fields}
                )
                d2.pk, d2.project_id = None, new_pk
                new_dispatches.append(d2)
        StageChange.objects.bulk_create(new_changes, batch_size=1000)
        WeeklyDispatch.objects.bulk_create(new_dispatches, batch_size=1000)


def main():
    call_command("migrate", verbosity=0)
    call_command("seed", verbosity=0)
    client = Client(HTTP_HOST="localhost")
    client.force_login(User.objects.get(username="manager"))
    pk = Project.objects.order_by("pk").first().pk
    small = measure(client, pk)
    n_small = Project.objects.count()
    grow_tenfold()
    big = measure(client, pk)
    n_big = Project.objects.count()
    print(f"database: {connection.vendor}; projects {n_small} → {n_big}; median of {REPEAT}")
    print(f"{'page':28} {'1× ms':>8} {'10× ms':>8} {'ratio':>6} {'queries 1×/10×':>15}")
    for name, _url in PAGES:
        (t1, q1), (t2, q2) = small[name], big[name]
        print(f"{name:28} {t1 * 1000:8.1f} {t2 * 1000:8.1f} {t2 / t1:6.2f} {q1:>7}/{q2:<7}")


if __name__ == "__main__":
    main()
