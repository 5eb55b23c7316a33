"""Exactly once across a crash: the MX under load, `kill -9` of the SMTP server or of Dovecot in
the middle, senders that retry like MTAs until they get 250. Every message must be in the mailbox
exactly once, counted over IMAP in every folder.

Both faults are real: the SMTP server runs as its own process (`manage.py smtpd`, the
production entry point) on the test database and the test Dovecot, and is killed with SIGKILL;
Dovecot's master process is killed with SIGKILL (its children notice and exit) and started again.
A kill lands while some messages are between "handed to Dovecot" and "acknowledged": those are
the copies that used to arrive twice.

Everything has a timeout: the clients stop retrying after a deadline, the server and Dovecot
must come back within seconds, and the test fails (does not hang) otherwise."""

import email.utils
import imaplib
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.protocol.mailplane import free_ports

pytestmark = pytest.mark.usefixtures("smtp_isolation")

REPO = Path(__file__).resolve().parents[2]
MESSAGES = 400
CLIENTS = 4
SENDER = "queue@far.example"
LOAD_DEADLINE = 60.0  # seconds for one phase's whole load, retries included


@dataclass
class SMTPProcess:
    """`manage.py smtpd` as a separate process, on free ports, pointed at the test database and
    the test Dovecot."""

    env: dict[str, str]
    port: int
    log_path: Path
    proc: subprocess.Popen | None = None
    starts: int = 0

    def start(self, timeout: float = 30.0) -> None:
        log = open(self.log_path, "a")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "manage.py", "smtpd", "--workers", "4"],
            cwd=REPO,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"smtpd exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                    if sock.recv(64).startswith(b"220"):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"smtpd did not greet within {timeout} s:\n{self.log_tail()}")

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@pytest.fixture
def smtpd_process(running_mailplane, transactional_db, tmp_path, sendlimit_prefix, bruteforce_prefix):
    db = connection.settings_dict
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{host}:{port}/{db['NAME']}"
    mx, relay, smtps, submission = free_ports(4)
    ports = settings.MAIL_PORTS
    env = dict(os.environ) | {
        "DJANGO_SETTINGS_MODULE": "mailsuite.settings",
        "MAILSUITE_DEBUG": "1",
        "MAILSUITE_DATABASE_URL": url,
        "MAILSUITE_DATA_DIR": str(tmp_path / "data"),
        "MAILSUITE_SPOOL_DIR": str(tmp_path / "spool"),
        "MAILSUITE_MAIL_HOSTNAME": "mx.crash.localhost",
        "MAILSUITE_MAIL_BIND": "127.0.0.1",
        "MAILSUITE_LMTP_HOST": "127.0.0.1",
        "MAILSUITE_PORT_MX": str(mx),
        "MAILSUITE_PORT_RELAY": str(relay),
        "MAILSUITE_PORT_SMTPS": str(smtps),
        "MAILSUITE_PORT_SUBMISSION": str(submission),
        "MAILSUITE_PORT_LMTP": str(ports["lmtp"]),
        "MAILSUITE_PORT_IMAP": str(ports["imap"]),
        "MAILSUITE_PORT_IMAPS": str(ports["imaps"]),
        "MAILSUITE_PORT_POP3S": str(ports["pop3s"]),
        "MAILSUITE_PORT_SIEVE": str(ports["sieve"]),
        "MAILSUITE_TLS_CERT": str(running_mailplane.config.cert_file),
        "MAILSUITE_TLS_KEY": str(running_mailplane.config.key_file),
        "MAILSUITE_MAILSTORE_MASTER_USER": settings.MAILSTORE_MASTER_USER,
        "MAILSUITE_MAILSTORE_MASTER_PASSWORD": settings.MAILSTORE_MASTER_PASSWORD,
        "MAILSUITE_SECRET_KEY": settings.SECRET_KEY,
        "MAILSUITE_SENDLIMIT_KEY_PREFIX": sendlimit_prefix,
        "MAILSUITE_BRUTEFORCE_KEY_PREFIX": bruteforce_prefix,
        "MAILSUITE_CELERY_EAGER": "1",
        # Crash safety, not filtering: no rspamd in this process's way (tests/protocol/test_filtering.py).
        "MAILSUITE_RSPAMD_FILTERING": "0",
    }
    server = SMTPProcess(env=env, port=mx, log_path=tmp_path / "smtpd.log")
    server.start()
    yield server
    server.stop()
    running_mailplane.ensure_running()


