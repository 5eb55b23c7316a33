"""The retry of a message whose earlier attempt ended without knowing whether Dovecot has the copy
(the states a crash leaves behind, set up exactly; tests/protocol/test_smtp_crash_once.py makes
them with real kills under load).

- the copy is in the mailbox (a Sieve rule may have filed it in another folder): the retry
  answers 250 and delivers nothing; Tracemail says so;
- the copy is not there: the retry delivers it, once;
- another attempt is still delivering it (its database session alive): 451, nothing delivered;
- Dovecot unreachable for the search: 451, nothing delivered, the row still "unknown";
- the normal path never searches (no IMAP session per message)."""

import imaplib

import pytest
from django.db import connection

from mta import acceptance
from mta.acceptance import DELIVERY_HEADER, delivery_id, fingerprint_of
from mta.models import HandledCopy, TracemailEntry
from tests.protocol.test_smtp_hostile import mx_send

pytestmark = pytest.mark.usefixtures("smtp_isolation")

SENDER = "queue@far.example"


def message(tag: str) -> bytes:
    return (
        f"From: {SENDER}\r\nSubject: retry {tag}\r\nMessage-ID: <{tag}@far.example>\r\n\r\nbody\r\n"
    ).encode()


def copies(plane, address: str, password: str, tag: str) -> dict[str, int]:
    """Folder → copies of <tag@far.example>, over IMAP, every folder."""
    imap = imaplib.IMAP4_SSL(plane.host, plane.ports["imaps"], ssl_context=plane.ssl_context(), timeout=15)
    found = {}
    try:
        imap.login(address, password)
        for folder in ("INBOX", "Filed"):
            if imap.select(folder, readonly=True)[0] != "OK":
                continue
            _, data = imap.search(None, "HEADER", "Message-ID", f"<{tag}@far.example>")
            if data[0].split():
                found[folder] = len(data[0].split())
    finally:
        imap.logout()
    return found


def move_to_folder(plane, address: str, password: str, folder: str) -> None:
    """As a Sieve `fileinto` would have left it: the copy in another folder, not in INBOX."""
    imap = imaplib.IMAP4_SSL(plane.host, plane.ports["imaps"], ssl_context=plane.ssl_context(), timeout=15)
    try:
        imap.login(address, password)
        imap.create(folder)
        imap.select("INBOX")
        imap.copy("1:*", folder)
        imap.store("1:*", "+FLAGS", "\\Deleted")
        imap.expunge()
    finally:
        imap.logout()


def interrupted(address: str, data: bytes, *, state: str, owner_pid: int | None = None) -> None:
    """The row an interrupted attempt leaves: "delivering" with its session's pid, or "unknown"."""
    HandledCopy.objects.filter(fingerprint=fingerprint_of(SENDER, data), recipient=address.lower()).update(
        state=state, owner_pid=owner_pid
    )


def test_a_retry_finds_the_copy_already_delivered_in_another_folder_and_delivers_nothing(
    smtpd, running_mailplane, mailbox_factory
):
    # given a copy that reached Dovecot (then filed in another folder) while the SMTP server
    # died before it recorded the copy as done: its row still "delivering", the session gone
    address, password = mailbox_factory()
    data = message("found-elsewhere")
    assert mx_send(smtpd, SENDER, [address], data)[0] == 250
    move_to_folder(running_mailplane, address, password, "Filed")
    interrupted(address, data, state="delivering", owner_pid=0)  # no PostgreSQL session has pid 0

    # when the sender retries
    code, text = mx_send(smtpd, SENDER, [address], data)

    # then 250, still one copy (where Sieve put it), and Tracemail says it was found
    assert code == 250, text
    assert copies(running_mailplane, address, password, "found-elsewhere") == {"Filed": 1}
    row = HandledCopy.objects.get(fingerprint=fingerprint_of(SENDER, data))
    assert (row.state, row.owner_pid) == ("done", None)
    assert list(
        TracemailEntry.objects.filter(message_id="<found-elsewhere@far.example>")
        .order_by("id")
        .values_list("status", "reason")
    ) == [
        ("delivered", "250 2.0.0 delivered to mailbox"),
        ("delivered", "250 2.0.0 already in the mailbox (an earlier attempt was interrupted)"),
    ]


