"""Webmail tests: the real Dovecot (tests/protocol/mailplane.py) and the project's SMTP server
(tests/mta/smtpd_plugin.py) of the session, Django's test client logged in through the portal."""

from __future__ import annotations

import imaplib
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.test import Client

from mailstore.imap import imap_session
from mailstore.pool import POOL


@pytest.fixture(scope="session")
def webmail_plane(mailplane, smtpd):
    """Dovecot + smtpd wired together: the webmail submits to the test smtpd. (Sieve's vacation
    replies already go to the smtpd's relay listener: tests/protocol/mailplane.py sets
    Dovecot's submission_host to it.)"""
    saved_submission = settings.MAIL_PORTS.get("submission")
    settings.MAIL_PORTS["submission"] = smtpd.ports["submission"]
    yield mailplane
    POOL.close_all()
    settings.MAIL_PORTS["submission"] = saved_submission


@pytest.fixture
def wm(webmail_plane, smtpd, settings, tmp_path, smtp_isolation, transactional_db):
    settings.WEBMAIL_UPLOAD_DIR = str(tmp_path / "uploads")
    settings.WEBMAIL_SUBMISSION_CA = smtpd.cert_file
    settings.SMTP_MAX_MESSAGE_SIZE = 200_000  # the test smtpd's own limit
    webmail_plane.ensure_running()
    yield webmail_plane
    POOL.close_all()


@dataclass
class WebmailUser:
    client: Client
    address: str
    password: str

    def imap(self):
        return imap_session(self.address)

    def append(self, raw: bytes, folder: str = "INBOX", flags: tuple = ()) -> int:
        with self.imap() as imap:
            response = imap.append(folder, raw, flags=flags)
        return int(response.split(b"APPENDUID ")[1].split(b" ")[1].rstrip(b"]"))

    def uids(self, folder: str = "INBOX") -> list[int]:
        with self.imap() as imap:
            imap.select_folder(folder, readonly=True)
            return sorted(imap.search(["ALL"]))


def login(address: str, password: str) -> Client:
    client = Client(REMOTE_ADDR="127.0.0.1")
    response = client.post("/webmail/login/", {"login": address, "password": password})
    assert response.status_code == 302, response.content[:500]
    return client


@pytest.fixture
def webmail_user(wm, mailbox_factory):
    def make(**kwargs) -> WebmailUser:
        address, password = mailbox_factory(**kwargs)
        return WebmailUser(client=login(address, password), address=address, password=password)

    return make


def message(
    *,
    sender="Alice <alice@example.test>",
    to="bob@example.test",
    subject="Hello",
    body="Hi there",
    headers: dict | None = None,
) -> bytes:
    lines = [
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        "Date: Tue, 03 Mar 2026 10:00:00 +0100",
        "Message-ID: <m-%s@example.test>" % abs(hash((sender, subject, body))),
        "MIME-Version: 1.0",
    ]
    for k, v in (headers or {"Content-Type": "text/plain; charset=utf-8"}).items():
        lines.append(f"{k}: {v}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode("utf-8")


__all__ = ["imaplib"]
