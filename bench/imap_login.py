"""Median IMAP login time against the project's private Dovecot.

Creates a scratch database (bench_mailsuite_imap, dropped at the end), one mailbox made by the
services with the Argon2 costs of settings (production defaults unless MAILSUITE_ARGON2_* are
set), one app password, starts Dovecot on free ports in a /tmp directory and times N logins of
each kind (TLS handshake + LOGIN + LOGOUT): main password over IMAPS, app password over IMAPS,
master-user session over loopback IMAP (the webmail's path). The auth policy callback is off
(no web process runs here): in production it adds two loopback HTTP requests per login.

    .venv/bin/python bench/imap_login.py [-n 30]
"""

import argparse
import imaplib
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailsuite.settings")
os.environ["MAILSUITE_TEST_DATABASE"] = os.environ.get("BENCH_DATABASE", "bench_mailsuite_imap")

import django  # noqa: E402
from timing import timed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=30)
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
        mailbox = MailboxFactory(domain=DomainFactory())
        _app, token = app_password_create(user=mailbox.user, name="bench")
        config = scratch_config(root)
        dovecot.start(config)
        settings.MAIL_PORTS.update(config.ports)
        context = client_context_for(config.cert_file)

        def imaps(password):
            def login():
                imap = imaplib.IMAP4_SSL("127.0.0.1", config.ports["imaps"], ssl_context=context)
                imap.login(mailbox.address, password)
                imap.logout()

            return login

        def master():
            with imap_session(mailbox.address, client_ip="198.51.100.1"):
                pass

        print(
            f"Argon2 t={settings.ARGON2_TIME_COST} m={settings.ARGON2_MEMORY_COST} KiB "
            f"p={settings.ARGON2_PARALLELISM}; n={args.n}"
        )
        for name, fn in (
            ("main password (IMAPS)", imaps(mailbox.password_plain)),
            ("app password (IMAPS)", imaps(token)),
            ("master user (IMAP, loopback)", master),
        ):
            fn()  # warm-up
            samples = timed(fn, args.n)
            print(f"{name:30} median {statistics.median(samples):7.1f} ms   max {max(samples):7.1f} ms")
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
