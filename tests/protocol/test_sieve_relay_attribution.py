"""Sieve cannot be used to relay (issue 9, item 1).

The attack: a mailbox holder uploads (ManageSieve) a script that redirects to an address taken
from a header, then sends to their own mailbox through the MX, unauthenticated, with
`MAIL FROM:<>`. Every message Pigeonhole hands to the relay listener must be attributed to the
mailbox whose script produced it, counted against its daily external send limit and traced in
its domain's Tracemail; the header From of what leaves must be one the mailbox owns."""

import smtplib
from email import message_from_bytes
from email.utils import getaddresses

import pytest

from domains.models import Mailbox
from mta import sendlimit
from mta.models import TracemailEntry
from tests.factories import DomainFactory
from tests.protocol.test_managesieve import ManageSieve
from tests.protocol.test_sieve_relay import wait_for

pytestmark = [pytest.mark.protocol, pytest.mark.usefixtures("smtp_isolation")]

REDIRECT_FROM_HEADER = 'require ["variables"];\nif header :matches "X-To" "*" { redirect "${1}"; }\n'


@pytest.fixture
def acme(running_mailplane, transactional_db):
    return DomainFactory()


def upload_script(plane, login: str, password: str, script: str) -> None:
    sieve = ManageSieve(plane.host, plane.ports["sieve"])
    try:
        assert sieve.authenticate(login, password).startswith(b"OK")
        reply = sieve.putscript("relay-test", script)
        assert reply.startswith(b"OK"), reply
        assert sieve.command(b'SETACTIVE "relay-test"')[-1].startswith(b"OK")
    finally:
        sieve.close()


def mx_send(smtpd, sender: str, recipient: str, data: bytes) -> None:
    with smtplib.SMTP(smtpd.host, smtpd.ports["smtp_mx"], timeout=30) as client:
        assert client.sendmail(sender, [recipient], data) == {}


def bait(
    recipient: str, *, to_header: str = "", extra: str = "", sender: str = "Boss <boss@far.example>"
) -> bytes:
    return (
        f"From: {sender}\r\nTo: {recipient}\r\nSubject: bait\r\nMessage-ID: <bait-{recipient}>\r\n"
        f"X-To: {to_header}\r\n{extra}\r\nhello\r\n"
    ).encode()


def mailbox_id(address: str) -> int:
    return Mailbox.objects.get(user__username=address).pk


def test_a_redirect_triggered_by_a_null_sender_is_charged_traced_and_sent_as_the_mailbox(
    running_mailplane, smtpd, relay_sink, acme, mailbox_factory
):
    # given a mailbox whose script redirects to the address in the X-To header
    mario, mario_pw = mailbox_factory(domain=acme)
    upload_script(running_mailplane, mario, mario_pw, REDIRECT_FROM_HEADER)
    # when anyone sends it, through the MX with the null sender, a message naming a victim
    mx_send(smtpd, "", mario, bait(mario, to_header="victim@external.test"))
    # then the redirect leaves through the relay, charged to the mailbox
    assert wait_for(lambda: any(m.rcpt_tos == ["victim@external.test"] for m in relay_sink.messages))
    [out] = [m for m in relay_sink.messages if m.rcpt_tos == ["victim@external.test"]]
    assert out.mail_from == "<>"  # Pigeonhole's null sender kept: no bounce of a bounce
    assert sendlimit.used_today(mailbox_id=mailbox_id(mario)) == 1
    # and traced in the mailbox's domain
    row = TracemailEntry.objects.get(recipient="victim@external.test")
    assert (row.sender_domain_id, row.sender, row.direction, row.status) == (
        acme.pk,
        mario,
        TracemailEntry.Direction.OUT,
        TracemailEntry.Status.DELIVERED,
    )
    # and its header From is the mailbox's own, the original author kept as Reply-To
    headers = message_from_bytes(out.content)
    assert getaddresses(headers.get_all("From")) == [("Boss via " + mario, mario)]
    assert getaddresses(headers.get_all("Reply-To")) == [("Boss", "boss@far.example")]
    assert headers.get_all("X-Original-From") == ["Boss <boss@far.example>"]


def test_a_forged_redirected_from_header_does_not_charge_another_mailbox(
    running_mailplane, smtpd, relay_sink, acme, mailbox_factory
):
    # given mario (redirect script) and luigi, of another customer
    mario, mario_pw = mailbox_factory(domain=acme)
    other = DomainFactory()
    luigi, _ = mailbox_factory(domain=other)
    upload_script(running_mailplane, mario, mario_pw, REDIRECT_FROM_HEADER)
    # when the bait carries a forged X-Sieve-Redirected-From naming luigi
    forged = f"X-Sieve-Redirected-From: {luigi}\r\nX-Sieve-Redirected-From: <{luigi}>\r\n"
    mx_send(smtpd, "", mario, bait(mario, to_header="victim@external.test", extra=forged))
    assert wait_for(lambda: any(m.rcpt_tos == ["victim@external.test"] for m in relay_sink.messages))
    # then mario pays and is traced, luigi is untouched
    assert sendlimit.used_today(mailbox_id=mailbox_id(mario)) == 1
    assert sendlimit.used_today(mailbox_id=mailbox_id(luigi)) == 0
    assert list(TracemailEntry.objects.filter(sender_domain=other)) == []
    row = TracemailEntry.objects.get(recipient="victim@external.test")
    assert row.sender_domain_id == acme.pk
    [out] = [m for m in relay_sink.messages if m.rcpt_tos == ["victim@external.test"]]
    assert message_from_bytes(out.content).get_all("X-Sieve-Redirected-From") is None


