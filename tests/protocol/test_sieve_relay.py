"""Sieve's outgoing mail (vacation replies, redirects) reaches the project's SMTP server through
its relay listener: trusted peers only, a hosted mailbox or the null sender as envelope sender."""

import smtplib
import time

import pytest

from mta import sendlimit
from tests.factories import DomainFactory
from tests.protocol.test_managesieve import ManageSieve
from tests.protocol.test_smtp import message

pytestmark = [pytest.mark.protocol, pytest.mark.usefixtures("smtp_isolation")]


@pytest.fixture
def acme(running_mailplane, transactional_db):
    return DomainFactory()


def relay_client(smtpd) -> smtplib.SMTP:
    return smtplib.SMTP(smtpd.host, smtpd.ports["relay"], timeout=30)


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_relay_sends_a_hosted_mailbox_mail_outside_and_charges_its_send_limit(
    smtpd, relay_sink, acme, mailbox_factory
):
    mario, _ = mailbox_factory(domain=acme)
    with relay_client(smtpd) as client:
        refused = client.sendmail(mario, ["friend@far.example"], message(mario, "friend@far.example"))
    assert refused == {}
    assert [(m.mail_from, m.rcpt_tos) for m in relay_sink.messages] == [(mario, ["friend@far.example"])]
    from domains.models import Mailbox

    mailbox_id = Mailbox.objects.get(user__username=mario).pk
    assert sendlimit.used_today(mailbox_id=mailbox_id) == 1


def test_relay_charges_a_null_sender_redirect_to_the_mailbox_pigeonhole_names(
    smtpd, relay_sink, acme, mailbox_factory
):
    # Was: "the relay accepts the null sender for auto-replies", uncounted and untraced: the
    # open relay of issue 9. A null-sender message now needs Pigeonhole's X-Sieve-Redirected-From
    # (tests/protocol/test_sieve_relay_attribution.py has the whole attack and the refusals).
    mario, _ = mailbox_factory(domain=acme)
    with relay_client(smtpd) as client:
        data = f"X-Sieve-Redirected-From: {mario}\r\n".encode() + message(mario, "someone@far.example")
        refused = client.sendmail("", ["someone@far.example"], data)
    assert refused == {}
    assert [(m.mail_from, m.rcpt_tos) for m in relay_sink.messages] == [("<>", ["someone@far.example"])]
    from domains.models import Mailbox

    assert sendlimit.used_today(mailbox_id=Mailbox.objects.get(user__username=mario).pk) == 1


def test_relay_refuses_a_sender_that_is_not_a_hosted_mailbox(smtpd, relay_sink, acme):
    with relay_client(smtpd) as client:
        client.ehlo()
        code, reply = client.mail("spoofer@far.example")
    assert code == 550
    assert b"5.7.1" in reply
    assert relay_sink.messages == []


def test_relay_refuses_an_untrusted_peer(smtpd, relay_sink, acme, mailbox_factory, settings):
    mario, _ = mailbox_factory(domain=acme)
    settings.SMTP_RELAY_TRUSTED_NETWORKS = ["192.0.2.0/24"]
    with relay_client(smtpd) as client:
        client.ehlo()
        code, reply = client.mail(mario)
    assert (code, b"5.7.1" in reply) == (554, True)


def test_a_vacation_reply_reaches_an_external_sender(
    running_mailplane, smtpd, relay_sink, acme, mailbox_factory
):
    # given a mailbox with a vacation script uploaded over ManageSieve
    mario, mario_pw = mailbox_factory(domain=acme)
    sieve = ManageSieve(running_mailplane.host, running_mailplane.ports["sieve"])
    try:
        assert sieve.authenticate(mario, mario_pw).startswith(b"OK")
        script = (
            'require ["vacation"];\n'
            'vacation :days 1 :subject "Fuori ufficio" "Sono in ferie fino a lunedi.";\n'
        )
        assert sieve.putscript("vacation", script).startswith(b"OK")
        assert sieve.command(b'SETACTIVE "vacation"')[-1].startswith(b"OK")
    finally:
        sieve.close()
    # when an external correspondent writes to the mailbox through the MX
    with smtplib.SMTP(smtpd.host, smtpd.ports["smtp_mx"], timeout=30) as client:
        client.sendmail("client@far.example", [mario], message("client@far.example", mario, subject="Ordine"))
    # then the vacation reply leaves through the relay listener to the correspondent
    assert wait_for(lambda: any(m.rcpt_tos == ["client@far.example"] for m in relay_sink.messages)), (
        running_mailplane.log_tail()
    )
    [reply] = [m for m in relay_sink.messages if m.rcpt_tos == ["client@far.example"]]
    # the mailbox as envelope sender (sieve_vacation_send_from_recipient): the relay charges it
    assert reply.mail_from == mario
    assert b"Fuori ufficio" in reply.content
