"""Outbound scanning (issue 14 item 3, mta.outscan): smtplib on the real submission port, the
suite's rspamd, the relay sink standing for the Internet, Dovecot for internal copies. A message
to the Internet scored as spam is refused and holds the mailbox's outgoing mail; the postmaster
is emailed; internal mail still works; the Postmaster releases the hold in the panel."""

import smtplib

import pytest
from django.utils import translation

from core.models import AuditEntry
from domains.models import Mailbox
from mta.models import OutboundMessage, TracemailEntry
from tests.factories import MAILBOX_PASSWORD, DomainFactory, MailboxFactory
from tests.panel.conftest import panel_client, postmaster_of

pytestmark = [pytest.mark.protocol, pytest.mark.usefixtures("smtp_isolation")]

# rspamd's GTUBE variant for its "add header" action (see tests/protocol/test_filtering.py).
GTUBE_ADD_HEADER = "YJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
TEXT = (
    "Dear colleague, the quarterly report is attached below with the figures for the northern "
    "office, the minutes of Tuesday's meeting and the travel plan for the conference next month."
)


def message(to: str, subject: str, body: str = TEXT) -> bytes:
    return (
        f"From: Mario Rossi <mario@acme.test>\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '-')}@acme.test>\r\n"
        f"Date: Tue, 01 Dec 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def send(smtpd, to: str, data: bytes) -> tuple[int, str]:
    """One submission as mario; the first refusal (RCPT or DATA) or the DATA reply."""
    with smtpd.submission("mario@acme.test", MAILBOX_PASSWORD) as client:
        client.mail("mario@acme.test")
        code, text = client.rcpt(to)
        if code != 250:
            return code, text.decode()
        code, text = client.data(data)
        return code, text.decode()


def relay_send(smtpd, to: str, data: bytes) -> tuple[int, str]:
    """One message as Mario's Sieve script hands it to the relay listener (vacation, redirect)."""
    with smtplib.SMTP(smtpd.host, smtpd.ports["relay"], timeout=30) as client:
        client.ehlo("sieve.localhost")
        client.mail("mario@acme.test")
        code, text = client.rcpt(to)
        if code != 250:
            return code, text.decode()
        code, text = client.data(data)
        return code, text.decode()


@pytest.fixture
def acme(transactional_db, rspamd, dns_server, running_mailplane, relay_sink):
    domain = DomainFactory(name="acme.test")
    MailboxFactory(domain=domain, local_part="mario")
    MailboxFactory(domain=domain, local_part="anna")
    return domain


def test_outgoing_spam_is_refused_holds_the_mailbox_until_the_postmaster_releases_it(
    acme, smtpd, relay_sink, mailoutbox, settings
):
    settings.LANGUAGE_CODE = "en"  # the notice's language (Italian by default)
    mario = Mailbox.objects.get(domain=acme, local_part="mario")
    # given a clean message to the Internet: scanned, sent
    assert send(smtpd, "bob@far.example", message("bob@far.example", "figures"))[0] == 250
    assert [m.rcpt_tos for m in relay_sink.messages] == [["bob@far.example"]]
    clean = TracemailEntry.objects.get(recipient="bob@far.example", subject="figures")
    assert clean.spam_verdict == "clean"

    # when Mario's account sends spam to the Internet (and to a colleague)
    spam = message("bob@far.example", "cheap pills", f"{TEXT}\r\n{GTUBE_ADD_HEADER}")
    with smtpd.submission("mario@acme.test", MAILBOX_PASSWORD) as client:
        client.mail("mario@acme.test")
        assert client.rcpt("bob@far.example")[0] == 250
        assert client.rcpt("anna@acme.test")[0] == 250
        code, text = client.data(spam)
    # then it is refused, saying why, and nothing is sent (the colleague's copy neither)
    assert (code, text.decode()) == (
        554,
        "5.7.1 Message refused: it was scored as spam (score 6.0); outgoing mail of this mailbox "
        "is now held, contact your postmaster",
    )
    assert OutboundMessage.objects.count() == 1
    rows = TracemailEntry.objects.filter(subject="cheap pills").order_by("recipient")
    assert [(r.recipient, r.status, r.spam_verdict, r.spam_score) for r in rows] == [
        ("anna@acme.test", "rejected", "spam", 6.0),
        ("bob@far.example", "rejected", "spam", 6.0),
    ]
    # and the mailbox's outgoing mail is held, audited, the postmaster emailed
    mario.refresh_from_db()
    assert mario.sending_held_at is not None and "6.00" in mario.sending_held_reason
    assert AuditEntry.objects.filter(action="mailbox.sending_hold", target="mario@acme.test").count() == 1
    (notice,) = [m for m in mailoutbox if "mario@acme.test" in m.subject]
    assert notice.to == ["postmaster@acme.test"]
    assert notice.subject == "Outgoing mail of mario@acme.test held: a message scored as spam"
    assert "Subject: cheap pills" in notice.body and "6.00" in notice.body and "GTUBE" in notice.body

    # a next clean message to the Internet is refused at RCPT; internal mail still works
    assert send(smtpd, "bob@far.example", message("bob@far.example", "hello again")) == (
        550,
        "5.7.1 Sending to external addresses suspended, contact your postmaster",
    )
    assert relay_send(smtpd, "bob@far.example", message("bob@far.example", "away")) == (
        550,
        "5.7.1 Sending to external addresses suspended, contact your postmaster",
    )
    assert send(smtpd, "anna@acme.test", message("anna@acme.test", "lunch"))[0] == 250
    assert TracemailEntry.objects.get(recipient="anna@acme.test", subject="lunch").status == "delivered"
    assert OutboundMessage.objects.count() == 1

    # the Postmaster sees the state in the list and releases it on the mailbox page
    client = panel_client(postmaster_of(acme).user)
    with translation.override("en"):
        assert "data-sending-held" in client.get("/mailadmin/d/acme.test/").content.decode()
        url = f"/mailadmin/d/acme.test/m/{mario.pk}/sending-hold/"
        assert url in client.get(f"/mailadmin/d/acme.test/m/{mario.pk}/").content.decode()
        assert client.post(url, {"action": "release"}).status_code == 302
    mario.refresh_from_db()
    assert mario.sending_held_at is None
    assert AuditEntry.objects.filter(action="mailbox.sending_release", target="mario@acme.test").count() == 1
    # and sending to the Internet works again
    assert send(smtpd, "bob@far.example", message("bob@far.example", "back"))[0] == 250
    assert OutboundMessage.objects.count() == 2


def test_rspamd_down_on_submission_to_the_internet_answers_4xx(acme, smtpd, relay_sink, settings):
    settings.RSPAMD_URL = "http://127.0.0.1:9"  # nothing listens: rspamd is down
    assert send(smtpd, "bob@far.example", message("bob@far.example", "figures")) == (
        451,
        "4.3.0 Message filter unavailable, please try again later",
    )
    # the Sieve relay too
    assert relay_send(smtpd, "bob@far.example", message("bob@far.example", "away")) == (
        451,
        "4.3.0 Message filter unavailable, please try again later",
    )
    assert OutboundMessage.objects.count() == 0
    assert Mailbox.objects.get(local_part="mario").sending_held_at is None
    # internal mail is not scanned: delivered
    assert send(smtpd, "anna@acme.test", message("anna@acme.test", "lunch"))[0] == 250
