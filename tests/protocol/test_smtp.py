"""The SMTP server with the real Dovecot: local delivery over LMTP seen over IMAP, the MX, quota,
Dovecot down and the sender's retry, relay to the sink; swaks and smtplib as clients.
(Policy cases without local delivery: tests/mta/test_smtp_policy.py.)"""

import email
import imaplib
import shutil
import subprocess

import pytest

from domains.models import Mailbox
from mailstore.services import quota_override_set
from mta.models import HandledCopy, TracemailEntry
from tests.factories import DomainFactory
from tests.protocol.helpers import message as lf_message

pytestmark = pytest.mark.usefixtures("smtp_isolation")


@pytest.fixture
def acme(running_mailplane, transactional_db):
    # Unique names: Dovecot's mail directory outlives each test's database rows.
    return DomainFactory()


def message(sender: str, recipient: str, **kwargs) -> bytes:
    """A test message with CRLF line ends, as SMTP clients send them."""
    return lf_message(sender, recipient, **kwargs).replace(b"\n", b"\r\n")


def inbox(plane, address: str, password: str) -> list[bytes]:
    """The raw messages in INBOX, oldest first."""
    imap = imaplib.IMAP4_SSL(plane.host, plane.ports["imaps"], ssl_context=plane.ssl_context(), timeout=15)
    try:
        imap.login(address, password)
        imap.select("INBOX", readonly=True)
        _, data = imap.search(None, "ALL")
        out = []
        for num in data[0].split():
            _, parts = imap.fetch(num, "(RFC822)")
            out.append(parts[0][1])
        return out
    finally:
        imap.logout()


def swaks(*args: str) -> subprocess.CompletedProcess:
    assert shutil.which("swaks"), "swaks is installed by scripts/setup.sh --test"
    return subprocess.run(["swaks", "--timeout", "20", *args], capture_output=True, text=True, timeout=60)  # noqa: S603,S607


def test_submission_465_delivers_locally_and_to_the_relay(
    running_mailplane, smtpd, relay_sink, acme, mailbox_factory
):
    # given two mailboxes of the same domain
    mario, mario_pw = mailbox_factory(domain=acme)
    luigi, luigi_pw = mailbox_factory(domain=acme)
    # when mario sends one message to luigi and to an external address over 465
    with smtpd.smtps(mario, mario_pw) as client:
        refused = client.sendmail(
            mario, [luigi, "someone@far.example"], message(mario, luigi, subject="Riunione")
        )
    assert refused == {}
    # then luigi sees it over IMAP, with our Received header and a Message-ID
    [raw] = inbox(running_mailplane, luigi, luigi_pw)
    parsed = email.message_from_bytes(raw)
    assert parsed["Subject"] == "Riunione"
    assert parsed["Message-ID"]
    received = [" ".join(r.split()) for r in parsed.get_all("Received")]
    assert "by mail.localhost with LMTP" in received[0]  # Dovecot's, on top of ours
    assert "by mx.test.localhost (mailsuite) with ESMTPSA id" in received[1]
    # and the relay got the external copy
    assert [(m.mail_from, m.rcpt_tos) for m in relay_sink.messages] == [(mario, ["someone@far.example"])]
    # and Tracemail has one row per recipient
    rows = sorted(TracemailEntry.objects.values_list("direction", "status", "recipient"))
    assert rows == [("internal", "delivered", luigi), ("out", "delivered", "someone@far.example")]


def test_submission_587_starttls_delivers_to_a_local_mailbox(running_mailplane, smtpd, acme, mailbox_factory):
    mario, mario_pw = mailbox_factory(domain=acme)
    anna, anna_pw = mailbox_factory(domain=DomainFactory())
    with smtpd.submission(mario, mario_pw) as client:
        client.sendmail(mario, [anna], message(mario, anna, subject="Via 587"))
    [raw] = inbox(running_mailplane, anna, anna_pw)
    assert email.message_from_bytes(raw)["Subject"] == "Via 587"
    entry = TracemailEntry.objects.get()
    assert (entry.direction, entry.status, entry.sender_domain_id, entry.recipient_domain.name) == (
        "internal",
        "delivered",
        acme.pk,
        anna.split("@")[1],
    )


def test_mx_accepts_a_hosted_mailbox_with_swaks_and_refuses_an_unknown_one(
    running_mailplane, smtpd, acme, mailbox_factory
):
    mario, mario_pw = mailbox_factory(domain=acme)
    port = str(smtpd.ports["smtp_mx"])
    # when swaks delivers to mario through the MX
    ok = swaks(
        "--server",
        smtpd.host,
        "--port",
        port,
        "--from",
        "friend@far.example",
        "--to",
        mario,
        "--header",
        "Subject: from swaks",
        "--ehlo",
        "far.example",
    )
    # then the message is in mario's inbox
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "<-  250 2.0.0 OK queued as " in ok.stdout
    [raw] = inbox(running_mailplane, mario, mario_pw)
    assert email.message_from_bytes(raw)["Subject"] == "from swaks"
    # when swaks tries an unknown mailbox, the MX refuses it at RCPT with 550 5.1.1
    nobody = f"nobody@{acme.name}"
    bad = swaks("--server", smtpd.host, "--port", port, "--from", "friend@far.example", "--to", nobody)
    assert bad.returncode == 24  # swaks: every recipient refused
    assert f"<** 550 5.1.1 <{nobody}>: Recipient address rejected: User unknown" in bad.stdout
    rows = list(TracemailEntry.objects.order_by("id").values_list("direction", "status", "recipient"))
    assert rows == [("in", "delivered", mario), ("in", "rejected", nobody)]


