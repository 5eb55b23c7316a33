"""SMTP ingest benchmark: messages through the MX listener vs direct LMTP into the same Dovecot.

    .venv/bin/python bench/smtp_ingest.py [--messages 2000] [--size 10240] [--clients 4]

Creates a scratch database (Django's test-database machinery: migrated, destroyed at the end),
a private Dovecot on free ports in a temporary directory, and the project's SMTP server in a
background thread. Then, in the same run:
  1. direct LMTP: N messages, `clients` parallel connections, one recipient per transaction;
  2. MX: N messages through the MX listener, `clients` parallel SMTP sessions;
(clients are separate processes) checks that every message arrived (doveadm mailbox status),
prints msgs/s for both and the ratio (target >= 0.5).
"""

import argparse
import multiprocessing
import os
import shutil
import smtplib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailsuite.settings")
os.environ.setdefault("MAILSUITE_CELERY_EAGER", "1")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from mailstore import dovecot  # noqa: E402
from mailstore.tls import server_context  # noqa: E402
from mta.lmtp import LMTPEndpoint  # noqa: E402
from mta.server import SMTPService  # noqa: E402

PASSWORD = "Bench-Mailbox-Pass-2026"  # noqa: S105


def make_message(n: int, size: int, tag: str) -> bytes:
    header = (
        f"From: bench@far.example\r\nTo: bench@bench.test\r\nSubject: {tag} {n}\r\n"
        f"Message-ID: <{tag}-{n}-{time.time_ns()}@far.example>\r\n\r\n"
    ).encode()
    line = b"x" * 76 + b"\r\n"
    return header + line * max(1, (size - len(header)) // len(line))


def lmtp_client(port: int, boxes: list[str], indices: list[int], size: int) -> int:
    with smtplib.LMTP("127.0.0.1", port, timeout=60) as c:
        for i in indices:
            c.sendmail("bench@far.example", [boxes[i % len(boxes)]], make_message(i, size, "lmtp"))
    return len(indices)


def mx_client(port: int, boxes: list[str], indices: list[int], size: int) -> int:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as c:
        c.ehlo("far.example")
        for i in indices:
            c.sendmail("bench@far.example", [boxes[i % len(boxes)]], make_message(i, size, "mx"))
    return len(indices)


def run_parallel(pool, client, port: int, boxes: list[str], total: int, clients: int, size: int) -> float:
    """Split `total` messages among `clients` client processes (so the clients do not share the
    server's interpreter lock); return elapsed seconds."""
    jobs = [(port, boxes, list(range(i, total, clients)), size) for i in range(clients)]
    start = time.perf_counter()
    sent = sum(pool.starmap(client, jobs))
    elapsed = time.perf_counter() - start
    assert sent == total
    return elapsed


def count_inbox(config, address: str) -> int:
    out = dovecot.doveadm("mailbox", "status", "-u", address, "messages", "INBOX", config=config)
    return int(out.strip().split("=")[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--size", type=int, default=10 * 1024)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    # Client processes forked now, before any thread or connection exists in this process.
    pool = multiprocessing.get_context("fork").Pool(args.clients)

    settings.DATABASES["default"]["TEST"]["NAME"] = f"bench_smtp_{os.getpid()}"
    # As in production: DEBUG makes Django keep every SQL statement (CursorDebugWrapper).
    settings.DEBUG = False
    settings.ARGON2_TIME_COST, settings.ARGON2_MEMORY_COST, settings.ARGON2_PARALLELISM = 1, 8192, 1
    root = Path(tempfile.mkdtemp(prefix="bench-smtp-", dir="/tmp"))
    root.chmod(0o755)
    settings.SPOOL_DIR = root / "spool"
    print(f"scratch database {settings.DATABASES['default']['TEST']['NAME']}, dir {root}")
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    config = service = None
    try:
        from domains import services as domain_services
        from tests.factories import CustomerFactory

        domain = domain_services.domain_register(customer=CustomerFactory(), name="bench.test")
        lmtp_boxes = [f"lmtp{i}@bench.test" for i in range(args.clients)]
        mx_boxes = [f"mx{i}@bench.test" for i in range(args.clients)]
        for address in lmtp_boxes + mx_boxes:
            domain_services.mailbox_create(domain=domain, local_part=address.split("@")[0], password=PASSWORD)

        from tests.protocol.mailplane import scratch_config

        config = scratch_config(root)
        ports, cert, key = config.ports, config.cert_file, config.key_file
        dovecot.start(config)
        lmtp = LMTPEndpoint("127.0.0.1", ports["lmtp"])
        service = SMTPService(
            host="127.0.0.1",
            ports={"smtp_mx": 0},
            tls_context=server_context(cert, key),
            lmtp=lmtp,
            hostname="mx.bench.localhost",
            max_workers=8,
        ).start()
        mx_port = service.ports["smtp_mx"]
        n, size = args.messages, args.size

        # Warm up both paths (Dovecot processes, DB connections), not counted.
        with smtplib.LMTP("127.0.0.1", ports["lmtp"]) as c:
            c.sendmail("bench@far.example", [lmtp_boxes[0]], make_message(-1, size, "warm"))
        with smtplib.SMTP("127.0.0.1", mx_port) as c:
            c.sendmail("bench@far.example", [mx_boxes[0]], make_message(-1, size, "warm"))

        lmtp_s = run_parallel(pool, lmtp_client, ports["lmtp"], lmtp_boxes, n, args.clients, size)
        mx_s = run_parallel(pool, mx_client, mx_port, mx_boxes, n, args.clients, size)

        lmtp_count = sum(count_inbox(config, a) for a in lmtp_boxes) - 1
        mx_count = sum(count_inbox(config, a) for a in mx_boxes) - 1
        lmtp_rate, mx_rate = n / lmtp_s, n / mx_s
        print(f"messages: {n} x {size} bytes, {args.clients} parallel clients")
        print(f"direct LMTP : {lmtp_s:7.2f} s  {lmtp_rate:8.1f} msg/s  arrived {lmtp_count}/{n}")
        print(f"MX (smtpd)  : {mx_s:7.2f} s  {mx_rate:8.1f} msg/s  arrived {mx_count}/{n}")
        print(f"ratio MX/LMTP: {mx_rate / lmtp_rate:.2f} (target >= 0.5)")
        ok = lmtp_count == n and mx_count == n and mx_rate / lmtp_rate >= 0.5
        print("RESULT:", "PASS" if ok else "FAIL")
        if not ok:
            sys.exit(1)
    finally:
        if service is not None:
            service.stop()
        if config is not None:
            dovecot.stop(config)
        pool.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
