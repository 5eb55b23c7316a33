# The two commands of the contract: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: run test setup setup-test demo lint messages

# demo_data prints the portal URLs and demo logins (scripts/banner.sh prints them again).
# Ctrl-C: honcho stops every process; make then reports "Error 130", which is expected.
# With MAILSUITE_CLAMAV=1 (environment or .env) clamd joins the processes (Procfile.clamav).
run: setup
	$(PY) manage.py demo_data
	if $(PY) manage.py clamd --check >/dev/null 2>&1; then \
	  mkdir -p var && cat Procfile Procfile.clamav > var/Procfile.run && exec .venv/bin/honcho start -d . -f var/Procfile.run; \
	else exec .venv/bin/honcho start -f Procfile; fi

test: setup-test
	scripts/test.sh

setup:
	scripts/setup.sh

setup-test:
	scripts/setup.sh --test

# ruff, then the import-linter contracts of pyproject.toml (the layers of docs/architecture.md).
lint:
	.venv/bin/ruff check .
	.venv/bin/lint-imports --no-cache

messages:
	$(PY) manage.py makemessages -l it -l en --ignore=.venv --ignore=var --ignore=node_modules
