"""Benchmark at the seed's size and at province scale, side by side, in one run (``make bench``).

1. Two scratch PostgreSQL databases: ``..._bench_seed`` (migrate, seed with the demo
   accounts) and ``..._bench_scale`` (the same, then ``generate_scale_data`` with
   BENCH_PROJECTS × BENCH_WEEKS). A scale database that already holds that size is reused
   (migrated, not regenerated): the output says so.
2. For each: gunicorn with 2 workers and DEBUG off (plain HTTP on 127.0.0.1, the README's
   settings for a bench), a login per role, and for each page BENCH_ROUNDS alternations of
   the page and the trivial page B (/accounts/password_change/), each a BENCH_SECONDS slice
   of BENCH_THREADS client threads: req/s, p50, p95 and the median ratio to B. A page whose
   one request takes longer than BENCH_SECONDS is reported as that request's time.
3. In a separate process against the same database (Django's test client): queries per
   page, and EXPLAIN (ANALYZE, BUFFERS) of each page's slowest query.
4. Exports of all projects (CSV, XLSX) and of about 1,000 (one region): time and the peak
   RSS of a fresh process, against ``COPY (SELECT the same columns) TO STDOUT``.

A page that answers 404 or an error is reported as such. Nothing asserts a time: the
machine is shared and noisy, only the ratios measured side by side mean something. The
table goes to stdout and to bench-results/<timestamp>.md.

Knobs (environment): BENCH_DATABASE_URL (the scale database; the seed's is the same with
``_bench_seed``; by default ``..._bench_scale``, with ``_<projects>x<weeks>`` for another
size), BENCH_PROJECTS (100000), BENCH_WEEKS (52), BENCH_ROUNDS (3), BENCH_SECONDS (2),
BENCH_THREADS (3), BENCH_TIMEOUT (gunicorn's, 300 s), BENCH_SIZES (``seed,scale``),
BENCH_PAGES and BENCH_SKIP (comma-separated parts of page names to keep or leave out),
BENCH_EXPORTS (0 leaves the exports out),
BENCH_PORT (8350).
"""

import datetime
import http.client
import json
import math
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/yichun_bench_scale"
B_URL = "/accounts/password_change/"
ROLES = {  # role → demo account (fixtures/demo_users.json)
    "manager": "manager",
    "county": "yuanzhou",
    "commissioner": "tepaiyuan",
    "chain office": "lidian",
}


def env_int(name, default):
    return int(os.environ.get(name) or default)


PROJECTS = env_int("BENCH_PROJECTS", 100_000)
WEEKS = env_int("BENCH_WEEKS", 52)
ROUNDS = env_int("BENCH_ROUNDS", 3)
SECONDS = float(os.environ.get("BENCH_SECONDS") or 2)
THREADS = env_int("BENCH_THREADS", 3)
TIMEOUT = env_int("BENCH_TIMEOUT", 300)
PORT = env_int("BENCH_PORT", 8350)
# The single-row POSTs stop after this long and are extrapolated to all rows.
SINGLE_POSTS_SECONDS = 60
MARK = "基准测试"  # the progress text of the reports the bench files (removed afterwards)


def urls():
    """The two databases. Another size than the default gets a database of its own
    (``..._bench_scale_20000x52``), so that a small run never replaces the big one."""
    scale = os.environ.get("BENCH_DATABASE_URL")
    if not scale:
        scale = DEFAULT_URL
        if (PROJECTS, WEEKS) != (100_000, 52):
            scale += f"_{PROJECTS}x{WEEKS}"
    parts = urllib.parse.urlsplit(scale)
    base = parts.path.lstrip("/").split("_bench_scale")[0]
    seed = parts._replace(path=f"/{base}_bench_seed").geturl()
    return {"seed": seed, "scale": scale}


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# --- the databases ----------------------------------------------------------------------------
def db_env(url, *, debug):
    env = dict(os.environ, DATABASE_URL=url, DJANGO_SETTINGS_MODULE="yichun.settings")
    env.pop("DJANGO_DEBUG", None)
    if debug:
        env["DJANGO_DEBUG"] = "1"
    else:
        env.update(
            DJANGO_SECRET_KEY="bench-only-secret-not-for-production-0123456789",
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
            DJANGO_SECURE_SSL_REDIRECT="0",
            DJANGO_SECURE_HSTS_SECONDS="0",
            DJANGO_SECURE_COOKIES="0",
        )
    return env