@dataclass
class Load:
    """CLIENTS sender threads, each with one kept-open connection (reopened after an error),
    retrying every message until it gets 250, as an MTA's queue does."""

    port: int
    recipients: list[str]
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    acknowledged: int = 0
    retries: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def message_id(self, n: int) -> str:
        return f"<crash-{self.tag}-{n}@far.example>"

    def message(self, n: int) -> tuple[str, bytes]:
        recipient = self.recipients[n % len(self.recipients)]
        head = (
            f"From: {SENDER}\r\nTo: {recipient}\r\nSubject: load {n}\r\n"
            f"Date: {email.utils.formatdate()}\r\nMessage-ID: {self.message_id(n)}\r\n\r\n"
        )
        return recipient, head.encode() + b"line of the body\r\n" * 40

    def run_client(self, numbers: list[int], deadline: float) -> None:
        client: smtplib.SMTP | None = None
        for n in numbers:
            recipient, data = self.message(n)
            while True:
                if time.monotonic() > deadline:
                    with self.lock:
                        self.refused.append((self.message_id(n), "deadline passed"))
                    break
                try:
                    if client is None:
                        client = smtplib.SMTP("127.0.0.1", self.port, timeout=10)
                        client.ehlo("far.example")
                    client.sendmail(SENDER, [recipient], data)
                    with self.lock:
                        self.acknowledged += 1
                    break
                except smtplib.SMTPResponseException as exc:
                    if exc.smtp_code >= 500:
                        with self.lock:
                            self.refused.append((self.message_id(n), f"{exc.smtp_code} {exc.smtp_error!r}"))
                        break
                except (smtplib.SMTPException, OSError):
                    pass
                # 4xx or connection lost: a new connection, after a short pause
                with self.lock:
                    self.retries += 1
                if client is not None:
                    try:
                        client.close()
                    except OSError:
                        pass
                    client = None
                time.sleep(0.2)
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()

    def run(self, fault, *, after: int) -> float:
        """Send MESSAGES; call `fault()` once `after` messages were acknowledged. Returns seconds."""
        started = time.monotonic()
        deadline = started + LOAD_DEADLINE
        shares = [list(range(i, MESSAGES, CLIENTS)) for i in range(CLIENTS)]
        threads = [threading.Thread(target=self.run_client, args=(s, deadline), daemon=True) for s in shares]
        for thread in threads:
            thread.start()
        while self.acknowledged < after and any(t.is_alive() for t in threads):
            if time.monotonic() > deadline:
                break
            time.sleep(0.005)
        fault()
        for thread in threads:
            thread.join(timeout=max(1.0, deadline - time.monotonic() + 5))
        assert not any(t.is_alive() for t in threads), "a sender thread is still running"
        return time.monotonic() - started


def copies_by_message_id(plane, address: str, password: str) -> Counter:
    """Message-ID → number of copies, over IMAP, in every folder of the mailbox."""
    counts: Counter = Counter()
    imap = imaplib.IMAP4_SSL(plane.host, plane.ports["imaps"], ssl_context=plane.ssl_context(), timeout=30)
    try:
        imap.login(address, password)
        _, folders = imap.list()
        for line in folders:
            flags, _, name = re.match(r'\((.*?)\) (".*?"|NIL) (.*)', line.decode()).groups()
            if "\\noselect" in flags.lower():
                continue
            name = name.strip('"')
            typ, _ = imap.select(f'"{name}"', readonly=True)
            assert typ == "OK", name
            if not _exists(imap):
                continue
            _, data = imap.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            for part in data:
                if isinstance(part, tuple):
                    value = part[1].decode().split(":", 1)[1].strip()
                    counts[value] += 1
    finally:
        imap.logout()
    return counts


