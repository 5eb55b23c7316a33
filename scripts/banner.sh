#!/usr/bin/env bash
# Prints where each portal listens and the demo logins (after `manage.py demo_data`).
cd "$(dirname "$0")/.."
.venv/bin/python manage.py demo_data --print-only
