# The two commands of the contract: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: run test setup setup-test demo lint messages

run: setup
	$(PY) manage.py demo_data
	@scripts/banner.sh
	exec .venv/bin/honcho start -f Procfile

test: setup-test
	scripts/test.sh

setup:
	scripts/setup.sh

setup-test:
	scripts/setup.sh --test

lint:
	.venv/bin/ruff check .

messages:
	$(PY) manage.py makemessages -l it -l en --ignore=.venv --ignore=var
