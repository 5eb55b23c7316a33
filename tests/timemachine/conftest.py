"""Time Machine tests: the session's real Dovecot (tests/protocol/mailplane.py), mailboxes with
mail and snapshots taken by snapshots.services, Django's test client logged in through the
portal's own login."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

import pytest
from django.test import Client
from django.utils import timezone

from domains.models import Mailbox
from mailstore.imap import imap_session
from mailstore.layout import home_path
from mailstore.pool import POOL
from mailstore.snapshots import backend
from snapshots.models import Snapshot, SnapshotStatus
from snapshots.services import snapshot_take


@pytest.fixture
def tm(running_mailplane, transactional_db):
    yield running_mailplane
    POOL.close_all()


def mail(
    *,
    subject="Hello",
    sender="Alice <alice@example.test>",
    to="bob@example.test",
    body="Hi",
    date="Tue, 03 Mar 2026 10:00:00 +0100",
    html=False,
    extra=b"",
) -> bytes:
    ctype = "text/html" if html else "text/plain"
    head = (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\n"
        f"Message-ID: <{abs(hash((subject, body, sender)))}@example.test>\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: {ctype}; charset=utf-8\r\n"
    ).encode()
    return head + extra + b"\r\n" + body.encode()


def tm_login(address: str, password: str) -> Client:
    client = Client(REMOTE_ADDR="127.0.0.1")
    response = client.post("/timemachine/login/", {"login": address, "password": password})
    assert response.status_code == 302, response.content[:500]
    return client


@dataclass
class TmUser:
    address: str
    password: str
    mailbox: Mailbox
    client: Client | None = None
    days: list[datetime.date] = field(default_factory=list)

    def append(self, raw: bytes, folder: str = "INBOX", flags: tuple = ()) -> int:
        with imap_session(self.address) as imap:
            if folder != "INBOX" and not imap.folder_exists(folder):
                imap.create_folder(folder)
            response = imap.append(folder, raw, flags=flags)
        return int(response.split(b"APPENDUID ")[1].split(b" ")[1].rstrip(b"]"))

    def snapshot(self, day: datetime.date | None = None) -> Snapshot:
        """Today's snapshot through the service; an earlier day straight from the backend (the
        service takes only today) with its row, as the nightly run would have left it."""
        today = timezone.localdate()
        day = day or today
        if day == today:
            row = snapshot_take(mailbox_id=self.mailbox.pk, day=day)
        else:
            taken = timezone.make_aware(datetime.datetime.combine(day, datetime.time(0, 0, 7)))
            result = backend().take(
                mailbox_id=self.mailbox.pk, day=day, home=home_path(self.mailbox.pk), now=taken
            )
            row = Snapshot.objects.create(
                mailbox=self.mailbox,
                day=day,
                status=SnapshotStatus.TAKEN,
                taken_at=taken,
                messages=result.messages,
                bytes=result.bytes,
                attempts=1,
            )
        assert row is not None and row.is_taken
        self.days.append(day)
        return row


@pytest.fixture
def tm_user(tm, mailbox_factory):
    def make(*, log_in: bool = True, **kwargs) -> TmUser:
        address, password = mailbox_factory(**kwargs)
        local, _, domain = address.partition("@")
        mailbox = Mailbox.objects.get(local_part=local, domain__name=domain)
        user = TmUser(address=address, password=password, mailbox=mailbox)
        if log_in:
            user.client = tm_login(address, password)
        return user

    return make
