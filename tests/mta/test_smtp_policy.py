"""The SMTP server's policy with real smtplib clients: TLS and AUTH rules, sender ownership, relay,
recipient checks, send limits, sizes. Remote copies go to the sink relay; no local delivery here
(the Dovecot cases are in tests/protocol/test_smtp.py)."""

import email
import smtplib

import pytest

from accounts.services import app_password_create, app_password_revoke
from domains.services import mailbox_update
from mta import sendlimit
from mta.models import TracemailEntry
from tests.factories import MAILBOX_PASSWORD

pytestmark = pytest.mark.protocol

EXTERNAL = b"From: mario@acme.test\r\nTo: someone@far.example\r\nSubject: Ciao\r\n\r\nHello there\r\n"


def _message(to: str = "someone@far.example", subject: str = "Ciao") -> bytes:
    return f"From: mario@acme.test\r\nTo: {to}\r\nSubject: {subject}\r\n\r\nHello there\r\n".encode()


# TLS and AUTH -----------------------------------------------------------------------------------


def test_587_offers_auth_only_after_starttls_and_refuses_mail_before(smtpd, transactional_db):
    with smtplib.SMTP(smtpd.host, smtpd.ports["submission"], timeout=10) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        assert not client.has_extn("auth")
        assert client.mail("mario@acme.test") == (530, b"Must issue a STARTTLS command first")
        client.starttls(context=smtpd.client_context())
        client.ehlo()
        assert client.esmtp_features["auth"].split() == ["LOGIN", "PLAIN"]


def test_mx_offers_no_auth(smtpd, transactional_db):
    with smtpd.mx() as client:
        client.ehlo()
        client.starttls(context=smtpd.client_context())
        client.ehlo()
        assert not client.has_extn("auth")
        assert client.docmd("AUTH", "PLAIN AGZvbwBiYXI=") == (504, b"5.5.4 Unrecognized authentication type")


def test_submission_requires_auth(smtpd, mario):
    with smtpd.smtps() as client:
        client.ehlo()
        assert client.mail("mario@acme.test") == (530, b"5.7.0 Authentication required")


def test_auth_with_the_main_password_on_465_and_587(smtpd, mario):
    for connect in (smtpd.smtps, smtpd.submission):
        with connect() as client:
            assert client.login("mario@acme.test", MAILBOX_PASSWORD) == (
                235,
                b"2.7.0 Authentication successful",
            )


def test_auth_with_a_wrong_password_is_refused(smtpd, mario):
    with smtpd.smtps() as client, pytest.raises(smtplib.SMTPAuthenticationError) as exc:
        client.login("mario@acme.test", "wrong-password-123")
    assert (exc.value.smtp_code, exc.value.smtp_error) == (535, b"5.7.8 Authentication credentials invalid")


def test_2fa_user_needs_an_app_password_and_a_revoked_one_stops_working(smtpd, mario):
    # given a mailbox with 2FA required and one app password
    mailbox_update(mailbox=mario, require_2fa=True)
    app_password, token = app_password_create(user=mario.user, name="Thunderbird")
    # then the main password is refused on SMTP AUTH
    with smtpd.smtps() as client, pytest.raises(smtplib.SMTPAuthenticationError) as exc:
        client.login("mario@acme.test", MAILBOX_PASSWORD)
    assert exc.value.smtp_code == 535
    # and the app password is accepted (LOGIN and PLAIN)
    for mechanism in ("login", "plain"):
        with smtpd.submission() as client:
            client.ehlo()
            client.user, client.password = "mario@acme.test", token
            assert client.auth(mechanism.upper(), getattr(client, f"auth_{mechanism}")) == (
                235,
                b"2.7.0 Authentication successful",
            )
    # when the app password is revoked, it stops working
    app_password_revoke(app_password=app_password, actor=mario.user)
    with smtpd.smtps() as client, pytest.raises(smtplib.SMTPAuthenticationError) as exc:
        client.login("mario@acme.test", token)
    assert exc.value.smtp_code == 535


