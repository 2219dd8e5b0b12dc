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

test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --select I --fix .
	$(VENV)/bin/ruff format .

# Keeps instance/ (the development database and secret key).
clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis htmlcov .coverage
	find . -name __pycache__ -type d -not -path "./$(VENV)/*" -prune -exec rm -rf {} +
