"""A restore survives a kill -9 of a real Celery worker: the next worker resumes it (at start,
snapshots.tasks.restores_resume) and no message ends up twice in the mailbox."""

import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path

import imapclient
import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from snapshots.models import RestoreRequest, RestoreState
from snapshots.services import snapshot_take
from tests.snapshots.test_restore import fill, imap, mailbox_of

pytestmark = pytest.mark.protocol

BASE_DIR = Path(__file__).resolve().parents[2]
MESSAGES = 4000


def worker_env(broker_url: str) -> dict[str, str]:
    env = dict(os.environ)
    db = connection.settings_dict
    env.update(
        MAILSUITE_DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        MAILSUITE_CELERY_BROKER_URL=broker_url,
        MAILSUITE_CELERY_RESULT_BACKEND=broker_url,
        MAILSUITE_PORT_IMAP=str(settings.MAIL_PORTS["imap"]),
        MAILSUITE_MAIL_BIND=settings.MAIL_BIND,
        MAILSUITE_MAIL_STORE_DIR=str(settings.MAIL_STORE_DIR),
        MAILSUITE_SNAPSHOT_DIR=str(settings.SNAPSHOT_DIR),
        MAILSUITE_MAILSTORE_MASTER_USER=settings.MAILSTORE_MASTER_USER,
        MAILSUITE_MAILSTORE_MASTER_PASSWORD=settings.MAILSTORE_MASTER_PASSWORD,
        MAILSUITE_SECRET_KEY=settings.SECRET_KEY,
        MAILSUITE_EMAIL_URL="dummymail://",
        MAILSUITE_CELERY_EAGER="false",
    )
    return env


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    command = [
        str(BASE_DIR / ".venv" / "bin" / "celery"),
        "-A",
        "mailsuite",
        "worker",
        "--pool=solo",
        "-Q",
        "restores",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel=INFO",
        f"--hostname=restore-test-{uuid.uuid4().hex[:8]}@%h",
    ]
    return subprocess.Popen(  # noqa: S603 - our own worker
        command,
        cwd=BASE_DIR,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def kill9(worker: subprocess.Popen) -> None:
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)


def wait_for(predicate, timeout: float, what: str, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}\n{log.read_text()[-3000:]}")


def test_kill_9_of_the_worker_mid_restore_then_resume_leaves_no_duplicate(
    running_mailplane, mailbox_factory, tmp_path
):
    address, password = mailbox_factory()
    mailbox = mailbox_of(address)
    client = imap(running_mailplane, address, password)
    fill(client, address, "INBOX", "k", MESSAGES)
    day = timezone.localdate()
    snapshot_take(mailbox_id=mailbox.pk, day=day)
    client.select_folder("INBOX")
    client.delete_messages(client.search(["ALL"]), silent=True)
    client.expunge()
    client.logout()

    # A broker of its own (a Redis database no other test uses): nothing else takes the tasks.
    broker_url = "redis://127.0.0.1:6379/13"
    broker = redis.Redis.from_url(broker_url)
    broker.flushdb()
    env, log = worker_env(broker_url), tmp_path / "worker.log"
    request = RestoreRequest.objects.create(
        mailbox=mailbox, day=day, scope="mailbox", requested_by=mailbox.user
    )
    first = start_worker(env, log)
    try:

        def midway():
            request.refresh_from_db()
            return 0 < request.restored_messages < MESSAGES - 400

        wait_for(midway, 120, "the first worker to be half-way", log)
        kill9(first)
    finally:
        if first.poll() is None:
            kill9(first)
    request.refresh_from_db()
    assert request.state == RestoreState.RUNNING
    done_before_kill = request.restored_messages

    second = start_worker(env, log)  # resumes at start (worker_ready → restores_resume)
    try:

        def finished():
            request.refresh_from_db()
            return request.state in (RestoreState.DONE, RestoreState.FAILED)

        wait_for(finished, 120, "the second worker to finish", log)
    finally:
        kill9(second)
        broker.flushdb()
    assert request.state == RestoreState.DONE, request.error
    assert request.attempts == 2 and request.restored_messages >= done_before_kill

    client = imapclient.IMAPClient(
        running_mailplane.host,
        port=running_mailplane.ports["imaps"],
        ssl_context=running_mailplane.ssl_context(),
    )
    client.login(address, password)
    client.select_folder("INBOX", readonly=True)
    uids = client.search(["ALL"])
    ids = Counter(
        data[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].strip()
        for data in client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]).values()
    )
    client.logout()
    assert len(ids) == MESSAGES, "every message is back"
    assert [mid for mid, n in ids.items() if n > 1] == [], "no message twice"
