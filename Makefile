# Two commands do everything: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
PG_URL ?= postgres://postgres@127.0.0.1:5432/yichun
TEST_SECRET := test-only-secret-not-for-production
# The suite runs on as many pytest-xdist workers as the machine has cores (2 here, as in CI);
# PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
PYTEST := $(BIN)/pytest -n $(PYTEST_WORKERS)

.PHONY: run test install messages check test-sqlite test-postgres clean bench backup restore

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed (set PYTHON=python3.11)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	touch $(STAMP)

install: $(STAMP)

messages: $(STAMP)
	DJANGO_DEBUG=1 $(BIN)/python manage.py compile_po

run: install messages
	DJANGO_DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DJANGO_DEBUG=1 $(BIN)/python manage.py seed --living
	@# A background worker beside the server (README "Background work"); it stops with it.
	DJANGO_DEBUG=1 $(BIN)/python manage.py run_worker & worker=$$!; \
	  trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	  DJANGO_DEBUG=1 $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run
	env -u DJANGO_DEBUG -u DJANGO_SECRET_KEY DJANGO_ALLOWED_HOSTS=tracker.example $(BIN)/python manage.py check --deploy --fail-level WARNING

test-sqlite: install messages
	env -u DATABASE_URL DJANGO_SECRET_KEY=$(TEST_SECRET) $(PYTEST) $(PYTEST_ARGS)

test-postgres: install messages
	@if $(BIN)/python scripts/pg_ready.py "$(PG_URL)"; then \
	  DATABASE_URL="$(PG_URL)" DJANGO_SECRET_KEY=$(TEST_SECRET) $(PYTEST) $(PYTEST_ARGS); \
	elif [ "$$CI" = "true" ]; then \
	  echo "PostgreSQL at $(PG_URL) is not reachable: in CI the PostgreSQL half is mandatory." >&2; exit 1; \
	else \
	  echo "WARNING: PostgreSQL at $(PG_URL) is not reachable; the PostgreSQL half did NOT run." >&2; \
	fi

test: check test-sqlite test-postgres

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache

# Pages, exports and EXPLAIN at the seed's size and at BENCH_PROJECTS × BENCH_WEEKS, side by side (README).
bench: install messages
	$(BIN)/python scripts/bench.py

# Back up the database of DATABASE_URL (README, "Operations"), e.g. BACKUP_ARGS="--keep-days 14".
# No install step on purpose: a nightly backup must never upgrade packages.
backup:
	$(BIN)/python manage.py backup $(BACKUP_ARGS)

# Restore a backup into the empty database of DATABASE_URL (RESTORE_ARGS=--clean to replace one).
restore:
	@test -n "$(FILE)" || { echo "usage: make restore FILE=backups/yichun-<timestamp>.pgdump" >&2; exit 2; }
	$(BIN)/python manage.py restore "$(FILE)" $(RESTORE_ARGS)
