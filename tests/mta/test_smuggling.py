"""No SMTP smuggling on the way out, no control characters in Received: (issue 9, item 8)."""

import smtplib
import socket

import pytest

from mta.models import OutboundMessage
from tests.factories import MAILBOX_PASSWORD

pytestmark = pytest.mark.protocol

SMUGGLED = (
    b"From: mario@acme.test\r\nTo: someone@far.example\r\nSubject: innocent\r\n\r\nHello\r\n"
    b"\r.\r\n"
    b"MAIL FROM:<ceo@acme.test>\r\nRCPT TO:<someone@far.example>\r\nDATA\r\n"
    b"From: ceo@acme.test\r\nSubject: spoofed\r\n\r\nPay the invoice\r\n"
    b"\n.\n"
    b"bare\rCR and bare\nLF\r\n"
)


def raw_session(smtpd, lines: list[bytes]) -> list[bytes]:
    """Speak SMTP over a plain socket (smtplib would fix the line ends itself)."""
    with socket.create_connection((smtpd.host, smtpd.ports["smtps"]), timeout=30) as plain:
        with smtpd.client_context().wrap_socket(plain, server_hostname="localhost") as sock:
            reader = sock.makefile("rb")
            replies = [reader.readline()]
            for line in lines:
                sock.sendall(line)
                reply = reader.readline()
                while reply[3:4] == b"-":
                    reply = reader.readline()
                replies.append(reply)
            return replies


def test_bare_cr_and_lf_are_normalised_before_relaying(smtpd, relay_sink, mario):
    import base64

    auth = base64.b64encode(b"\0mario@acme.test\0" + MAILBOX_PASSWORD.encode())
    replies = raw_session(
        smtpd,
        [
            b"EHLO client.example\r\n",
            b"AUTH PLAIN " + auth + b"\r\n",
            b"MAIL FROM:<mario@acme.test>\r\n",
            b"RCPT TO:<someone@far.example>\r\n",
            b"DATA\r\n",
            SMUGGLED + b".\r\n",
            b"QUIT\r\n",
        ],
    )
    assert replies[-2].startswith(b"250 2.0.0"), replies
    # one message reached the relay, with CRLF line ends only
    [out] = relay_sink.messages
    assert out.rcpt_tos == ["someone@far.example"]
    body = out.content
    assert body.count(b"\r") == body.count(b"\n") == body.count(b"\r\n")
    assert b"\r\n.\r\nMAIL FROM:<ceo@acme.test>" in body  # the would-be terminator, now a line "."
    stored = OutboundMessage.objects.get()
    from pathlib import Path

    spooled = Path(stored.spool_path).read_bytes() if Path(stored.spool_path).exists() else body
    assert spooled.count(b"\r") == spooled.count(b"\n") == spooled.count(b"\r\n")


@pytest.mark.parametrize(
    "name",
    [
        b"evil\x01host",
        b"host\x7fname",
        b"evil.example\tX-Injected:",
        b"a(b)c",
        b"[999.1.1.1]",
        b"[IPv6:zz::1]",
        b"\xc3\xa9vil.example",
    ],
)
@pytest.mark.parametrize("verb", [b"EHLO", b"HELO"])
def test_a_helo_name_that_is_no_host_name_is_refused(smtpd, transactional_db, verb, name):
    with socket.create_connection((smtpd.host, smtpd.ports["smtp_mx"]), timeout=10) as sock:
        reader = sock.makefile("rb")
        reader.readline()
        sock.sendall(verb + b" " + name + b"\r\n")
        reply = reader.readline()
    assert reply.startswith(b"501 5.5.2"), reply


@pytest.mark.parametrize(
    "name", ["mail.example.com", "localhost", "DESKTOP-AB12_3", "[192.0.2.1]", "[IPv6:2001:db8::1]"]
)
def test_host_names_and_address_literals_are_taken(smtpd, transactional_db, name):
    with smtplib.SMTP(smtpd.host, smtpd.ports["smtp_mx"], timeout=10) as client:
        assert client.ehlo(name)[0] == 250
        assert client.helo(name)[0] == 250