def test_over_quota_answers_552_5_2_2(running_mailplane, smtpd, acme, mailbox_factory):
    # given a mailbox with 2 KB of space
    mario, _ = mailbox_factory(domain=acme)
    quota_override_set(mailbox=Mailbox.objects.get(user__username=mario), quota_bytes=2048)
    # when a 10 KB message arrives on the MX
    with smtpd.mx() as client:
        client.ehlo("far.example")
        client.mail("friend@far.example")
        assert client.rcpt(mario)[0] == 250
        code, text = client.data(message("friend@far.example", mario, size=10_000))
    # then the sender hears 552 5.2.2 and Tracemail records the refusal
    assert (code, text[:6]) == (552, b"5.2.2 "), text
    entry = TracemailEntry.objects.get()
    assert (entry.status, entry.reason[:9]) == ("rejected", "552 5.2.2")


def test_dovecot_down_answers_4xx_and_the_retry_delivers_exactly_one_copy(
    running_mailplane, smtpd, acme, mailbox_factory
):
    mario, mario_pw = mailbox_factory(domain=acme)
    luigi, luigi_pw = mailbox_factory(domain=acme)
    data = message("friend@far.example", mario, subject="retry me")

    def send() -> tuple[int, bytes]:
        with smtpd.mx() as client:
            client.ehlo("far.example")
            client.mail("friend@far.example")
            client.rcpt(mario)
            client.rcpt(luigi)
            return client.data(data)

    # given Dovecot is stopped
    running_mailplane.stop()
    try:
        # then the MX answers 451 at DATA, so the sender keeps the message
        assert send() == (451, b"4.3.0 Temporary local delivery failure, please try again later")
    finally:
        running_mailplane.start()
    # when the sender retries after the restart
    code, text = send()
    assert code == 250
    # then each mailbox has exactly one copy
    assert len(inbox(running_mailplane, mario, mario_pw)) == 1
    assert len(inbox(running_mailplane, luigi, luigi_pw)) == 1
    # and a further retry of the same message (as after a lost 250) delivers nothing new
    assert send()[0] == 250
    assert len(inbox(running_mailplane, mario, mario_pw)) == 1
    assert HandledCopy.objects.count() == 2
    statuses = sorted(TracemailEntry.objects.values_list("recipient", "status"))
    assert statuses == sorted(
        [(luigi, "deferred"), (luigi, "delivered"), (mario, "deferred"), (mario, "delivered")]
    )


def test_a_partial_delivery_is_completed_by_the_retry_without_a_second_copy(
    running_mailplane, smtpd, acme, mailbox_factory
):
    # given a first attempt delivered mario's copy and failed luigi's (simulated: luigi's
    # domain momentarily pointing nowhere is not reproducible, so mario's copy is made first)
    mario, mario_pw = mailbox_factory(domain=acme)
    luigi, luigi_pw = mailbox_factory(domain=acme)
    data = message("friend@far.example", mario, subject="partial")
    with smtpd.mx() as client:
        client.ehlo("far.example")
        assert client.sendmail("friend@far.example", [mario], data) == {}
    # when the sender sends the same message to both (its retry after a 451)
    with smtpd.mx() as client:
        client.ehlo("far.example")
        assert client.sendmail("friend@far.example", [mario, luigi], data) == {}
    # then mario still has one copy and luigi got his
    assert len(inbox(running_mailplane, mario, mario_pw)) == 1
    assert len(inbox(running_mailplane, luigi, luigi_pw)) == 1


def test_bounce_of_an_external_recipient_reaches_the_sender_mailbox(
    running_mailplane, smtpd, relay_sink, acme, mailbox_factory
):
    mario, mario_pw = mailbox_factory(domain=acme)
    with smtpd.smtps(mario, mario_pw) as client:
        assert (
            client.sendmail(mario, ["reject-me@far.example"], message(mario, "reject-me@far.example")) == {}
        )
    [raw] = inbox(running_mailplane, mario, mario_pw)
    dsn = email.message_from_bytes(raw)
    assert dsn.get_content_type() == "multipart/report"
    assert "Status: 5.1.1" in dsn.get_payload()[1].as_string()
    entry = TracemailEntry.objects.get(recipient="reject-me@far.example")
    assert entry.status == "bounced"


def test_a_bounce_for_a_local_sender_waits_in_the_queue_while_dovecot_is_down(
    running_mailplane, smtpd, relay_sink, acme, mailbox_factory
):
    from mta.models import OutboundRecipient
    from mta.services import outbound_attempt

    mario, mario_pw = mailbox_factory(domain=acme)
    # given Dovecot is down when a remote server refuses mario's message for good
    running_mailplane.stop()
    try:
        with smtpd.smtps(mario, mario_pw) as client:
            data = message(mario, "reject-me@far.example")
            assert client.sendmail(mario, ["reject-me@far.example"], data) == {}
        # then the bounce for mario is not lost: it waits in the durable queue
        [waiting] = OutboundRecipient.objects.filter(address=mario)
        assert waiting.status == "deferred"
        assert waiting.message.sender == ""
    finally:
        running_mailplane.start()
    # when the queue retries it after Dovecot is back
    assert outbound_attempt(recipient_id=waiting.pk).status == "delivered"
    # then mario has exactly one DSN, and it is never bounced again
    [raw] = inbox(running_mailplane, mario, mario_pw)
    dsn = email.message_from_bytes(raw)
    assert dsn.get_content_type() == "multipart/report"
    assert "Status: 5.1.1" in dsn.get_payload()[1].as_string()
    assert outbound_attempt(recipient_id=waiting.pk).status == "delivered"
    assert len(inbox(running_mailplane, mario, mario_pw)) == 1
