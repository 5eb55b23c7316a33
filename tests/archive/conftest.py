"""The Archive portal's tests: a world of archives, their owners, Delegates and outsiders, each
client logged in through the portal's own login flow (Delegates enrol their authenticator at
first login, as in production)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import pytest
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from archiving.indexing import archive_index_pending
from archiving.journaling import archive_journal
from archiving.models import Archive, ArchivedMessage
from archiving.services import archive_attach
from domains import services
from domains.models import Delegate, Mailbox
from tests.backoffice import totp_now
from tests.factories import MAILBOX_PASSWORD, CustomerFactory, DomainFactory, MailboxFactory, ManagerFactory

DELEGATE_PASSWORD = "Delegate-Pass-2026-x"  # noqa: S105 - test data


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    settings.ARCHIVE_BLOB_DIR = tmp_path / "archive"
    settings.ARCHIVE_BLOB_STORE = "archiving.blobstore.filesystem.FileSystemBlobStore"
    settings.BRUTEFORCE_KEY_PREFIX = f"test-archive-{uuid.uuid4().hex[:12]}"


def raw(
    tag: str,
    *,
    date: str,
    body: str = "",
    attachment: bool = False,
    sender: str = "alice@far.example",
    to: str = "ceo@acme.test",
) -> bytes:
    head = (
        f"From: Alice <{sender}>\r\nTo: {to}\r\nSubject: {tag}\r\nMessage-ID: <{tag}@far.example>\r\n"
        f"Date: {date}\r\nMIME-Version: 1.0\r\n"
    )
    text = body or f"hello {tag}"
    if not attachment:
        return (head + f"Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n").encode()
    return (
        head + 'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        f"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
        "--b1\r\nContent-Type: application/pdf\r\n"
        'Content-Disposition: attachment; filename="contract.pdf"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n"
    ).encode()


def journal(mailbox: Mailbox, data: bytes, *, sent: bool = False) -> ArchivedMessage:
    fingerprint = uuid.uuid4().hex * 2
    if sent:
        archive_journal(data=data, fingerprint=fingerprint, received_by=[], sent_by=mailbox.pk)
    else:
        archive_journal(data=data, fingerprint=fingerprint, received_by=[mailbox.pk])
    return ArchivedMessage.objects.get(fingerprint=fingerprint)


def login(client: Client, login: str, password: str, *, path: str = "/archive/login/"):
    return client.post(path, {"login": login, "password": password})


def portal_login(login_name: str, password: str) -> Client:
    """A client through the Archive's login (password; for a Delegate the forced enrolment)."""
    client = Client()
    response = login(client, login_name, password)
    assert response.status_code == 302, response.content[:400]
    if response["Location"] == "/archive/login/enrol/":
        client.get("/archive/login/enrol/")
        device = TOTPDevice.objects.filter(user__username=login_name, confirmed=False).latest("pk")
        page = client.post("/archive/login/enrol/", {"token": totp_now(device)})
        assert page.status_code == 200 and len(page.context["backup_codes"]) == 10
        response = client.post("/archive/login/enrol/")
    elif response["Location"] == "/archive/login/2fa/":
        device = TOTPDevice.objects.get(user__username=login_name, confirmed=True)
        response = client.post("/archive/login/2fa/", {"token": totp_now(device)})
    assert response.status_code == 302 and response["Location"] == "/archive/", response
    return client


@dataclass
class World:
    owner: Mailbox  # ceo@acme.test, with an archive
    archive: Archive
    old: ArchivedMessage  # received 2024-03-01, outside the delegates' window, with an attachment
    inside: ArchivedMessage  # received 2025-06-10, attachment, body word "zanzibar"
    sent: ArchivedMessage  # sent 2025-07-01
    colleague: Mailbox  # same customer, own archive, no right on the owner's
    colleague_archive: Archive
    foreigner: Mailbox  # another customer's mailbox, with an archive
    full: Delegate  # full content of the owner's archive, window 2025
    headers: Delegate  # headers only of the owner's archive, window 2025
    other: Delegate  # full content of the colleague's archive only
    manager_user: object


def make_delegate(manager, username: str, grants, **kwargs) -> Delegate:
    return services.delegate_create(
        manager=manager,
        username=username,
        password=DELEGATE_PASSWORD,
        name=username.title(),
        email=f"{username}@auditors.test",
        expires_on=kwargs.pop("expires_on", timezone.localdate() + dt.timedelta(days=30)),
        grants=grants,
        **kwargs,
    )


@pytest.fixture
def world(db) -> World:
    customer = CustomerFactory()
    domain = DomainFactory(customer=customer, name="acme.test")
    manager = ManagerFactory(customer=customer, domains=[domain], username="boss.acme")
    owner = MailboxFactory(domain=domain, local_part="ceo")
    colleague = MailboxFactory(domain=domain, local_part="colleague")
    foreigner = MailboxFactory(domain=DomainFactory(name="other.test"), local_part="ceo")
    archive = archive_attach(mailbox=owner, retention_years=10).archive
    colleague_archive = archive_attach(mailbox=colleague, retention_years=10).archive
    archive_attach(mailbox=foreigner, retention_years=10)
    old = journal(owner, raw("old-contract", date="Fri, 01 Mar 2024 10:00:00 +0100", attachment=True))
    inside = journal(
        owner, raw("budget", date="Tue, 10 Jun 2025 10:00:00 +0200", body="meet in zanzibar", attachment=True)
    )
    july = "Tue, 01 Jul 2025 09:00:00 +0200"
    sent = journal(owner, raw("reply", date=july, sender="ceo@acme.test", to="alice@far.example"), sent=True)
    note = raw("colleague-note", date="Tue, 10 Jun 2025 11:00:00 +0200", to="colleague@acme.test")
    journal(colleague, note)
    journal(foreigner, raw("foreign-note", date="Tue, 10 Jun 2025 11:00:00 +0200", to="ceo@other.test"))
    archive_index_pending()  # the bodies become searchable (a Celery beat task in production)
    window = {"window_start": dt.date(2025, 1, 1), "window_end": dt.date(2025, 12, 31)}
    return World(
        owner=owner,
        archive=archive,
        old=old,
        inside=inside,
        sent=sent,
        colleague=colleague,
        colleague_archive=colleague_archive,
        foreigner=foreigner,
        full=make_delegate(manager, "full.auditor", [(owner, "full")], **window),
        headers=make_delegate(manager, "headers.auditor", [(owner, "headers")], **window),
        other=make_delegate(manager, "other.auditor", [(colleague, "full")]),
        manager_user=manager.user,
    )


@pytest.fixture
def owner_client(world) -> Client:
    return portal_login(world.owner.address, MAILBOX_PASSWORD)


@pytest.fixture
def full_client(world) -> Client:
    return portal_login("full.auditor", DELEGATE_PASSWORD)


@pytest.fixture
def headers_client(world) -> Client:
    return portal_login("headers.auditor", DELEGATE_PASSWORD)


@pytest.fixture(autouse=True)
def english_pages(settings):
    """These tests read the Archive's messages and errors in English (requests without an
    Accept-Language fall back to LANGUAGE_CODE); the Italian default and the catalogue are
    tests/test_translations.py's."""
    settings.LANGUAGE_CODE = "en"
