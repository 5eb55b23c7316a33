"""IMAP logins against the project's private Dovecot, with production-cost Argon2id hashes.

Creates a scratch database (bench_mailsuite_imap, dropped at the end), 8 mailboxes made by the
services with the Argon2 costs of settings (production defaults m=102400 KiB, t=2, p=8 unless
MAILSUITE_ARGON2_* are set), one app password each, starts Dovecot on free ports in a /tmp
directory and measures (a login = TLS handshake + LOGIN + LOGOUT over IMAPS):

1. the first login of each mailbox: uncached, one full Argon2 verification (sequential);
2. 8 concurrent clients (one thread and one mailbox each) repeating main-password logins for
   --seconds: the verified-credential cache answers (mailstore.authcache); logins/s in all,
   median and p95. Targets (issue 9, item 13): >= 100 logins/s, p95 <= 100 ms;
3. the baseline, measured the same way in the same process: app-password logins (one SHA-256
   lookup in SQL, no Argon2), and the p95 ratio main/app;
4. the master-user session of the webmail (sequential median).
With --dovecot-auth-cache it also runs phase 2 against Dovecot's own auth cache
(auth_cache_size/ttl, our cache off), the alternative measured in docs/architecture.md.

The auth policy callback is off (no web process runs here): in production it adds two loopback
HTTP requests per login.

    .venv/bin/python bench/imap_login.py [--seconds 10] [--dovecot-auth-cache]
"""

import argparse
import imaplib
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailsuite.settings")
os.environ["MAILSUITE_TEST_DATABASE"] = os.environ.get("BENCH_DATABASE", "bench_mailsuite_imap")

import django  # noqa: E402
from timing import percentile, timed  # noqa: E402

CLIENTS = 8


def concurrent(login_fn, credentials, seconds: float) -> tuple[float, list[float]]:
    """Each client repeats login_fn(*its credentials) until the time is up; (logins/s, samples ms)."""
    samples: list[list[float]] = [[] for _ in credentials]
    errors: list[BaseException] = []
    start_gate = threading.Barrier(len(credentials) + 1)
    deadline = [0.0]

    def client(i: int) -> None:
        start_gate.wait()
        try:
            while time.perf_counter() < deadline[0]:
                t0 = time.perf_counter()
                login_fn(*credentials[i])
                samples[i].append((time.perf_counter() - t0) * 1000)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(credentials))]
    for t in threads:
        t.start()
    deadline[0] = time.perf_counter() + seconds
    begin = time.perf_counter()
    start_gate.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - begin
    if errors:
        raise errors[0]
    flat = [s for per in samples for s in per]
    return len(flat) / elapsed, flat


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--dovecot-auth-cache", action="store_true")
    args = parser.parse_args()
    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    from accounts.services import app_password_create
    from mailstore import dovecot
    from mailstore.imap import imap_session
    from mailstore.tls import client_context_for
    from tests.factories import DomainFactory, MailboxFactory
    from tests.protocol.mailplane import scratch_config

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    root = Path(tempfile.mkdtemp(prefix="msdb-", dir="/tmp"))
    root.chmod(0o755)
    config = None
    try:
        domain = DomainFactory()
        mailboxes = [MailboxFactory(domain=domain) for _ in range(CLIENTS)]
        main_creds = [(m.address, m.password_plain) for m in mailboxes]
        app_creds = [(m.address, app_password_create(user=m.user, name="bench")[1]) for m in mailboxes]
        stored = mailboxes[0].user.password
        config = scratch_config(root)
        dovecot.start(config)
        settings.MAIL_PORTS.update(config.ports)
        context = client_context_for(config.cert_file)

        def login(address: str, password: str) -> None:
            imap = imaplib.IMAP4_SSL("127.0.0.1", config.ports["imaps"], ssl_context=context)
            imap.login(address, password)
            imap.logout()

        print(
            f"Argon2 stored: {stored.split('$')[3]} (settings t={settings.ARGON2_TIME_COST} "
            f"m={settings.ARGON2_MEMORY_COST} KiB p={settings.ARGON2_PARALLELISM}); "
            f"credential cache {config.auth_cache_seconds} s; {CLIENTS} clients, {args.seconds:g} s per phase"
        )
        login(*app_creds[0])  # warm-up: auth worker, SQL pool, TLS
        first = []
        for creds in main_creds:
            first.append(timed(lambda c=creds: login(*c), 1)[0])
        print(
            f"first login (uncached, Argon2)   median {statistics.median(first):7.1f} ms   "
            f"max {max(first):7.1f} ms   (n={len(first)}, sequential)"
        )

        rate, main = concurrent(login, main_creds, args.seconds)
        base_rate, base = concurrent(login, app_creds, args.seconds)
        print(f"{'case':34} {'logins/s':>9} {'median ms':>10} {'p95 ms':>8}")
        for name, r, s in (
            ("main password, cached (8 clients)", rate, main),
            ("baseline: app password (8 clients)", base_rate, base),
        ):
            print(f"{name:34} {r:9.1f} {statistics.median(s):10.1f} {percentile(s, 95):8.1f}")
        print(
            f"p95 ratio main/app password: {percentile(main, 95) / percentile(base, 95):.2f}x; "
            f"targets: >= 100 logins/s -> {'OK' if rate >= 100 else 'MISSED'}, "
            f"p95 <= 100 ms -> {'OK' if percentile(main, 95) <= 100 else 'MISSED'}"
        )

        def master():
            with imap_session(mailboxes[0].address, client_ip="198.51.100.1"):
                pass

        master()
        m = timed(master, 20)
        print(f"master user (IMAP, loopback)     median {statistics.median(m):7.1f} ms")

        if args.dovecot_auth_cache:
            dovecot.stop(config)
            config = replace(
                config, auth_cache_seconds=0, extra={"auth_cache_size": "10M", "auth_cache_ttl": "15 mins"}
            )
            dovecot.start(config)
            login(*app_creds[0])
            for creds in main_creds:  # fill Dovecot's cache
                login(*creds)
            rate, samples = concurrent(login, main_creds, args.seconds)
            print(
                f"{'Dovecot auth_cache (ours off)':34} {rate:9.1f} {statistics.median(samples):10.1f} "
                f"{percentile(samples, 95):8.1f}"
            )
    finally:
        if config is not None:
            dovecot.stop(config)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
