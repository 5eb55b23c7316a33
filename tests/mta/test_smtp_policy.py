"""The SMTP server's policy with real smtplib clients: TLS and AUTH rules, sender ownership, relay,
recipient checks, send limits, sizes. Remote copies go to the sink relay; no local delivery here
(the Dovecot cases are in tests/protocol/test_smtp.py)."""

import contextlib
import email
import smtplib
import socket
import time

import pytest
from aiosmtpd.controller import Controller

from accounts import bruteforce
from accounts.models import AccessLogEntry
from accounts.services import app_password_create, app_password_revoke
from domains.services import mailbox_delete, mailbox_update
from mta import sendlimit
from mta.models import OutboundMessage, OutboundRecipient, TracemailEntry
from tests.factories import MAILBOX_PASSWORD
from tests.mta.smtpd_plugin import SinkHandler

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


# Hostile clients ---------------------------------------------------------------------------------


def test_auth_on_the_mx_without_tls_is_refused_as_unknown_mechanism(smtpd, mario):
    # the MX has no AUTH at all: "538 encryption required" sent clients through STARTTLS for nothing
    with smtpd.mx() as client:
        client.ehlo("far.example")
        assert client.docmd("AUTH", "PLAIN AG1hcmlvQGFjbWUudGVzdAB4") == (
            504,
            b"5.5.4 Unrecognized authentication type",
        )
        assert client.docmd("AUTH", "LOGIN") == (504, b"5.5.4 Unrecognized authentication type")
    assert AccessLogEntry.objects.count() == 0


def test_auth_with_the_login_in_uppercase_is_the_same_mailbox(smtpd, mario):
    with smtpd.smtps() as client:
        assert client.login("MARIO@ACME.TEST", MAILBOX_PASSWORD)[0] == 235
        assert client.mail("mario@acme.test") == (250, b"2.1.0 OK")


def _try_login(smtpd, login: str, password: str) -> tuple[int, bytes]:
    """One AUTH PLAIN (smtplib's login() would try a second mechanism after a failure)."""
    with smtpd.smtps() as client:
        client.ehlo()
        client.user, client.password = login, password
        try:
            return client.auth("PLAIN", client.auth_plain)
        except smtplib.SMTPAuthenticationError as exc:
            return exc.smtp_code, exc.smtp_error


def test_a_login_blocked_after_failures_hears_454_even_with_the_right_password(smtpd, mario, settings):
    # given 3 failures allowed per login
    settings.BRUTEFORCE_LOGIN_FAILURES = 3
    # when three wrong passwords are tried
    replies = [_try_login(smtpd, "mario@acme.test", f"wrong-{i}") for i in range(3)]
    # then each is refused as invalid, and from then on even the right password hears a
    # temporary 454 (the block lifts by itself), not "credentials invalid"
    assert replies == [(535, b"5.7.8 Authentication credentials invalid")] * 3
    blocked = (454, b"4.7.0 Too many failed logins, please try again later")
    assert _try_login(smtpd, "mario@acme.test", MAILBOX_PASSWORD) == blocked
    assert _try_login(smtpd, "MARIO@acme.test", MAILBOX_PASSWORD) == blocked
    # and the access log has every attempt, with the client address
    rows = list(
        AccessLogEntry.objects.order_by("id").values_list(
            "login", "protocol", "result", "reason", "remote_ip"
        )
    )
    failure = ("mario@acme.test", "submission", "failure", "bad_password", "127.0.0.1")
    blocked_row = ("mario@acme.test", "submission", "blocked", "blocked", "127.0.0.1")
    assert rows == [failure] * 3 + [blocked_row] * 2


def test_an_address_blocked_after_failures_on_many_logins_hears_454(smtpd, mario, settings):
    # given 3 failures allowed per client address
    settings.BRUTEFORCE_IP_FAILURES = 3
    # when one address tries three different unknown logins
    replies = [_try_login(smtpd, f"guess{i}@acme.test", "123456") for i in range(3)]
    assert replies == [(535, b"5.7.8 Authentication credentials invalid")] * 3
    # then the address is blocked for every login, mario's right password included
    assert _try_login(smtpd, "mario@acme.test", MAILBOX_PASSWORD) == (
        454,
        b"4.7.0 Too many failed logins, please try again later",
    )
    # and mario can still log in (from another address) later: his own counter is untouched
    assert bruteforce.check(login="mario@acme.test", remote_ip="192.0.2.1").blocked is False


