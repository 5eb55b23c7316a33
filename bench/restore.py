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
Also the CPU each took (this process plus every Dovecot process, read from /proc), in ms per
message: on a machine shared with other work the wall time measures the load as much as the
restore, the CPU per message does not.

Dovecot reads the scratch database as a role of this bench's own (MAILSUITE_DOVECOT_DB_USER,
default mailsuite_dovecot_bench_restore, dropped at the end): the migrations set that role's
password, and the cluster-wide mailsuite_dovecot role of other runs is left alone.

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
os.environ.setdefault("MAILSUITE_DOVECOT_DB_USER", "mailsuite_dovecot_bench_restore")

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
        run(args, config)
    finally:
        if config is not None:
            dovecot.stop(config)
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)
        drop_role(settings.DOVECOT_DB_USER)
        shutil.rmtree(root, ignore_errors=True)


def drop_role(role: str) -> None:
    """The bench's own Dovecot role, once its database (where its grants were) is gone."""
    from django.db import connection

    if role == "mailsuite_dovecot":
        return  # the shared role: never dropped
    with connection.cursor() as cursor:
        cursor.execute(f"DROP ROLE IF EXISTS {connection.ops.quote_name(role)}")
    connection.close()


def cpu_seconds(config) -> float:
    """CPU used so far by this process and by Dovecot: its master, the processes it runs and the
    ones it has reaped (an imap process that logged out)."""
    from mailstore import dovecot

    ticks = os.sysconf("SC_CLK_TCK")
    total = time.process_time()
    master = dovecot.master_pid(config)
    pids = [master] + [int(p) for p in os.listdir("/proc") if p.isdigit() and _parent(int(p)) == master]
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        # utime, stime, and for the master cutime, cstime (its reaped children)
        used = int(fields[11]) + int(fields[12])
        if pid == master:
            used += int(fields[13]) + int(fields[14])
        total += used / ticks
    return total


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return None


def run(args, config) -> None:
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
    time.sleep(0.5)  # the loader's imap process reaped: its CPU is not the baseline's
    cpu = cpu_seconds(config)
    start = time.perf_counter()
    for first in range(0, len(items), BATCH):
        bare.multiappend("INBOX", items[first : first + BATCH])
    baseline = time.perf_counter() - start
    bare.logout()
    time.sleep(0.5)
    baseline_cpu, cpu = cpu_seconds(config) - cpu, cpu_seconds(config)

    request = RestoreRequest.objects.create(mailbox=mailbox, day=day, scope="mailbox")
    start = time.perf_counter()
    done = restore_run(request_id=request.pk)
    restore = time.perf_counter() - start
    time.sleep(0.5)
    restore_cpu = cpu_seconds(config) - cpu
    assert done.state == "done" and done.restored_messages == args.messages, done

    again = RestoreRequest.objects.create(mailbox=mailbox, day=day, scope="mailbox")
    start = time.perf_counter()
    second = restore_run(request_id=again.pk)
    nothing = time.perf_counter() - start
    assert second.restored_messages == 0, second

    n = args.messages
    print(f"\n{n} messages, MULTIAPPEND batches of {BATCH}; load average {os.getloadavg()[0]:.1f}")
    print(f"{'':34} {'seconds':>8} {'msg/s':>8} {'CPU ms/msg':>11}")
    for label, seconds, cpu_used in (
        ("bare MULTIAPPEND (baseline)", baseline, baseline_cpu),
        ("restore (plan + fetch + append)", restore, restore_cpu),
    ):
        print(f"{label:34} {seconds:8.2f} {n / seconds:8.0f} {cpu_used * 1000 / n:11.2f}")
    print(f"{'restore again (nothing to add)':34} {nothing:8.2f}")
    print(f"\nratio restore / bare MULTIAPPEND = {restore / baseline:.2f}x")
    print(f"restore rate {n / restore:.0f} messages/s (target >= 1,000)")
    per = restore_cpu * 1000 / n
    print(f"restore CPU {per:.2f} ms a message, all processes: {1000 / per:.0f} messages/s on one idle core")


if __name__ == "__main__":
    main()
