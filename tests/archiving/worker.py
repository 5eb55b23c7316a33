"""A real Celery worker for the tests that need one (the import after a kill -9, the import
wizard in the browser): its own process on a queue of its own (the tests of several checkouts
share one Redis), pointed at the test database, the session's Dovecot and the test's blob
directory."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def worker_env(queue: str, *, batch: int = 3, pause: float = 0.3) -> dict[str, str]:
    db = connection.settings_dict
    return dict(os.environ) | {
        "DJANGO_SETTINGS_MODULE": "mailsuite.settings",
        "MAILSUITE_DEBUG": "1",
        "MAILSUITE_DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
            f"/{db['NAME']}"
        ),
        "MAILSUITE_MAIL_BIND": settings.MAIL_BIND,
        "MAILSUITE_PORT_IMAP": str(settings.MAIL_PORTS["imap"]),
        "MAILSUITE_MAILSTORE_MASTER_USER": settings.MAILSTORE_MASTER_USER,
        "MAILSUITE_MAILSTORE_MASTER_PASSWORD": settings.MAILSTORE_MASTER_PASSWORD,
        "MAILSUITE_ARCHIVE_BLOB_DIR": str(settings.ARCHIVE_BLOB_DIR),
        "MAILSUITE_ARCHIVE_IMPORT_BATCH": str(batch),
        "MAILSUITE_ARCHIVE_IMPORT_PAUSE": str(pause),
        "MAILSUITE_ARCHIVE_IMPORT_QUEUE": queue,
        "MAILSUITE_CELERY_EAGER": "0",
        "MAILSUITE_EMAIL_URL": "consolemail://",
    }


def import_queue() -> str:
    """A queue name of this test's own; the caller sets settings.ARCHIVE_IMPORT_QUEUE to it."""
    return f"test-archive-import-{uuid.uuid4().hex[:10]}"


def start_worker(queue: str, log: Path, **env) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - our own worker
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "mailsuite",
            "worker",
            "-Q",
            queue,
            "--pool=solo",
            "-n",
            f"{queue}-{uuid.uuid4().hex[:6]}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "info",
        ],
        cwd=ROOT,
        env=worker_env(queue, **env),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def wait_for(predicate, timeout: float, what: str, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}\n{log.read_text(errors='replace')[-3000:]}")


def stop_worker(process: subprocess.Popen, *, graceful: bool = True) -> None:
    if process.poll() is None:
        if not graceful:
            process.kill()
            process.wait()
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