def manage(url, *args, debug=True, quiet=False):
    started = time.monotonic()
    subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=db_env(url, debug=debug),
        check=True,
        stdout=subprocess.DEVNULL if quiet else sys.stderr,
    )
    return time.monotonic() - started


def pg(url, dbname=None):
    import psycopg  # only the orchestrator's helpers; the app's own code runs in Django

    parts = urllib.parse.urlsplit(url)
    if dbname:
        parts = parts._replace(path=f"/{dbname}")
    return psycopg.connect(parts.geturl(), autocommit=True)


def db_exists(url):
    name = urllib.parse.urlsplit(url).path.lstrip("/")
    with pg(url, "postgres") as conn:
        return bool(conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone())


def recreate(url):
    name = urllib.parse.urlsplit(url).path.lstrip("/")
    with pg(url, "postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def scale_size(url):
    """(generated projects, weeks of their dispatches) in an existing database, or None."""
    try:
        with pg(url) as conn:
            projects = conn.execute(
                "SELECT count(*) FROM tracker_project WHERE code LIKE 'GS-%%'"
            ).fetchone()[0]
            weeks = conn.execute(
                "SELECT count(DISTINCT (iso_year, iso_week)) FROM tracker_weeklydispatch d "
                "JOIN tracker_project p ON p.id = d.project_id WHERE p.code LIKE 'GS-%%' "
                "AND d.progress NOT LIKE %s",
                [f"{MARK}%"],
            ).fetchone()[0]
            return projects, weeks
    except Exception:  # no database, no tables: not the size asked
        return None


def prepare(size, url):
    """Make the database of ``size``; returns a line for the report."""
    if size == "scale" and db_exists(url) and scale_size(url) == (PROJECTS, WEEKS):
        seconds = manage(url, "migrate", "--noinput", "-v0")
        return (
            f"scale database reused ({PROJECTS:,} × {WEEKS} already there; migrate {seconds:.0f} s)"
        )
    recreate(url)
    times = [manage(url, "migrate", "--noinput", "-v0")]
    times.append(manage(url, "seed", quiet=True))
    line = f"{size} database created (migrate {times[0]:.0f} s, seed {times[1]:.0f} s"
    if size == "scale":
        seconds = manage(
            url, "generate_scale_data", "--projects", str(PROJECTS), "--weeks", str(WEEKS)
        )
        line += f", generate_scale_data {PROJECTS:,} × {WEEKS} {seconds:.0f} s"
    return line + ")"


# --- in-process helpers (run as `bench.py --inproc MODE`, Django set up with DEBUG off) -------
def inproc(url, mode, payload=None):
    result = subprocess.run(
        [PYTHON, __file__, "--inproc", mode],
        cwd=ROOT,
        env=db_env(url, debug=False),
        input=json.dumps(payload or {}),
        capture_output=True,
        text=True,
    )
    if result.returncode:
        log(result.stderr[-3000:])
        raise RuntimeError(f"in-process {mode} failed")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _django():
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def discover():
    """The pages to measure on this database, with their URLs resolved."""
    from django.urls import NoReverseMatch, reverse
    from django.utils import timezone

    from tracker.choices import Stage
    from tracker.models import Project, Region, User, WeeklyDispatch
    from tracker.tables import ProjectTable

    def url(name, *args, query=""):
        try:
            return reverse(f"tracker:{name}", args=args) + query
        except NoReverseMatch:
            return None

    manager = User.objects.get(username=ROLES["manager"])
    visible = Project.objects.visible_to(manager)
    count = visible.count()
    last = max(1, math.ceil(count / 50))
    deep = 1000 if last > 1000 else max(1, last // 2)
    region = Region.objects.get(code="yuanzhou")
    middle = visible.order_by("pk").values_list("pk", flat=True)[count // 2]
    table = ProjectTable(Project.objects.none())
    sortable = [c.name for c in table.columns if c.orderable]
    sort_key = table.prefixed_order_by_field
    today = timezone.localdate()
    latest = (today.replace(day=1) - datetime.timedelta(days=1)).strftime("%Y-%m")
    lst = url("project_list")
    pages = [(f"home ({role})", role, url("home")) for role in ROLES]
    pages += [
        ("project list, page 1", "manager", lst),
        (
            "project list, region + stage",
            "manager",
            f"{lst}?region={region.pk}&stage={Stage.STARTED}",
        ),
    ]
    pages += [
        (f"project list, sorted by {c}", "manager", f"{lst}?{sort_key}={c}") for c in sortable
    ]
    pages += [
        ("project list, deep page (1000, or the middle)", "manager", f"{lst}?page={deep}"),
        ("project list, last page", "manager", f"{lst}?page={last}"),
        ("project list (county clerk)", "county", f"{lst}?region={region.pk}"),
        ("project page", "manager", url("project_detail", middle)),
        ("周调度 sheet (county clerk)", "county", url("dispatch")),
        ("dashboard, this year", "manager", url("dashboard")),
        ("dashboard 2022", "manager", url("dashboard", query="?year=2022")),
        (f"月通报 {latest}", "manager", url("monthly_report", latest)),
        (f"月通报 {latest} XLSX", "manager", url("monthly_report", latest, query="?export=xlsx")),
        ("月通报 2022-12", "manager", url("monthly_report", "2022-12")),
        ("月通报 2022-12 XLSX", "manager", url("monthly_report", "2022-12", query="?export=xlsx")),
        ("problem ledger", "manager", url("problem_list")),
        ("problem ledger (chain office)", "chain office", url("problem_list")),
        ("inspections", "manager", url("inspection_list")),
        ("年考核 2022", "manager", url("assessment_year", 2022)),
    ]
    wanted = [w.strip() for w in os.environ.get("BENCH_PAGES", "").split(",") if w.strip()]
    if wanted:
        pages = [p for p in pages if any(w in p[0] for w in wanted)]
    skipped = [w.strip() for w in os.environ.get("BENCH_SKIP", "").split(",") if w.strip()]
    pages = [p for p in pages if not any(w in p[0] for w in skipped)]
    clerk_region = region.pk
    return {
        "pages": [p for p in pages if p[2]],
        "missing": [p[0] for p in pages if not p[2]],
        "projects": count,
        "dispatches": WeeklyDispatch.objects.count(),
        "clerk_region": clerk_region,
    }


def queries(payload):
    """Queries per page, the slowest one and its EXPLAIN (ANALYZE, BUFFERS)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tracker.models import User

    clients = {}
    out = {}
    for name, role, url in payload["pages"]:
        client = clients.get(role)
        if client is None:
            client = clients[role] = Client()
            client.force_login(User.objects.get(username=ROLES[role]))
        try:
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(url)
                if getattr(response, "streaming", False):
                    b"".join(response.streaming_content)
                seconds = time.perf_counter() - started
        except Exception as exc:  # a broken page is reported, not fatal
            out[name] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
            continue
        entries = [q for q in captured.captured_queries if q["sql"]]
        slowest = max(entries, key=lambda q: float(q["time"]), default=None)
        plan = ""
        if slowest and re.match(r"\s*(SELECT|WITH)\b", slowest["sql"], re.I):
            try:
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest["sql"])
                    plan = "\n".join(row[0] for row in cursor.fetchall())
            except Exception as exc:
                plan = f"(EXPLAIN failed: {exc})"
        sql_seconds = sum(float(q["time"]) for q in entries)
        out[name] = {
            "status": response.status_code,
            "queries": len(entries),
            "seconds": seconds,
            "sql_seconds": sql_seconds,
            "slowest_seconds": float(slowest["time"]) if slowest else 0,
            "slowest_sql": slowest["sql"][:4000] if slowest else "",
            "plan": plan,
        }
    return out


# The stored columns of the project book over plain joins (no light): a reference beside the
# COPY of the export's own query (copy_time).
BARE_EXPORT_SQL = """
  SELECT p.code, p.name, e.name, e.credit_code, r.name, pk.name, c.name, p.capital_source,
         p.signed_on, p.signed_amount, p.planned_start_on, p.planned_production_on,
         p.actual_start_on, p.actual_production_on, p.annual_planned_investment,
         p.completed_investment, p.stage, p.responsible_leader, p.responsible_unit,
         u.display_name, p.is_sample
  FROM tracker_project p
  JOIN tracker_enterprise e ON e.id = p.enterprise_id
  JOIN tracker_region r ON r.id = p.region_id
  JOIN tracker_industrychain c ON c.id = p.chain_id
  LEFT JOIN tracker_park pk ON pk.id = p.park_id
  LEFT JOIN tracker_user u ON u.id = p.commissioner_id
  {where}
  ORDER BY p.signed_on DESC, p.code
"""


def export_one(payload):
    """One export through the view, in this fresh process: time, bytes, peak RSS."""
    from django.test import Client

    from tracker.models import User

    client = Client()
    client.force_login(User.objects.get(username=ROLES["manager"]))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    response = client.get(payload["url"])
    size = 0
    if response.status_code == 302 and "/jobs/" in response["Location"]:
        # A big export is a background job: run it here, as a worker does, and count its file.
        from tracker import jobs, tasks
        from tracker.models import Job, JobState

        # The job the redirect names: "latest queued" may be another run's (an export asked
        # again while it waits or runs gets the pending job back).
        pk = int(re.search(r"/jobs/(\d+)", response["Location"])[1])
        job = jobs.claim(pk, worker_id="bench")
        if job is None:
            state = Job.objects.filter(pk=pk).values_list("state", flat=True).first()
            raise RuntimeError(f"job {pk} is {state}, not queued: an earlier run's?")
        tasks.RUNNERS[job.kind](job)
        job.refresh_from_db()
        kind = f"job: {job.state}"
        size = job.file_size or 0
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        job.delete()
        return {
            "status": 200 if job.state == JobState.DONE else job.state,
            "type": kind,
            "bytes": size,
            "seconds": seconds,
            "rss_before_mib": before / 1024,
            "rss_peak_mib": after / 1024,
        }
    if getattr(response, "streaming", False):
        for chunk in response.streaming_content:
            size += len(chunk)
    else:
        size = len(response.content)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kind = response.get("Content-Type", "")
    return {
        "status": response.status_code,
        "type": kind,
        "bytes": size,
        "seconds": seconds,
        "rss_before_mib": before / 1024,
        "rss_peak_mib": after / 1024,
    }


def _copy_seconds(sql, params=()):
    from django.db import connection

    with connection.cursor() as cursor:
        started = time.perf_counter()
        size = 0
        with cursor.cursor.copy(f"COPY ({sql}) TO STDOUT", params) as copy:
            for data in copy:
                size += len(data)
        return {"seconds": time.perf_counter() - started, "bytes": size}


def copy_time(payload):
    """COPY of the columns an export writes, two ways: ``same``, the very query the export
    reads its rows from (tracker.exports.export_query of the list's filter as the manager
    sees it: the same joins, today's light, the order), the ratio's base; ``bare``, the
    stored columns over plain joins (no light), for reference."""
    from tracker import exports, tasks
    from tracker.models import User

    user = User.objects.get(username=ROLES["manager"])
    filterset = tasks.list_filterset("projects", user=user, query=payload.get("query", ""))
    sql, params = exports.export_query(filterset.qs).query.sql_with_params()
    return {
        "same": _copy_seconds(sql, params),
        "bare": _copy_seconds(BARE_EXPORT_SQL.format(where=payload.get("where", ""))),
    }


def export_targets():
    from django.db.models import Count

    from tracker.models import Project, Region

    regions = Region.objects.annotate(n=Count("projects")).values_list("pk", "n")
    pk, n = min(regions, key=lambda r: abs(r[1] - 1000))
    return {"region": pk, "rows": n, "all": Project.objects.count()}


def inproc_main(mode):
    _django()
    payload = json.loads(sys.stdin.read() or "{}")
    handlers = {
        "discover": lambda: discover(),
        "queries": lambda: queries(payload),
        "export": lambda: export_one(payload),
        "copy": lambda: copy_time(payload),
        "export_targets": lambda: export_targets(),
    }
    print(json.dumps(handlers[mode](), default=str))


# --- HTTP against gunicorn ------------------------------------------------------------------
class Session:
    """A logged-in client: cookies and a keep-alive connection per thread."""

    def __init__(self, port):
        self.port = port
        self.cookies = {}
        self.local = threading.local()

    def conn(self):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=TIMEOUT + 30
            )
        return conn

    def request(self, method, url, body=None):
        headers = {
            "Host": "127.0.0.1",
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
        }
        if body is not None:
            body = urllib.parse.urlencode(body, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["X-CSRFToken"] = self.cookies.get("csrftoken", "")
        for attempt in range(2):
            conn = self.conn()
            try:
                conn.request(method, url, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                break
            except (http.client.HTTPException, OSError):
                conn.close()
                self.local.conn = None
                if attempt:
                    raise
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, data

    def login(self, username, password):
        self.request("GET", "/accounts/login/")
        status, _ = self.request(
            "POST",
            "/accounts/login/",
            {
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": self.cookies.get("csrftoken", ""),
            },
        )
        return status == 302 and "sessionid" in self.cookies


def slice_(session, url, seconds):
    """THREADS threads requesting ``url`` for ``seconds``: (req/s, latencies, statuses)."""
    latencies, statuses = [], {}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker():
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                status, _ = session.request("GET", url)
            except Exception:
                status = "error"
            took = time.perf_counter() - started
            with lock:
                latencies.append(took)
                statuses[status] = statuses.get(status, 0) + 1

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(latencies) / (time.monotonic() - started), latencies, statuses


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def measure_page(session, b_session, url):
    started = time.perf_counter()
    try:
        status, data = session.request("GET", url)
    except Exception as exc:
        return {"status": f"error {type(exc).__name__}"}
    first = time.perf_counter() - started
    if status != 200:
        return {"status": status, "first": first}
    if first > SECONDS:
        b_rps, _, _ = slice_(b_session, B_URL, SECONDS)
        return {
            "status": 200,
            "slow": first,
            "bytes": len(data),
            "ratio": (1 / first) / b_rps,
            "b_rps": b_rps,
        }
    ratios, rps_all, lat_all, b_all = [], [], [], []
    for _ in range(ROUNDS):
        b_rps, _, _ = slice_(b_session, B_URL, SECONDS)
        rps, latencies, _statuses = slice_(session, url, SECONDS)
        ratios.append(rps / b_rps)
        rps_all.append(rps)
        lat_all += latencies
        b_all.append(b_rps)
    return {
        "status": 200,
        "rps": statistics.median(rps_all),
        "p50": pct(lat_all, 0.5),
        "p95": pct(lat_all, 0.95),
        "ratio": statistics.median(ratios),
        "b_rps": statistics.median(b_all),
        "bytes": len(data),
    }


class FormParser(HTMLParser):
    """The fields (inputs, selects, textareas) with their values of each form of a page."""

    def __init__(self):
        super().__init__()
        self.forms, self.select, self.textarea = [], None, None
        self.current = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.current = []
            self.forms.append(self.current)
        if self.current is None:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind not in ("submit", "button"):
                self.current.append([a["name"], a.get("value", "on" if kind == "checkbox" else "")])
        elif tag == "select" and a.get("name"):
            self.select = [a["name"], None]
            self.current.append(self.select)
        elif tag == "option" and self.select is not None:
            if self.select[1] is None or "selected" in a:
                self.select[1] = a.get("value", "")
        elif tag == "textarea" and a.get("name"):
            self.textarea = [a["name"], ""]
            self.current.append(self.textarea)

    def handle_endtag(self, tag):
        if tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None
        elif tag == "form":
            self.current = None

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea[1] += data

    def sheet(self):
        """The fields of the form holding the sheet's rows."""
        for fields in self.forms:
            if any(name.startswith("row-") for name, _value in fields):
                return dict(fields)
        return {}


def sheet_posts(session, url, rows=200):
    """One POST changing ``rows`` rows of the sheet against ``rows`` POSTs of one row each."""
    status, html = session.request("GET", url)
    if status != 200:
        return {"status": status}
    parser = FormParser()
    parser.feed(html.decode("utf-8", "replace"))
    fields = parser.sheet()
    progress = sorted(
        (k for k in fields if re.fullmatch(r"row-\d+-progress", k)),
        key=lambda k: int(k.split("-")[1]),
    )
    if not progress:
        return {"status": "no rows"}
    n = min(rows, len(progress))
    stamp = datetime.datetime.now(datetime.UTC).strftime("%H%M%S")
    data = dict(fields)
    for key in progress[:n]:
        data[key] = f"{MARK} {stamp}"
    started = time.perf_counter()
    batch_status, _ = session.request("POST", url, data)
    batch = time.perf_counter() - started
    status, html = session.request("GET", url)
    parser = FormParser()
    parser.feed(html.decode("utf-8", "replace"))
    data = parser.sheet()
    single_statuses = {}
    started = time.perf_counter()
    done = 0
    for key in progress[:n]:
        data[key] = f"{MARK} {stamp} 单行"
        status, _ = session.request("POST", url, data)
        single_statuses[status] = single_statuses.get(status, 0) + 1
        done += 1
        if time.perf_counter() - started > SINGLE_POSTS_SECONDS:
            break  # the rest at the same pace
    single = (time.perf_counter() - started) * n / done
    return {
        "rows": n,
        "sheet_rows": len(progress),
        "batch": batch,
        "batch_status": batch_status,
        "single": single,
        "single_done": done,
        "single_statuses": single_statuses,
    }


def remove_bench_reports(url):
    """The sheet's POSTs filed reports for the current week: remove them (and their change
    history), so that the next run, which may reuse the database, measures the same sheet."""
    with pg(url) as conn:
        conn.execute(
            "DELETE FROM tracker_changelog WHERE content_type_id = (SELECT id FROM "
            "django_content_type WHERE app_label = 'tracker' AND model = 'weeklydispatch') "
            "AND object_id IN (SELECT id FROM tracker_weeklydispatch WHERE progress LIKE %s)",
            [f"{MARK}%"],
        )
        conn.execute("DELETE FROM tracker_weeklydispatch WHERE progress LIKE %s", [f"{MARK}%"])


def gunicorn(url, port):
    env = db_env(url, debug=False)
    env.update(
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="2",
        GUNICORN_TIMEOUT=str(TIMEOUT),
    )
    process = subprocess.Popen(
        [str(Path(PYTHON).parent / "gunicorn"), "-c", "gunicorn.conf.py", "yichun.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(ROOT / "bench-results" / f"gunicorn-{port}.log", "w"),
        start_new_session=True,
    )
    for _ in range(120):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
            conn.getresponse().read()
            return process
        except OSError:
            time.sleep(0.5)
    process.terminate()
    raise RuntimeError("gunicorn did not start: see bench-results/gunicorn-*.log")


def stop(process):
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def bench_size(size, url, port):
    info = inproc(url, "discover")
    log(f"[{size}] {info['projects']:,} projects, {info['dispatches']:,} weekly dispatches")
    process = gunicorn(url, port)
    results, sheet = {}, None
    try:
        password = "Yichun-demo-2022"
        sessions = {}
        for role, username in ROLES.items():
            s = Session(port)
            if not s.login(username, password):
                log(f"[{size}] login failed for {username}")
            sessions[role] = s
        b_session = sessions["manager"]
        for name, role, page in info["pages"]:
            log(f"[{size}] {name} …")
            results[name] = measure_page(sessions[role], b_session, page)
        sheet_url = next((u for n, _r, u in info["pages"] if n.startswith("周调度")), None)
        if sheet_url:
            log(f"[{size}] 周调度 POSTs …")
            try:
                sheet = sheet_posts(sessions["county"], sheet_url)
            finally:
                remove_bench_reports(url)
    finally:
        stop(process)
    log(f"[{size}] queries and EXPLAIN …")
    counted = inproc(url, "queries", {"pages": info["pages"]})
    exports = {}
    if os.environ.get("BENCH_EXPORTS", "1") != "0":
        log(f"[{size}] exports …")
        exports = bench_exports(url)
    return {
        "info": info,
        "results": results,
        "queries": counted,
        "sheet": sheet,
        "exports": exports,
    }


def bench_exports(url):
    targets = inproc(url, "export_targets")
    out = {}
    for label, query, where, rows in (
        (
            "≈1,000",
            f"&region={targets['region']}",
            f"WHERE p.region_id = {int(targets['region'])}",
            targets["rows"],
        ),
        ("all", "", "", targets["all"]),
    ):
        copy = inproc(url, "copy", {"where": where, "query": f"export=csv{query}"})
        for kind in ("csv", "xlsx"):
            try:
                result = inproc(url, "export", {"url": f"/projects/?export={kind}{query}"})
            except RuntimeError as exc:
                result = {"status": str(exc)}
            out[(label, kind)] = {"rows": rows, "copy": copy, **result}
    return {f"{k[0]}|{k[1]}": v for k, v in out.items()}


# --- the report -----------------------------------------------------------------------------
def fmt_page(r):
    if r is None:
        return "—", "—", "—", "—"
    if r.get("status") != 200:
        return f"HTTP {r.get('status')}", "", "", ""
    if "slow" in r:
        return f"{r['slow']:.2f} s (1 req)", "", "", f"{100 * r['ratio']:.2f} %"
    return (
        f"{r['rps']:.1f}",
        f"{1000 * r['p50']:.0f}",
        f"{1000 * r['p95']:.0f}",
        f"{100 * r['ratio']:.1f} %",
    )


def speed(r):
    if not r or r.get("status") != 200:
        return None
    return 1 / r["slow"] if "slow" in r else r["rps"]


def report(data, notes):
    sizes = list(data)
    lines = [f"# Bench {datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')}", ""]
    lines += [f"- {n}" for n in notes]
    for size in sizes:
        info = data[size]["info"]
        b = [r["b_rps"] for r in data[size]["results"].values() if r and "b_rps" in r]
        lines.append(
            f"- {size}: {info['projects']:,} projects, {info['dispatches']:,} dispatches; "
            f"B ≈ {statistics.median(b) if b else float('nan'):.0f} req/s"
        )
    lines.append(
        f"- gunicorn 2 workers, DEBUG off; {THREADS} client threads, {ROUNDS} rounds × "
        f"{SECONDS:g} s per slice; ratio = median of page/B over the alternations"
    )
    lines.append("")
    head = ["page", "role"]
    for size in sizes:
        head += [f"{size} req/s", "p50 ms", "p95 ms", "× B", "queries"]
    if len(sizes) == 2:
        head.append("growth")
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    first = data[sizes[0]]
    for name, role, _url in first["info"]["pages"]:
        row = [name, role]
        for size in sizes:
            r = data[size]["results"].get(name)
            q = data[size]["queries"].get(name, {})
            row += [*fmt_page(r), str(q.get("queries", q.get("error", "—")))]
        if len(sizes) == 2:
            a, b = (speed(data[s]["results"].get(name)) for s in sizes)
            row.append(f"{a / b:.1f}×" if a and b else "—")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("## 周调度: one POST of 200 rows against 200 POSTs of one row (county clerk)")
    lines.append("")
    for size in sizes:
        s = data[size]["sheet"]
        if not s or "batch" not in s:
            lines.append(f"- {size}: {s}")
            continue
        lines.append(
            f"- {size}: {s['rows']} of {s['sheet_rows']} rows: one POST {s['batch']:.2f} s "
            f"(HTTP {s['batch_status']}); {s['rows']} single-row POSTs {s['single']:.2f} s "
            f"({s['single_done']} sent, the rest extrapolated; statuses {s['single_statuses']})"
        )
    lines.append("")
    lines.append("## Exports (a fresh process each; peak RSS of that process)")
    lines.append("")
    lines.append(
        "| size | rows | kind | status | time s | MB | peak RSS MiB (after setup) "
        "| COPY s (same query) | × COPY | COPY s (bare joins, no light) | × bare |"
    )
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for size in sizes:
        for key, e in data[size]["exports"].items():
            label, kind = key.split("|")
            if "seconds" not in e:
                lines.append(
                    f"| {size} | {e['rows']:,} | {kind} | {e.get('status')} | | | | | | | |"
                )
                continue
            same, bare = e["copy"]["same"]["seconds"], e["copy"]["bare"]["seconds"]
            lines.append(
                f"| {size} | {e['rows']:,} ({label}) | {kind} | "
                f"{e['status']} {e['type'].split(';')[0]} | "
                f"{e['seconds']:.2f} | {e['bytes'] / 1e6:.1f} | {e['rss_peak_mib']:.0f} "
                f"({e['rss_before_mib']:.0f}) | {same:.2f} | "
                f"{e['seconds'] / max(same, 1e-6):.1f} | {bare:.2f} | "
                f"{e['seconds'] / max(bare, 1e-6):.1f} |"
            )
    for size in sizes:
        lines.append("")
        lines.append(f"## Slowest query of each page ({size}), EXPLAIN (ANALYZE, BUFFERS)")
        for name, q in data[size]["queries"].items():
            lines.append("")
            if "error" in q:
                lines.append(f"### {name}: {q['error']}")
                continue
            lines.append(
                f"### {name}: HTTP {q['status']}, {q['queries']} queries, "
                f"page {q['seconds']:.2f} s in process, SQL {q['sql_seconds']:.2f} s, "
                f"slowest {q['slowest_seconds']:.3f} s"
            )
            if q.get("plan"):
                lines.append("")
                lines.append("```")
                lines.append(q["slowest_sql"][:1500])
                lines.append("")
                plan = q["plan"].splitlines()
                lines += [line if len(line) <= 240 else line[:240] + " …" for line in plan[:120]]
                if len(plan) > 120:
                    lines.append(f"… {len(plan) - 120} more lines (in the .json file)")
                lines.append("```")
    return "\n".join(lines) + "\n"


def main():
    out_dir = ROOT / "bench-results"
    out_dir.mkdir(exist_ok=True)
    all_urls = urls()
    sizes = [s.strip() for s in os.environ.get("BENCH_SIZES", "seed,scale").split(",") if s.strip()]
    notes = []
    for size in sizes:
        log(f"preparing the {size} database …")
        notes.append(prepare(size, all_urls[size]))
        log(notes[-1])
    manage(all_urls[sizes[0]], "collectstatic", "--noinput", "-v0", debug=False)
    data = {}
    for i, size in enumerate(sizes):
        data[size] = bench_size(size, all_urls[size], PORT + i)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
    raw = out_dir / f"{stamp}.json"
    raw.write_text(json.dumps({"notes": notes, "data": data}, default=str, ensure_ascii=False))
    write_report(raw)


def write_report(raw):
    """The table (stdout) and the results file, from the measurements saved in ``raw``
    (``bench.py --report bench-results/<timestamp>.json`` renders a saved run again)."""
    saved = json.loads(Path(raw).read_text())
    text = report(saved["data"], saved["notes"])
    path = Path(raw).with_suffix(".md")
    path.write_text(text, encoding="utf-8")
    print(text.split("\n## Slowest query")[0])
    print(f"Written to {path} (with the EXPLAIN plans).")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--inproc":
        inproc_main(sys.argv[2])
    elif len(sys.argv) > 2 and sys.argv[1] == "--report":
        write_report(sys.argv[2])
    else:
        main()
