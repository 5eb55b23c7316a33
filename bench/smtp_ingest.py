"""SMTP ingest benchmark: messages through the MX listener, with and without inbound filtering,
vs direct LMTP into the same Dovecot.

    .venv/bin/python bench/smtp_ingest.py [--messages 2000] [--size 10240] [--clients 4]
                                          [--rspamd-workers N] [--no-filtering]

Creates a scratch database (Django's test-database machinery: migrated, destroyed at the end),
a private Dovecot on free ports in a temporary directory, a private rspamd (mta.rspamd) resolving
through the tests' DNS server (tests/protocol/dnsserver.py, which publishes the sender domain's
SPF and DMARC), and the project's SMTP server in a background thread. Then, in the same run:
  1. direct LMTP: N messages, `clients` parallel connections, one recipient per transaction;
  2. MX, filtering off: N messages through the MX listener, `clients` parallel SMTP sessions;
  3. MX, filtering on: the same through rspamd (POST /checkv2 before every 250);
(clients are separate processes) checks that every message arrived (doveadm mailbox status),
prints msgs/s for each and the ratios: MX/LMTP (target >= 0.5) and filtered/unfiltered MX
(target >= 0.5). It does not change the Dovecot DB role's password.
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
from mta import rspamd  # noqa: E402
from mta.lmtp import LMTPEndpoint  # noqa: E402
from mta.server import SMTPService  # noqa: E402

PASSWORD = "Bench-Mailbox-Pass-2026"  # noqa: S105


# Text a filter reads (words, not one repeated byte): ~76-character lines of it.
WORDS = (
    "the quarterly report for the northern office is attached with the minutes of the meeting "
    "and the travel plan for the conference next month please review the figures before friday "
).split()


def make_message(n: int, size: int, tag: str) -> bytes:
    header = (
        f"From: bench@far.example\r\nTo: bench@bench.test\r\nSubject: {tag} {n}\r\n"
        f"Date: Tue, 01 Dec 2026 10:00:00 +0100\r\n"
        f"Message-ID: <{tag}-{n}-{time.time_ns()}@far.example>\r\n\r\n"
    ).encode()
    lines, i = [], n
    while sum(len(x) for x in lines) + len(header) < size:
        words = [WORDS[(i + k) % len(WORDS)] for k in range(12)]
        lines.append((" ".join(words)[:76] + "\r\n").encode())
        i += 7
    return header + b"".join(lines)


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
    parser.add_argument("--rspamd-workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-filtering", action="store_true", help="skip the filtered MX run")
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
    config = service = filter_process = dns = None
    try:
        from domains import services as domain_services
        from tests.factories import CustomerFactory

        domain = domain_services.domain_register(customer=CustomerFactory(), name="bench.test")
        lmtp_boxes = [f"lmtp{i}@bench.test" for i in range(args.clients)]
        mx_boxes = [f"mx{i}@bench.test" for i in range(args.clients)]
        filtered_boxes = [f"mxf{i}@bench.test" for i in range(args.clients)]
        for address in lmtp_boxes + mx_boxes + filtered_boxes:
            domain_services.mailbox_create(domain=domain, local_part=address.split("@")[0], password=PASSWORD)

        from tests.protocol.dnsserver import TestDNS
        from tests.protocol.mailplane import free_ports, scratch_config

        if not args.no_filtering:
            dns = TestDNS().start()
            dns.set("far.example", "TXT", "v=spf1 ip4:127.0.0.1 -all")
            dns.set("_dmarc.far.example", "TXT", "v=DMARC1; p=none")
            dns.set("far.example", "A", "192.0.2.10")
            normal_port, controller_port = free_ports(2)
            filter_process = rspamd.RspamdProcess(
                rspamd.RspamdConfig(
                    directory=root / "rspamd",
                    bind="127.0.0.1",
                    normal_port=normal_port,
                    controller_port=controller_port,
                    redis_url="redis://127.0.0.1:6379/5",
                    dns_resolver=f"{dns.host}:{dns.port}",
                    network_checks=False,
                    normal_workers=args.rspamd_workers,
                    hs_cache_dir=Path(tempfile.gettempdir()) / "mailsuite-rspamd-hs-cache",
                )
            ).start(timeout=300)
            settings.RSPAMD_URL = filter_process.config.normal_url
            settings.RSPAMD_CONTROLLER_URL = filter_process.config.controller_url
        settings.RSPAMD_FILTERING = False

        config = scratch_config(root, rspamd_controller_url="")
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
        print(f"direct LMTP      : {lmtp_s:7.2f} s  {lmtp_rate:8.1f} msg/s  arrived {lmtp_count}/{n}")
        print(f"MX, no filtering : {mx_s:7.2f} s  {mx_rate:8.1f} msg/s  arrived {mx_count}/{n}")
        ok = lmtp_count == n and mx_count == n and mx_rate / lmtp_rate >= 0.5
        if filter_process is not None:
            settings.RSPAMD_FILTERING = True
            with smtplib.SMTP("127.0.0.1", mx_port) as c:  # warm up rspamd's workers, not counted
                c.sendmail("bench@far.example", [filtered_boxes[0]], make_message(-1, size, "warm"))
            filtered_s = run_parallel(pool, mx_client, mx_port, filtered_boxes, n, args.clients, size)
            filtered_count = sum(count_inbox(config, a) for a in filtered_boxes) - 1
            junk = sum(
                int(
                    dovecot.doveadm("mailbox", "status", "-u", a, "messages", "Junk", config=config)
                    .strip()
                    .split("=")[1]
                )
                for a in filtered_boxes
            )
            filtered_rate = n / filtered_s
            print(
                f"MX, filtering on : {filtered_s:7.2f} s  {filtered_rate:8.1f} msg/s  arrived "
                f"{filtered_count}/{n} (Junk {junk}), rspamd workers {args.rspamd_workers}"
            )
            print(f"ratio filtered/unfiltered MX: {filtered_rate / mx_rate:.2f} (target >= 0.5)")
            ok = ok and filtered_count == n and filtered_rate / mx_rate >= 0.5
        print(f"ratio MX/LMTP: {mx_rate / lmtp_rate:.2f} (target >= 0.5)")
        print("RESULT:", "PASS" if ok else "FAIL")
        if not ok:
            sys.exit(1)
    finally:
        if service is not None:
            service.stop()
        if config is not None:
            dovecot.stop(config)
        if filter_process is not None:
            filter_process.stop()
        if dns is not None:
            dns.stop()
        pool.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
