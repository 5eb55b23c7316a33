"""Pytest plugin: a real, private Dovecot for the test session (registered in tests/conftest.py so
every test directory shares ONE instance: tests/protocol, tests/mta, tests/webmail, ...).

    def test_x(mailplane, mailbox_factory):       # transactional_db is implied (live_server)
        address, password = mailbox_factory()
        with imaplib.IMAP4_SSL(mailplane.host, mailplane.ports["imaps"],
                               ssl_context=mailplane.ssl_context()) as imap: ...

- Dovecot reads the TEST database (after django_db_setup) through the mailstore views, so the
  tests that need it to see their rows must commit them: `mailplane` pulls in live_server, and
  pytest-django then gives each such test `transactional_db`.
- Ports are free high ports, the data dir is a fresh /tmp directory (mode 0755: the vmail mail
  processes must reach its sockets), the certificate is self-signed (mailstore.tls).
- The auth policy and quota-warning callbacks go to pytest-django's live_server, so access-log
  rows and quota-warning emails (mail.outbox) appear as in production.
- For the session, django settings point at this instance: MAIL_PORTS[imap|imaps|pop3s|lmtp|sieve],
  MAIL_STORE_DIR, SNAPSHOT_DIR, DOVECOT_DIR, TLS_CERT_FILE/TLS_KEY_FILE, INTERNAL_BASE_URL; the brute-force
  Redis prefix is unique to the run. Restored at the end.
- Failed logins are not delayed here (auth_failure_delay = 0) to keep the suite fast.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from django.conf import settings

from mailstore import dovecot
from mailstore.tls import client_context_for, ensure_certificate

PORT_NAMES = ("imap", "imaps", "pop3s", "lmtp", "sieve")


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Ports the kernel hands out (ephemeral range, above 10000), all distinct."""
    sockets, ports = [], []
    try:
        while len(ports) < count:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            sockets.append(s)
            port = s.getsockname()[1]
            if port > 10000 and port not in ports:
                ports.append(port)
    finally:
        for s in sockets:
            s.close()
    return ports


def scratch_config(root: Path, **overrides) -> dovecot.DovecotConfig:
    """A private Dovecot under `root`: free loopback ports above 10000, a self-signed
    certificate, no failed-login delay. Shared by the test fixture and the benchmarks; call it
    once the test (or scratch) database exists, since the config points at the current one."""
    ports = dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES)), strict=True))
    cert, key = root / "tls" / "cert.pem", root / "tls" / "key.pem"
    ensure_certificate(cert, key, hostname="localhost")
    defaults = dict(
        directory=root / "dovecot",
        mail_store_dir=root / "mail",
        snapshot_dir=root / "snapshots",  # beside the store: hard links need one file system
        bind="127.0.0.1",
        ports=ports,
        cert_file=cert,
        key_file=key,
        internal_base_url="",
        auth_failure_delay=0,
        auth_penalty=False,
    )
    return replace(dovecot.config_from_settings(), **(defaults | overrides))


@dataclass
class MailPlane:
    config: dovecot.DovecotConfig

    @property
    def host(self) -> str:
        return self.config.bind

    @property
    def ports(self) -> dict[str, int]:
        return dict(self.config.ports)

    @property
    def cert_path(self) -> Path:
        return self.config.cert_file

    @property
    def log_path(self) -> Path:
        return self.config.log_path

    def ssl_context(self) -> ssl.SSLContext:
        return client_context_for(self.config.cert_file)

    def start(self) -> None:
        dovecot.start(self.config)

    def stop(self) -> None:
        dovecot.stop(self.config)

    def is_running(self) -> bool:
        return dovecot.is_running(self.config)

    def ensure_running(self) -> None:
        if not self.is_running():
            self.start()

    def log_tail(self, lines: int = 60) -> str:
        return dovecot.log_tail(self.config, lines=lines)

    def doveadm(self, *args: str) -> str:
        return dovecot.doveadm(*args, config=self.config)