def test_auth_backend_down_answers_454(smtpd, mario, settings):
    # given the brute-force counters' Redis is unreachable
    settings.BRUTEFORCE_REDIS_URL = "redis://127.0.0.1:1/0"
    with smtpd.smtps() as client, pytest.raises(smtplib.SMTPAuthenticationError) as exc:
        client.login("mario@acme.test", MAILBOX_PASSWORD)
    assert (exc.value.smtp_code, exc.value.smtp_error) == (
        454,
        b"4.7.0 Temporary authentication failure, please try again later",
    )


# Sender and recipients --------------------------------------------------------------------------


def test_forged_mail_from_is_refused_and_traced(smtpd, mario, luigi):
    with smtpd.smtps("mario@acme.test", MAILBOX_PASSWORD) as client:
        code, text = client.mail("luigi@acme.test")
    assert (code, text) == (553, b"5.7.1 Sender address <luigi@acme.test> not owned by user mario@acme.test")
    entry = TracemailEntry.objects.get()
    assert (entry.status, entry.sender, entry.sender_domain_id) == (
        "rejected",
        "luigi@acme.test",
        mario.domain_id,
    )


def test_submission_to_an_external_address_reaches_the_relay(smtpd, mario, relay_sink):
    # when mario sends to an external address over 465
    with smtpd.smtps("mario@acme.test", MAILBOX_PASSWORD) as client:
        refused = client.sendmail("mario@acme.test", ["someone@far.example"], _message())
    # then the relay got one copy with our Received header and a Message-ID added
    assert refused == {}
    assert len(relay_sink.messages) == 1
    sent = relay_sink.messages[0]
    assert (sent.mail_from, sent.rcpt_tos) == ("mario@acme.test", ["someone@far.example"])
    parsed = email.message_from_bytes(sent.content)
    assert parsed["Received"].startswith("from ")
    assert "by mx.test.localhost (mailsuite) with ESMTPSA id " in " ".join(parsed["Received"].split())
    assert parsed["Message-ID"].endswith("@mx.test.localhost>")
    assert parsed["Subject"] == "Ciao"
    # and Tracemail has one outgoing row, delivered, with its history
    entry = TracemailEntry.objects.get()
    assert (entry.direction, entry.status, entry.sender, entry.recipient, entry.subject) == (
        "out",
        "delivered",
        "mario@acme.test",
        "someone@far.example",
        "Ciao",
    )
    assert entry.message_id == parsed["Message-ID"]
    assert entry.client_ip == "127.0.0.1"
    assert [e.status for e in entry.events.all()] == ["accepted", "delivered"]
    # and one unit of the daily limit was used
    assert sendlimit.used_today(mailbox_id=mario.pk) == 1


def test_unknown_recipient_of_a_hosted_domain_is_refused_on_submission(smtpd, mario):
    with smtpd.smtps("mario@acme.test", MAILBOX_PASSWORD) as client:
        client.mail("mario@acme.test")
        assert client.rcpt("nobody@acme.test") == (
            550,
            b"5.1.1 <nobody@acme.test>: Recipient address rejected: User unknown",
        )


def test_mx_refuses_relay_and_unknown_users_and_traces_them(smtpd, domain):
    with smtpd.mx() as client:
        client.ehlo("sender.example")
        client.mail("someone@far.example")
        assert client.rcpt("victim@elsewhere.example") == (
            554,
            b"5.7.1 <victim@elsewhere.example>: Relay access denied",
        )
        assert client.rcpt("nobody@acme.test") == (
            550,
            b"5.1.1 <nobody@acme.test>: Recipient address rejected: User unknown",
        )
    rows = list(
        TracemailEntry.objects.order_by("id").values_list(
            "direction", "status", "recipient", "recipient_domain_id"
        )
    )
    assert set(TracemailEntry.objects.values_list("sender", "client_ip")) == {
        ("someone@far.example", "127.0.0.1")
    }
    assert rows == [
        ("in", "rejected", "victim@elsewhere.example", None),
        ("in", "rejected", "nobody@acme.test", domain.pk),
    ]


