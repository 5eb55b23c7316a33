#!/usr/bin/env bash
# Runs the whole test suite; pytest's summary is the last thing printed and its exit code is ours.
# First the import-linter contracts (pyproject.toml): a broken layer fails the run before any test.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p var
if ! .venv/bin/lint-imports --no-cache >var/lint-imports.log 2>&1; then
  cat var/lint-imports.log >&2
  echo "lint-imports: an import breaks the layers (docs/architecture.md, \"Layers\")" >&2
  exit 1
fi
exec .venv/bin/python -m pytest "$@"