@pytest.fixture(scope="session")
def mailplane(django_db_setup, django_db_blocker, live_server, smtpd, rspamd_ports):
    root = Path(tempfile.mkdtemp(prefix="msdc-", dir="/tmp"))
    root.chmod(0o755)
    # After django_db_setup: the configuration points at the test database.
    config = scratch_config(
        root,
        internal_base_url=live_server.url,
        # Sieve's outgoing mail (vacation, redirect) goes to the test SMTP server's relay listener.
        submission_host=f"127.0.0.1:{smtpd.ports['relay']}",
        # Moves into and out of Junk teach the session's rspamd (tests/protocol/filterplane.py).
        rspamd_controller_url=rspamd_ports.controller_url,
    )
    ports, cert, key = dict(config.ports), config.cert_file, config.key_file
    saved = {
        name: getattr(settings, name)
        for name in (
            "MAIL_STORE_DIR",
            "SNAPSHOT_DIR",
            "DOVECOT_DIR",
            "TLS_CERT_FILE",
            "TLS_KEY_FILE",
            "INTERNAL_BASE_URL",
            "BRUTEFORCE_KEY_PREFIX",
            "BRUTEFORCE_IP_FAILURES",
        )
        if hasattr(settings, name)
    }
    saved_ports = dict(settings.MAIL_PORTS)
    settings.MAIL_PORTS.update(ports)
    settings.MAIL_STORE_DIR, settings.DOVECOT_DIR = config.mail_store_dir, config.directory
    settings.SNAPSHOT_DIR = config.snapshot_dir
    settings.TLS_CERT_FILE, settings.TLS_KEY_FILE = str(cert), str(key)
    settings.INTERNAL_BASE_URL = live_server.url
    settings.BRUTEFORCE_KEY_PREFIX = bf_prefix = f"test-{uuid.uuid4().hex[:12]}:bf"
    # Every test client connects from 127.0.0.1: the per-IP block must not trip across the session.
    settings.BRUTEFORCE_IP_FAILURES = 100_000
    plane = MailPlane(config=config)
    try:
        try:
            plane.start()
        except dovecot.DovecotError as exc:
            pytest.fail(f"Dovecot did not start: {exc}", pytrace=False)
        yield plane
    finally:
        try:
            plane.stop()
            _close_database_sessions(django_db_blocker)
        finally:
            settings.MAIL_PORTS.clear()
            settings.MAIL_PORTS.update(saved_ports)
            for name, value in saved.items():
                setattr(settings, name, value)
            _delete_redis_keys(f"{bf_prefix}:*")
            if os.environ.get("MAILSUITE_KEEP_DOVECOT_DIR"):
                print(f"\nDovecot test dir kept: {root}")
            else:
                shutil.rmtree(root, ignore_errors=True)


def _close_database_sessions(django_db_blocker) -> None:
    """Dovecot's and the live server's connections would keep the test database from being dropped."""
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def _delete_redis_keys(pattern: str) -> None:
    try:
        import redis

        client = redis.Redis.from_url(getattr(settings, "BRUTEFORCE_REDIS_URL", settings.REDIS_URL))
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)
        client.close()
    except Exception:  # noqa: S110 - best-effort cleanup of test keys
        pass


@pytest.fixture(scope="session", name="dovecot")
def dovecot_fixture(mailplane):
    """Alias of `mailplane` (the contract names both)."""
    return mailplane


@pytest.fixture
def running_mailplane(mailplane):
    """`mailplane`, restarted first if an earlier test stopped it."""
    mailplane.ensure_running()
    return mailplane


@pytest.fixture
def mailbox_factory(transactional_db):
    """Create a mailbox through domains.services (committed: Dovecot sees it) and return
    (address, password). Keyword arguments go to tests.factories.MailboxFactory."""
    from tests.factories import mailbox_with_password

    def make(**kwargs) -> tuple[str, str]:
        return mailbox_with_password(**kwargs)

    yield make
    _wait_for_late_writers()


def _wait_for_late_writers(settle: float = 0.15, timeout: float = 5.0) -> None:
    """Dovecot reports each login to the auth-policy endpoint after it has answered the client,
    so that write can still be in flight when the test ends. The database flush that follows
    (TRUNCATE) and such a write lock the same tables in opposite order and may deadlock: wait
    until no other session of the test database is busy, twice in a row, before the flush."""
    from django.db import connection

    sql = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction')"
    )
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 2 and time.monotonic() < deadline:
        time.sleep(settle)
        with connection.cursor() as cursor:
            cursor.execute(sql)
            busy = cursor.fetchone()[0]
        quiet = quiet + 1 if busy == 0 else 0


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failing test that used the mail plane, attach Dovecot's log tail to the report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and "mailplane" in getattr(item, "fixturenames", ()):
        plane = item.funcargs.get("mailplane") or item.funcargs.get("running_mailplane")
        if isinstance(plane, MailPlane):
            report.sections.append(("dovecot log", plane.log_tail()))
