# Saga School. `make run` for the embedded site, `make test` for the suite.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: install install-dev run worker test lint typecheck migrations-check bench mutate clean editor

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)

$(VENV)/.installed: requirements.txt $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt $(VENV)/.installed
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# The embedded default: SQLite, tasks in-process, console e-mail.
# Grading without bubblewrap is allowed here only, and the site says so.
run: install
	DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DEBUG=1 $(BIN)/python manage.py load_content
	DEBUG=1 SANDBOX_ALLOW_UNJAILED=$$(command -v bwrap >/dev/null && echo 0 || echo 1) \
		$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

worker: install
	$(BIN)/celery -A courseapp worker --loglevel=info --concurrency=2 --prefetch-multiplier=1

test: install-dev
	$(BIN)/python -m pytest

# ruff (lint with import sorting, and the formatter's check); mypy: strict on sandbox/, the site with django-stubs.
# Learner-facing scenario code is excluded from formatting (pyproject.toml); the scenario
# definitions beside it are checked by name.
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/ruff format --check sandbox/scenarios/*/__init__.py sandbox/scenarios/*/world.py sandbox/scenarios/*/playground.py

typecheck: install-dev
	DEBUG=1 SECRET_KEY=typecheck $(BIN)/mypy

migrations-check: install
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run

bench: install-dev
	$(BIN)/python -m bench

# Mutation testing of every scenario's grader (sandbox/mutate.py); fails while a mutant survives.
mutate: install
	$(BIN)/python -m sandbox mutate --all

# The exercise editor's CodeMirror bundle (committed): static/vendor/codemirror/editor.bundle.js.
editor:
	cd tools/editor && npm ci && npm run build

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
