"""Time Machine restore (snapshots.restore → mailstore.restore) against a bare MULTIAPPEND of the
same messages, same run, same Dovecot.

Creates a scratch database (bench_mailsuite_restore, dropped at the end) and a private Dovecot on
free ports in a temporary directory. One mailbox gets --messages (default 10,000) messages in
INBOX (flags on some), its snapshot is taken, INBOX is emptied; then:
  - baseline: a bare imapclient MULTIAPPENDs the same messages (already in memory, same batch
    size as the restore) into a second mailbox;
  - restore: the whole path of a restore request (plan: identities of the live mailbox and the
    day, then FETCH from the snapshot, MULTIAPPEND with flags and dates, progress saved per batch);
  - the same restore again (nothing to add: the cost of the identity check alone).
Prints times, messages/s and the ratio restore/baseline. Target (issue 12): >= 1,000 messages/s.

    .venv/bin/python bench/restore.py [--messages 10000]
"""

import argparse
import datetime
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailsuite.settings")
os.environ["MAILSUITE_TEST_DATABASE"] = os.environ.get("BENCH_DATABASE", "bench_mailsuite_restore")
os.environ.setdefault("MAILSUITE_ARGON2_TIME_COST", "1")
os.environ.setdefault("MAILSUITE_ARGON2_MEMORY_COST", "8192")
os.environ.setdefault("MAILSUITE_ARGON2_PARALLELISM", "1")

import django  # noqa: E402


def message(i: int) -> bytes:
    return (
        f"From: Sender {i % 97} <sender{i % 97}@example.test>\r\nTo: bench@bench.test\r\n"
        f"Subject: Message number {i} about topic {i % 13}\r\n"
        f"Date: {1 + i % 28:02d} Feb 2026 10:{i % 60:02d}:00 +0100\r\n"
        f"Message-ID: <restore-bench-{i}@example.test>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        + ("Lorem ipsum dolor sit amet. " * (5 + i % 40))
        + "\r\n"
    ).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    args = parser.parse_args()

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    root = Path(tempfile.mkdtemp(prefix="rsbench-", dir="/tmp"))
    root.chmod(0o755)
    from mailstore import dovecot

    config = None
    try:
        from tests.protocol.mailplane import scratch_config

        config = scratch_config(root)
        settings.MAIL_PORTS.update(config.ports)
        settings.MAIL_BIND = "127.0.0.1"
        settings.MAIL_STORE_DIR, settings.SNAPSHOT_DIR = config.mail_store_dir, config.snapshot_dir
        settings.DOVECOT_DIR = config.directory
        dovecot.start(config)
        run(args)
    finally:
        if config is not None:
            dovecot.stop(config)
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(root, ignore_errors=True)


def run(args) -> None:
    from django.utils import timezone

    from mailstore.imap import LiveMailbox
    from mailstore.restore import BATCH
    from snapshots.models import RestoreRequest
    from snapshots.restore import restore_run
    from snapshots.services import snapshot_take
    from tests.factories import DomainFactory, MailboxFactory

    domain = DomainFactory(name="bench.test")
    mailbox = MailboxFactory(domain=domain, local_part="bench")
    other = MailboxFactory(domain=domain, local_part="baseline")
    base = datetime.datetime(2025, 1, 1, 8, 0)  # noqa: DTZ001 - imapclient: naive = local time
    items = [
        {
            "msg": message(i),
            "flags": [b"\\Seen"] * (i % 3 != 0) + [b"\\Flagged"] * (i % 10 == 0),
            "date": base + datetime.timedelta(minutes=i),
        }
        for i in range(args.messages)
    ]
    size = sum(len(m["msg"]) for m in items)

    loader = LiveMailbox(mailbox.address).open()
    start = time.perf_counter()
    for first in range(0, len(items), 500):
        loader.multiappend("INBOX", items[first : first + 500])
    print(f"loaded {args.messages} messages ({size / 1e6:.1f} MB) in {time.perf_counter() - start:.1f} s")
    day = timezone.localdate()
    start = time.perf_counter()
    snapshot_take(mailbox_id=mailbox.pk, day=day)
    print(f"snapshot in {time.perf_counter() - start:.2f} s")
    loader.select_folder("INBOX")
    loader.delete_messages(loader.search(["ALL"]), silent=True)
    loader.expunge()
    loader.logout()

    bare = LiveMailbox(other.address).open()
    start = time.perf_counter()
    for first in range(0, len(items), BATCH):
        bare.multiappend("INBOX", items[first : first + BATCH])
    baseline = time.perf_counter() - start
    bare.logout()

    request = RestoreRequest.objects.create(mailbox=mailbox, day=day, scope="mailbox")
    start = time.perf_counter()
    done = restore_run(request_id=request.pk)
    restore = time.perf_counter() - start
    assert done.state == "done" and done.restored_messages == args.messages, done

    again = RestoreRequest.objects.create(mailbox=mailbox, day=day, scope="mailbox")
    start = time.perf_counter()
    second = restore_run(request_id=again.pk)
    nothing = time.perf_counter() - start
    assert second.restored_messages == 0, second

    print(f"\n{args.messages} messages, MULTIAPPEND batches of {BATCH}")
    print(f"{'':34} {'seconds':>8} {'msg/s':>8}")
    print(f"{'bare MULTIAPPEND (baseline)':34} {baseline:8.2f} {args.messages / baseline:8.0f}")
    print(f"{'restore (plan + fetch + append)':34} {restore:8.2f} {args.messages / restore:8.0f}")
    print(f"{'restore again (nothing to add)':34} {nothing:8.2f}")
    print(f"\nratio restore / bare MULTIAPPEND = {restore / baseline:.2f}x")
    print(f"restore rate {args.messages / restore:.0f} messages/s (target >= 1,000)")


if __name__ == "__main__":
    main()