def _exists(imap: imaplib.IMAP4) -> bool:
    _, data = imap.search(None, "ALL")
    return bool(data[0].split())


def assert_exactly_once(load: Load, plane, mailboxes: list[tuple[str, str]]) -> Counter:
    assert load.refused == [], load.refused[:5]
    counts: Counter = Counter()
    for address, password in mailboxes:
        counts.update(copies_by_message_id(plane, address, password))
    wanted = {load.message_id(n) for n in range(MESSAGES)}
    lost = sorted(wanted - set(counts))
    duplicated = {mid: c for mid, c in counts.items() if c > 1}
    from mta.models import HandledCopy, TracemailEntry

    found = TracemailEntry.objects.filter(
        message_id__in=wanted, reason__startswith="250 2.0.0 already in the mailbox"
    ).count()
    print(
        f"\n{MESSAGES} messages, {load.retries} retries: {len(lost)} lost, {len(duplicated)} duplicated "
        f"({sum(counts.values())} copies); {found} found in the mailbox on a retry"
    )
    if duplicated or lost:
        for mid in list(duplicated) + lost[:3]:
            for row in TracemailEntry.objects.filter(message_id=mid).order_by("id"):
                print("  tracemail", mid, row.status, row.reason, row.queue_id)
        print("  handled copies not done:", list(HandledCopy.objects.exclude(state="done").values_list()))
    assert (lost, duplicated) == ([], {})
    return counts


def test_kill_of_the_smtp_server_under_load_loses_nothing_and_duplicates_nothing(
    smtpd_process, running_mailplane, mailbox_factory
):
    # given four hosted mailboxes and four senders that retry until they get 250
    mailboxes = [mailbox_factory() for _ in range(CLIENTS)]
    load = Load(port=smtpd_process.port, recipients=[a for a, _ in mailboxes])

    # when the SMTP server is killed (SIGKILL) in the middle of the load and started again
    def kill_and_restart() -> None:
        smtpd_process.kill9()
        smtpd_process.start()

    elapsed = load.run(kill_and_restart, after=MESSAGES // 3)

    # then every message is in the mailboxes exactly once
    assert smtpd_process.starts == 2
    print(f"smtpd kill: load took {elapsed:.1f} s")
    assert_exactly_once(load, running_mailplane, mailboxes)


def test_kill_of_dovecot_under_load_loses_nothing_and_duplicates_nothing(
    smtpd_process, running_mailplane, mailbox_factory
):
    # given four hosted mailboxes and four senders that retry until they get 250
    mailboxes = [mailbox_factory() for _ in range(CLIENTS)]
    load = Load(port=smtpd_process.port, recipients=[a for a, _ in mailboxes])
    plane = running_mailplane

    # when Dovecot's master process is killed (SIGKILL) in the middle of the load and started again
    def kill_and_restart() -> None:
        pid = int(plane.config.pid_path.read_text().strip())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while plane.is_running() and time.monotonic() < deadline:
            time.sleep(0.05)
        _wait_for_free_ports(plane, timeout=15)
        plane.start()

    elapsed = load.run(kill_and_restart, after=MESSAGES // 3)

    # then every message is in the mailboxes exactly once
    print(f"dovecot kill: load took {elapsed:.1f} s")
    assert_exactly_once(load, plane, mailboxes)


def _wait_for_free_ports(plane, *, timeout: float) -> None:
    """The killed master's children exit on their own once they notice; until then they may
    still hold the listening sockets."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = False
        for port in plane.ports.values():
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind((plane.host, port))
                except OSError:
                    busy = True
                    break
        if not busy:
            return
        time.sleep(0.1)
    raise AssertionError("Dovecot's ports are still in use after the kill")