def test_too_many_recipients_answers_452(smtpd, mario, settings, relay_sink):
    settings.SMTP_MAX_RECIPIENTS = 2
    with smtpd.smtps("mario@acme.test", MAILBOX_PASSWORD) as client:
        client.mail("mario@acme.test")
        assert client.rcpt("a@far.example")[0] == 250
        assert client.rcpt("b@far.example")[0] == 250
        assert client.rcpt("c@far.example") == (452, b"4.5.3 Too many recipients (at most 2 per message)")


def test_message_over_the_size_limit_answers_552(smtpd, mario, relay_sink):
    big = _message() + (b"x" * 998 + b"\r\n") * 250
    with smtpd.smtps("mario@acme.test", MAILBOX_PASSWORD) as client:
        client.mail("mario@acme.test")
        client.rcpt("someone@far.example")
        assert client.data(big) == (552, b"5.3.4 Message size exceeds fixed maximum message size")
    assert relay_sink.messages == []
    # and the reserved unit was given back
    assert sendlimit.used_today(mailbox_id=mario.pk) == 0


# Daily send limit -------------------------------------------------------------------------------


def test_the_251st_external_recipient_is_refused_while_own_domain_passes(smtpd, mario, luigi, relay_sink):
    # given mario already sent to 250 external recipients today
    sendlimit.reserve(mailbox_id=mario.pk, limit=250, units=250)
    with smtpd.smtps("mario@acme.test", MAILBOX_PASSWORD) as client:
        client.mail("mario@acme.test")
        # then the next external recipient is refused with a 5.7.1 that names the limit and the reset
        assert client.rcpt("one-more@far.example") == (
            550,
            b"5.7.1 Daily limit of 250 external recipients reached; resets at 00:00 (Europe/Rome)",
        )
        # while a recipient of his own domain still passes
        assert client.rcpt("luigi@acme.test") == (250, b"2.1.5 OK")
    entry = TracemailEntry.objects.get(recipient="one-more@far.example")
    assert (entry.direction, entry.status) == ("out", "rejected")
    assert entry.reason.startswith("550 5.7.1 Daily limit of 250")
    assert sendlimit.used_today(mailbox_id=mario.pk) == 250


def test_raising_the_tier_to_1000_takes_effect_at_once(smtpd, mario, relay_sink):
    sendlimit.reserve(mailbox_id=mario.pk, limit=250, units=250)
    with smtpd.smtps("mario@acme.test", MAILBOX_PASSWORD) as client:
        client.mail("mario@acme.test")
        assert client.rcpt("one-more@far.example")[0] == 550
        # when the tier is raised during the same session
        mailbox_update(mailbox=mario, send_limit=1000)
        # then the very next recipient passes and the message goes out
        assert client.rcpt("one-more@far.example") == (250, b"2.1.5 OK")
        assert client.data(_message(to="one-more@far.example"))[0] == 250
    assert [m.rcpt_tos for m in relay_sink.messages] == [["one-more@far.example"]]
    assert sendlimit.used_today(mailbox_id=mario.pk) == 251


def test_recipients_of_an_abandoned_transaction_are_refunded(smtpd, mario):
    with smtpd.smtps("mario@acme.test", MAILBOX_PASSWORD) as client:
        client.mail("mario@acme.test")
        client.rcpt("a@far.example")
        client.rcpt("b@far.example")
        assert sendlimit.used_today(mailbox_id=mario.pk) == 2
        client.rset()
        client.noop()  # the refund runs on the server's loop; one round trip later it is done
    assert sendlimit.used_today(mailbox_id=mario.pk) == 0


def test_redis_down_answers_451_at_rcpt(smtpd, mario, redis_down):
    with smtpd.smtps("mario@acme.test", MAILBOX_PASSWORD) as client:
        client.mail("mario@acme.test")
        assert client.rcpt("someone@far.example") == (
            451,
            b"4.3.0 Temporary server error, please try again later",
        )