def test_a_retry_whose_copy_never_arrived_delivers_it_once(smtpd, running_mailplane, mailbox_factory):
    # given an attempt whose outcome is unknown but whose copy is not in the mailbox
    address, password = mailbox_factory()
    data = message("never-arrived")
    HandledCopy.objects.create(
        fingerprint=fingerprint_of(SENDER, data), recipient=address.lower(), state="unknown"
    )

    # when the sender retries
    code, text = mx_send(smtpd, SENDER, [address], data)

    # then it is delivered, once, with the delivery header of this message and recipient
    assert code == 250, text
    assert copies(running_mailplane, address, password, "never-arrived") == {"INBOX": 1}
    assert HandledCopy.objects.get(fingerprint=fingerprint_of(SENDER, data)).state == "done"
    imap = imaplib.IMAP4_SSL(
        running_mailplane.host, running_mailplane.ports["imaps"], ssl_context=running_mailplane.ssl_context()
    )
    imap.login(address, password)
    imap.select("INBOX", readonly=True)
    _, parts = imap.fetch("1", f"(BODY.PEEK[HEADER.FIELDS ({DELIVERY_HEADER})])")
    imap.logout()
    wanted = f"{DELIVERY_HEADER}: {delivery_id(fingerprint_of(SENDER, data), address)}"
    assert parts[0][1].decode().strip() == wanted


def test_a_retry_while_another_attempt_is_still_delivering_the_copy_answers_451(
    smtpd, running_mailplane, mailbox_factory
):
    # given an attempt still under way: its row "delivering", its database session alive
    address, password = mailbox_factory()
    data = message("in-progress")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        live_pid = cursor.fetchone()[0]
    from django.utils import timezone

    HandledCopy.objects.create(
        fingerprint=fingerprint_of(SENDER, data),
        recipient=address.lower(),
        state="delivering",
        owner_pid=live_pid,
        attempt_at=timezone.now(),
    )

    # when the sender retries at the same time
    code, text = mx_send(smtpd, SENDER, [address], data)

    # then a temporary failure, and no copy delivered by this attempt
    assert code == 451, text
    assert copies(running_mailplane, address, password, "in-progress") == {}


def test_a_retry_that_cannot_search_the_mailbox_answers_451_and_delivers_nothing(
    smtpd, running_mailplane, mailbox_factory, settings
):
    # given an attempt whose outcome is unknown, and IMAP unreachable for the search
    address, password = mailbox_factory()
    data = message("unverifiable")
    HandledCopy.objects.create(
        fingerprint=fingerprint_of(SENDER, data), recipient=address.lower(), state="unknown"
    )
    from tests.protocol.mailplane import free_ports

    settings.MAIL_PORTS = dict(settings.MAIL_PORTS) | {"imap": free_ports(1)[0]}

    # when the sender retries
    code, text = mx_send(smtpd, SENDER, [address], data)

    # then 451: delivering again could make a second copy
    assert code == 451, text
    assert copies(running_mailplane, address, password, "unverifiable") == {}
    assert HandledCopy.objects.get(fingerprint=fingerprint_of(SENDER, data)).state == "unknown"


def test_the_normal_path_never_searches_the_mailbox(smtpd, running_mailplane, mailbox_factory, monkeypatch):
    # given a watch on the mailbox search
    searches = []
    real = acceptance.mailbox_has_header
    monkeypatch.setattr(
        acceptance, "mailbox_has_header", lambda *a, **kw: searches.append(a) or real(*a, **kw)
    )
    address, password = mailbox_factory()

    # when ten new messages arrive
    replies = [mx_send(smtpd, SENDER, [address], message(f"normal-{i}"))[0] for i in range(10)]

    # then each is delivered, and nothing searched the mailbox
    assert replies == [250] * 10
    assert searches == []
    assert set(HandledCopy.objects.values_list("state", flat=True)) == {"done"}
