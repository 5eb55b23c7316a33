#!/usr/bin/env bash
# Runs the whole test suite; pytest's summary is the last thing printed and its exit code is ours.
set -uo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m pytest "$@"
