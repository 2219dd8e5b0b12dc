# GNU make. `make run` and `make test` create the virtualenv themselves on a fresh checkout.

VENV ?= .venv
PY = $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: run test lint format clean

# The stamp is newer than both requirements files once they are installed; editing either
# reinstalls. `python3 -m venv` leaves an existing venv in place.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -r requirements-dev.txt
	touch $@

# Development settings on SQLite under instance/, served on 127.0.0.1:8000 (gunicorn.conf.py).
run: export APP_ENV := development
run: $(VENV)/.installed
	$(VENV)/bin/flask --app wsgi db upgrade
	$(VENV)/bin/gunicorn wsgi:app

# Two workers (pytest-xdist), one a core; tests run in random order (pytest-randomly).
# Branch coverage of webapp/ must stay at 95% or more. Measuring it costs a third more time,
# so it is measured where it is enforced: in CI (CI=true), or here with COVERAGE=1.
COVERAGE ?= $(filter true,$(CI))
COV_ARGS = $(if $(COVERAGE),--cov=webapp --cov-branch --cov-report=term --cov-fail-under=95)

# pytest keeps each test module, its asserts rewritten, in __pycache__ (git ignores it); with
# PYTHONDONTWRITEBYTECODE set, as some shells and containers do, both workers would redo that
# on every run, a second each.
test: export PYTHONDONTWRITEBYTECODE :=
test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pytest -n 2 $(COV_ARGS) $(PYTEST_ARGS)

# The inner loop: every layer but the browser suite and the tests that need PostgreSQL or Redis.
.PHONY: test-fast
test-fast: PYTEST_ARGS += -m "not browser and not postgresql and not redis"
test-fast: test

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --select I --fix .
	$(VENV)/bin/ruff format .

# A PNG of every page at 1280x800 and 390x844 into docs/screenshots/ (the README's pictures),
# taken by the browser suite's screenshot test in Debian's Chromium.
.PHONY: screenshots
screenshots: $(VENV)/.installed
	SCREENSHOT_DIR=docs/screenshots $(VENV)/bin/pytest tests/e2e/test_screenshots.py

# The app under gunicorn (SQLite and PostgreSQL) against bare Flask and the hashing limit;
# needs wrk (Debian's package, installed here when missing and run as root) and, for the
# PostgreSQL half, the server in BENCH_DATABASE_URL. Results: benchmarks/results/.
.PHONY: bench
bench: $(VENV)/.installed
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } \
		|| { echo "make bench needs wrk: apt-get install wrk" >&2; exit 2; }
	$(PY) -m benchmarks.run

# Mutation testing (mutmut, configured in pyproject.toml) of the services, the password
# module, the redirect check and the forms; `mutmut results` lists what survived.
.PHONY: mutation
mutation: $(VENV)/.installed
	$(VENV)/bin/mutmut run --max-children 2
	$(VENV)/bin/mutmut results

# Keeps instance/ (the development database and secret key).
clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis htmlcov .coverage
	find . -name __pycache__ -type d -not -path "./$(VENV)/*" -prune -exec rm -rf {} +