def test_app_passwords_of_a_deactivated_or_deleted_mailbox_are_refused(smtpd, mario, luigi):
    _, token = app_password_create(user=mario.user, name="Phone")
    _, luigi_token = app_password_create(user=luigi.user, name="Phone")
    assert _try_login(smtpd, "mario@acme.test", token)[0] == 235
    mailbox_update(mailbox=mario, is_active=False)
    mailbox_delete(mailbox=luigi)
    invalid = (535, b"5.7.8 Authentication credentials invalid")
    assert _try_login(smtpd, "mario@acme.test", token) == invalid
    assert _try_login(smtpd, "luigi@acme.test", luigi_token) == invalid


def test_a_client_vanishing_in_the_middle_of_data_delivers_nothing_and_is_refunded(smtpd, mario, relay_sink):
    client = smtpd.smtps("mario@acme.test", MAILBOX_PASSWORD)
    client.mail("mario@acme.test")
    client.rcpt("a@far.example")
    client.rcpt("b@far.example")
    assert sendlimit.used_today(mailbox_id=mario.pk) == 2
    client.putcmd("data")
    assert client.getreply() == (354, b"End data with <CR><LF>.<CR><LF>")
    client.send(b"Subject: half a message\r\n\r\nthe first half\r\n")
    # when the connection drops before the final dot
    client.close()
    # then the reservations come back (on the server's loop: wait for it, bounded)
    deadline = time.monotonic() + 5
    while sendlimit.used_today(mailbox_id=mario.pk) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sendlimit.used_today(mailbox_id=mario.pk) == 0
    # and nothing was queued, sent or traced
    assert relay_sink.messages == []
    assert TracemailEntry.objects.count() == 0
    assert OutboundMessage.objects.count() == 0


def test_151_recipients_the_last_one_is_deferred_and_150_are_charged(smtpd, mario, relay_sink):
    with smtpd.smtps("mario@acme.test", MAILBOX_PASSWORD) as client:
        client.mail("mario@acme.test")
        codes = [client.rcpt(f"r{i}@far.example")[0] for i in range(150)]
        assert codes == [250] * 150
        assert client.rcpt("r150@far.example") == (
            452,
            b"4.5.3 Too many recipients (at most 150 per message)",
        )
        assert client.data(EXTERNAL)[0] == 250
    assert sendlimit.used_today(mailbox_id=mario.pk) == 150
    assert len(relay_sink.messages) == 150
    assert TracemailEntry.objects.filter(direction="out", status="delivered").count() == 150


@contextlib.contextmanager
def _own_relay(settings, *, smtputf8: bool):
    """A relay of this test, with or without SMTPUTF8 (aiosmtpd's Controller offers it by default)."""
    handler = SinkHandler()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port, enable_SMTPUTF8=smtputf8)
    controller.start()
    settings.OUTBOUND_RELAY = f"127.0.0.1:{port}"
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def utf8_relay(settings):
    with _own_relay(settings, smtputf8=True) as handler:
        yield handler


@pytest.fixture
def ascii_relay(settings):
    with _own_relay(settings, smtputf8=False) as handler:
        yield handler


def test_utf8_recipient_goes_out_through_a_relay_with_smtputf8(smtpd, mario, utf8_relay):
    with smtpd.smtps("mario@acme.test", MAILBOX_PASSWORD) as client:
        client.mail("mario@acme.test", ["SMTPUTF8"])
        assert client.rcpt("jörg@exämple.de") == (250, b"2.1.5 OK")
        assert client.data(_message(to="=?utf-8?q?J=C3=B6rg?= <xn--jrg-sna@example.de>"))[0] == 250
    assert [(m.mail_from, m.rcpt_tos) for m in utf8_relay.messages] == [
        ("mario@acme.test", ["jörg@exämple.de"])
    ]
    assert OutboundRecipient.objects.get().status == "delivered"


def test_utf8_recipient_behind_a_relay_without_smtputf8_bounces_at_once(smtpd, mario, ascii_relay):
    # given the relay does not offer SMTPUTF8 (the copy used to crash the delivery task and stay
    # queued for ever)
    with smtpd.smtps("mario@acme.test", MAILBOX_PASSWORD) as client:
        client.mail("mario@acme.test", ["SMTPUTF8"])
        client.rcpt("jörg@exämple.de")
        assert client.data(_message())[0] == 250
    # then the copy is bounced at the first attempt with 5.6.7 (the DSN to mario goes over LMTP)
    rcpt = OutboundRecipient.objects.get(address="jörg@exämple.de")
    assert (rcpt.status, rcpt.attempts) == ("bounced", 1)
    assert rcpt.last_error == "550 5.6.7 Non-ASCII address and the remote server lacks SMTPUTF8"
    entry = TracemailEntry.objects.get(recipient="jörg@exämple.de")
    assert (entry.direction, entry.status) == ("out", "bounced")
    assert ascii_relay.messages == []
