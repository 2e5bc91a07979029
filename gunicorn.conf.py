"""Gunicorn settings for the tracker: ``.venv/bin/gunicorn -c gunicorn.conf.py yichun.wsgi``.

Every value can be set per instance through the environment (README, "Running it with
gunicorn"), so several instances on one host share this file and differ only in GUNICORN_BIND.
"""

import os


def _int(name, default):
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _cores():
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may use (containers)
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# Where to listen: "127.0.0.1:8000", "0.0.0.0:8001", "unix:/run/yichun/app.sock";
# several addresses separated by commas.
bind = [item.strip() for item in os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")]

# Processes × threads: every thread keeps its own database connection (CONN_MAX_AGE 60 s),
# so instances × workers × threads must stay below PostgreSQL's max_connections (100).
workers = _int("GUNICORN_WORKERS", 2 * _cores() + 1)
# gthread: a worker serves its threads' requests and parks idle keep-alive connections
# instead of blocking on them (the sync worker ignores keepalive).
worker_class = "gthread"
threads = _int("GUNICORN_THREADS", 2)

# A request that takes longer than this kills its worker (raise it if a large export
# ever needs it); on SIGTERM, workers get graceful_timeout to finish their requests.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Seconds an idle keep-alive connection stays open. Behind a proxy that reuses upstream
# connections, make it longer than the proxy's idle timeout for them.
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Replace each worker after about this many requests, so memory cannot creep up for weeks.
max_requests = _int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 100)
# The heartbeat file on tmpfs: a busy disk cannot stall the workers' heartbeat.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# The proxies whose X-Forwarded-Proto / X-Forwarded-For headers are believed: "127.0.0.1,::1"
# for a proxy on this host, the load balancer's addresses otherwise (comma-separated, CIDR
# allowed). Same variable name as gunicorn's own default.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Access log on stdout (journald keeps it): the client address as the proxy forwarded it,
# the peer that connected (the proxy), time, request, status, bytes, referrer, user agent
# and the time taken in seconds.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = (
    '%({x-forwarded-for}i)s via %(h)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(L)ss'
)

# Gunicorn ≥ 25.1 opens a control socket for ``gunicornc`` at one fixed path per user
# ($XDG_RUNTIME_DIR/gunicorn.ctl or ~/.gunicorn/gunicorn.ctl): a second instance on the host
# replaces the first one's socket, and whichever stops first deletes the other's. It stays
# off unless GUNICORN_CONTROL_SOCKET names a path, which must then differ per instance
# (e.g. /run/yichun/gunicorn-8001.ctl).
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
if not control_socket_disable:
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