def test_outsiders_exhausting_the_limit_through_a_redirect_are_seen_in_tracemail(
    running_mailplane, smtpd, relay_sink, acme, mailbox_factory, settings
):
    # given a mailbox with a redirect rule whose daily limit is already spent
    mario, mario_pw = mailbox_factory(domain=acme)
    upload_script(running_mailplane, mario, mario_pw, 'redirect "forward@external.test";\n')
    mailbox = Mailbox.objects.get(user__username=mario)
    for _ in range(int(mailbox.send_limit)):
        assert sendlimit.reserve(mailbox_id=mailbox.pk, limit=int(mailbox.send_limit)).ok
    # when an outsider writes to it (the null sender, as in the relay attack)
    mx_send(smtpd, "", mario, bait(mario))
    # then the copy is refused for the limit, and the refusal is a Tracemail row of the domain
    assert wait_for(
        lambda: TracemailEntry.objects.filter(
            recipient="forward@external.test", status=TracemailEntry.Status.REJECTED
        ).exists()
    ), running_mailplane.log_tail()
    row = TracemailEntry.objects.get(recipient="forward@external.test")
    assert (row.sender_domain_id, row.sender) == (acme.pk, mario)
    assert row.reason.startswith("550 5.7.1 Daily limit of")
    assert relay_sink.messages == []


def test_a_vacation_reply_with_a_foreign_from_is_refused_and_traced(
    running_mailplane, smtpd, relay_sink, acme, mailbox_factory
):
    # given a vacation script that answers as someone else
    mario, mario_pw = mailbox_factory(domain=acme)
    script = 'require ["vacation"];\nvacation :days 1 :from "ceo@bank.example" "Away";\n'
    upload_script(running_mailplane, mario, mario_pw, script)
    # when a correspondent writes
    mx_send(smtpd, "client@far.example", mario, bait(mario, sender="client@far.example"))
    # then no reply leaves; the refusal is traced in the mailbox's domain, naming the address
    assert wait_for(
        lambda: TracemailEntry.objects.filter(
            recipient="client@far.example", status=TracemailEntry.Status.REJECTED
        ).exists()
    ), running_mailplane.log_tail()
    row = TracemailEntry.objects.get(recipient="client@far.example")
    assert (row.sender_domain_id, row.sender) == (acme.pk, mario)
    assert row.reason.startswith("550 5.7.1 ")
    assert "ceo@bank.example" in row.reason
    assert relay_sink.messages == []


def test_a_vacation_reply_is_charged_to_the_mailbox_and_traced(
    running_mailplane, smtpd, relay_sink, acme, mailbox_factory
):
    mario, mario_pw = mailbox_factory(domain=acme)
    upload_script(running_mailplane, mario, mario_pw, 'require ["vacation"];\nvacation :days 1 "Away";\n')
    mx_send(smtpd, "client@far.example", mario, bait(mario, sender="client@far.example"))
    assert wait_for(lambda: any(m.rcpt_tos == ["client@far.example"] for m in relay_sink.messages))
    [reply] = relay_sink.messages
    assert reply.mail_from == mario
    assert getaddresses(message_from_bytes(reply.content).get_all("From")) == [("", mario)]
    assert sendlimit.used_today(mailbox_id=mailbox_id(mario)) == 1
    row = TracemailEntry.objects.get(recipient="client@far.example")
    assert (row.sender_domain_id, row.status) == (acme.pk, TracemailEntry.Status.DELIVERED)


def test_a_redirect_of_the_mailbox_own_message_keeps_its_from(
    running_mailplane, smtpd, relay_sink, acme, mailbox_factory
):
    mario, mario_pw = mailbox_factory(domain=acme)
    upload_script(running_mailplane, mario, mario_pw, REDIRECT_FROM_HEADER)
    with smtpd.submission(mario, mario_pw) as client:
        client.sendmail(
            mario, [mario], bait(mario, sender=f"Mario <{mario}>", to_header="copy@external.test")
        )
    assert wait_for(lambda: any(m.rcpt_tos == ["copy@external.test"] for m in relay_sink.messages))
    [out] = relay_sink.messages
    headers = message_from_bytes(out.content)
    assert getaddresses(headers.get_all("From")) == [("Mario", mario)]
    assert headers.get_all("Reply-To") is None


def test_the_relay_refuses_mail_it_cannot_attribute_to_a_mailbox(smtpd, relay_sink, acme):
    # A null-sender message that is no Sieve redirect (nothing names its mailbox) is refused.
    with smtplib.SMTP(smtpd.host, smtpd.ports["relay"], timeout=30) as client:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail("", ["someone@far.example"], b"From: x@far.example\r\nSubject: s\r\n\r\nhi\r\n")
    assert refused.value.smtp_code == 550
    assert refused.value.smtp_error.startswith(b"5.7.1 ")
    assert relay_sink.messages == []


def test_sieve_reject_and_notify_are_not_available(running_mailplane, acme, mailbox_factory):
    # They send mail Pigeonhole cannot attribute to the mailbox (null sender, Dovecot's From):
    # the upload says so instead of the relay silently refusing them later.
    mario, mario_pw = mailbox_factory(domain=acme)
    sieve = ManageSieve(running_mailplane.host, running_mailplane.ports["sieve"])
    try:
        assert sieve.authenticate(mario, mario_pw).startswith(b"OK")
        for script in (
            'require ["reject"];\nreject "no";\n',
            'require ["ereject"];\nereject "no";\n',
            'require ["enotify"];\nnotify "mailto:victim@external.test";\n',
        ):
            assert sieve.putscript("bad", script).startswith(b"NO"), script
    finally:
        sieve.close()
