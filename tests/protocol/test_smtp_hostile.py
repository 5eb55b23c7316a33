"""Hostile and unusual mail through the real SMTP server into the real Dovecot: each message is
accepted and stored byte-exact (checked over IMAP), or refused with the right code; and the
Dovecot side of the same mailbox (uppercase login, POP3 RETR of a large message, APPEND over
quota)."""

import imaplib
import poplib

import pytest

from domains.models import Mailbox
from mailstore.services import quota_override_set
from mta.models import TracemailEntry
from tests.factories import DomainFactory

pytestmark = pytest.mark.usefixtures("smtp_isolation")

SENDER = "friend@far.example"


@pytest.fixture
def acme(running_mailplane, transactional_db):
    # Unique names: Dovecot's mail directory outlives each test's database rows.
    return DomainFactory()


def imap_session(plane, login: str, password: str) -> imaplib.IMAP4_SSL:
    imap = imaplib.IMAP4_SSL(plane.host, plane.ports["imaps"], ssl_context=plane.ssl_context(), timeout=15)
    imap.login(login, password)
    return imap


def inbox(plane, address: str, password: str) -> list[bytes]:
    """The raw messages in INBOX as IMAP serves them, oldest first."""
    imap = imap_session(plane, address, password)
    try:
        imap.select("INBOX", readonly=True)
        _, data = imap.search(None, "ALL")
        out = []
        for num in data[0].split():
            _, parts = imap.fetch(num, "(BODY.PEEK[])")
            out.append(parts[0][1])
        return out
    finally:
        imap.logout()


def mx_send(smtpd, sender: str, recipients: list[str], data: bytes, *, options=()) -> tuple[int, bytes]:
    """One MX transaction with raw DATA bytes (smtplib only stuffs dots and ends the last line)."""
    with smtpd.mx() as client:
        client.ehlo("far.example")
        code, text = client.mail(sender, list(options))
        assert code == 250, text
        for recipient in recipients:
            assert client.rcpt(recipient)[0] == 250
        return client.data(data)


def served(sent: bytes) -> bytes:
    """What IMAP serves for the bytes a client sent: the same bytes with CRLF line ends."""
    return sent.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


CASES = {
    "bare_lf": b"From: a@far.example\nSubject: bare lf\n\nline one\nline two\r\n",
    "header_only": b"From: a@far.example\r\nSubject: only headers\r\n",
    "no_headers": b"just a body line\r\nand another\r\n",
    "broken_mime_and_charset": (
        b"From: a@far.example\r\nSubject: broken\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="XYZ"\r\n\r\n--XYZ\r\n'
        b"Content-Type: text/plain; charset=klingon\r\n\r\n"
        b"\xe8\xe9 caf\xc3\xa9 \xff\xfe\r\n--ABC\r\nnever terminated\r\n"
    ),
    "8bit_latin1_no_mime": b"From: a@far.example\r\nSubject: \xe8 latin1\r\n\r\ncaff\xe8\r\n",
    # A line over RFC 5321's 1,000 octets (HTML without line breaks): aiosmtpd's default
    # refused it for good with "500 Line too long" after DATA.
    "line_of_5000_chars": b"From: a@far.example\r\nSubject: long\r\n\r\n<p>" + b"y" * 5000 + b"</p>\r\n",
}


@pytest.mark.parametrize("case", list(CASES))
def test_unusual_message_is_delivered_byte_exact(case, running_mailplane, smtpd, acme, mailbox_factory):
    # given a hosted mailbox
    mario, password = mailbox_factory(domain=acme)
    data = CASES[case]
    # when the message arrives on the MX
    code, text = mx_send(smtpd, SENDER, [mario], data, options=["BODY=8BITMIME"])
    # then it is accepted, and IMAP serves exactly its bytes under the added trace headers
    assert code == 250, text
    assert text.startswith(b"2.0.0 OK queued as ")
    [raw] = inbox(running_mailplane, mario, password)
    head, body = raw[: -len(served(data))], raw[-len(served(data)) :]
    assert body == served(data)
    assert head.startswith(b"Return-Path: <friend@far.example>\r\n")
    assert b"by mx.test.localhost (mailsuite) with ESMTP id " in head
    assert head.endswith(b" +0000\r\n")  # our Received header's date ends the added lines
    entry = TracemailEntry.objects.get()
    assert (entry.direction, entry.status, entry.sender, entry.recipient) == (
        "in",
        "delivered",
        SENDER,
        mario,
    )


def test_smtputf8_sender_and_utf8_headers_are_delivered(running_mailplane, smtpd, acme, mailbox_factory):
    # given a hosted mailbox and a sender with a UTF-8 address (RFC 6531)
    mario, password = mailbox_factory(domain=acme)
    sender = "jörg@exämple.de"
    data = "From: Jörg <jörg@exämple.de>\r\nSubject: Grüße ☃\r\n\r\nciao è\r\n".encode()
    # when it arrives on the MX with SMTPUTF8 (it was a 451 for ever: the LMTP hand-off encoded
    # the envelope sender as ASCII)
    code, text = mx_send(smtpd, sender, [mario], data, options=["SMTPUTF8", "BODY=8BITMIME"])
    # then it is delivered byte-exact (Dovecot 2.3's LMTP takes the UTF-8 path but records
    # Return-Path: <>; it has no SMTPUTF8)
    assert (code, text[:19]) == (250, b"2.0.0 OK queued as "), text
    [raw] = inbox(running_mailplane, mario, password)
    assert raw.endswith(b" +0000\r\n" + data)
    entry = TracemailEntry.objects.get()
    assert (entry.direction, entry.status, entry.sender, entry.subject) == (
        "in",
        "delivered",
        sender,
        "Grüße ☃",
    )


def test_size_limit_exactly_passes_and_one_byte_more_is_refused(
    running_mailplane, smtpd, acme, mailbox_factory
):
    # given a message of exactly the server's size limit (200,000 bytes in the test server)
    mario, password = mailbox_factory(domain=acme)
    limit = smtpd.service.max_message_size
    data = b"Subject: size\r\n\r\n" + (b"a" * 998 + b"\r\n") * 199
    data += b"b" * (limit - len(data) - 2) + b"\r\n"
    assert len(data) == limit
    # when it is sent, and then the same with one byte more
    exact = mx_send(smtpd, SENDER, [mario], data)
    over = mx_send(smtpd, SENDER, [mario], data[:-2] + b"c\r\n")
    # then the first is delivered whole and the second refused with 552 5.3.4
    assert exact[0] == 250
    assert over == (552, b"5.3.4 Message size exceeds fixed maximum message size")
    [raw] = inbox(running_mailplane, mario, password)
    assert raw.endswith(b"\r\n" + data)


def test_same_recipient_in_another_case_gets_one_copy(running_mailplane, smtpd, acme, mailbox_factory):
    mario, password = mailbox_factory(domain=acme)
    local, domain = mario.split("@")
    with smtpd.mx() as client:
        client.ehlo("far.example")
        client.mail(SENDER)
        assert client.rcpt(mario) == (250, b"2.1.5 OK")
        assert client.rcpt(f"{local.upper()}@{domain.upper()}") == (250, b"2.1.5 OK")
        # a trailing dot is not a valid domain in a path (RFC 5321 §4.1.2)
        assert client.rcpt(f"{mario}.") == (553, b"5.1.3 Error: malformed address")
        assert client.data(b"Subject: twice\r\n\r\nx\r\n")[0] == 250
    assert len(inbox(running_mailplane, mario, password)) == 1
    assert list(TracemailEntry.objects.values_list("recipient", "status")) == [(mario, "delivered")]


def test_null_sender_bounce_from_the_mx_is_delivered_and_never_answered(
    running_mailplane, smtpd, relay_sink, acme, mailbox_factory
):
    # given a hosted mailbox that is full, and another that is not
    mario, mario_pw = mailbox_factory(domain=acme)
    full, _ = mailbox_factory(domain=acme)
    quota_override_set(mailbox=Mailbox.objects.get(user__username=full), quota_bytes=1024)
    bounce = b"From: MAILER-DAEMON@far.example\r\nSubject: Undelivered\r\n\r\n" + (b"r" * 70 + b"\r\n") * 60
    # when a bounce (null sender) arrives for both
    code, _ = mx_send(smtpd, "", [mario, full], bounce)
    # then mario gets it, and the full mailbox's failure produces no DSN at all (no bounce to <>)
    assert code == 250
    [raw] = inbox(running_mailplane, mario, mario_pw)
    assert raw.startswith(b"Return-Path: <>\r\n")
    assert relay_sink.messages == []
    rows = sorted(TracemailEntry.objects.values_list("sender", "recipient", "direction", "status"))
    assert rows == sorted([("", mario, "in", "delivered"), ("", full, "in", "bounced")])


# The Dovecot side ---------------------------------------------------------------------------------


def test_imap_login_in_uppercase_opens_the_same_mailbox(running_mailplane, smtpd, acme, mailbox_factory):
    mario, password = mailbox_factory(domain=acme)
    assert mx_send(smtpd, SENDER, [mario], b"Subject: hi\r\n\r\nx\r\n")[0] == 250
    imap = imap_session(running_mailplane, mario.upper(), password)
    try:
        assert imap.select("INBOX", readonly=True) == ("OK", [b"1"])
    finally:
        imap.logout()


def test_pop3_over_tls_retrieves_a_large_message_whole(running_mailplane, smtpd, acme, mailbox_factory):
    mario, password = mailbox_factory(domain=acme)
    big = b"Subject: big\r\n\r\n" + (b"q" * 998 + b"\r\n") * 190 + b".leading dot\r\n"
    assert mx_send(smtpd, SENDER, [mario], big)[0] == 250
    pop = poplib.POP3_SSL(
        running_mailplane.host,
        running_mailplane.ports["pop3s"],
        context=running_mailplane.ssl_context(),
        timeout=15,
    )
    try:
        pop.user(mario)
        pop.pass_(password)
        _, lines, octets = pop.retr(1)
    finally:
        pop.quit()
    retrieved = b"\r\n".join(lines) + b"\r\n"
    assert retrieved.endswith(b"\r\n" + big)
    assert octets == len(retrieved)


def test_imap_append_over_quota_is_refused_with_overquota(running_mailplane, acme, mailbox_factory):
    mario, password = mailbox_factory(domain=acme)
    quota_override_set(mailbox=Mailbox.objects.get(user__username=mario), quota_bytes=4096)
    imap = imap_session(running_mailplane, mario, password)
    try:
        typ, data = imap.append("INBOX", None, None, b"Subject: big\r\n\r\n" + b"z" * 10_000 + b"\r\n")
        assert typ == "NO"
        assert data[0].startswith(b"[OVERQUOTA] Quota exceeded")
        assert imap.select("INBOX", readonly=True) == ("OK", [b"0"])
    finally:
        imap.logout()


def test_smtp_smuggling_with_bare_lf_dot_stays_one_message(running_mailplane, smtpd, acme, mailbox_factory):
    # given a client that hides a second transaction behind "<LF>.<CR><LF>" (SMTP smuggling)
    mario, password = mailbox_factory(domain=acme)
    smuggled = (
        b"Subject: first\r\n\r\nbody\n.\r\n"
        b"MAIL FROM:<boss@" + acme.name.encode() + b">\r\nRCPT TO:<" + mario.encode() + b">\r\n"
        b"DATA\r\nSubject: smuggled\r\n\r\nevil\r\n"
    )
    with smtpd.mx() as client:
        client.ehlo("far.example")
        client.mail(SENDER)
        client.rcpt(mario)
        client.putcmd("data")
        assert client.getreply()[0] == 354
        client.send(smuggled + b".\r\n")
        # then only the real end of data ends the message: one reply, one message
        assert client.getreply()[0] == 250
        assert client.noop() == (250, b"OK")
    [raw] = inbox(running_mailplane, mario, password)
    assert b"Subject: first\r\n" in raw
    assert raw.endswith(b"DATA\r\nSubject: smuggled\r\n\r\nevil\r\n")
    assert TracemailEntry.objects.count() == 1


@pytest.mark.parametrize(
    "subject",
    [b"Alarm\x00 zone 3", b"=?utf-8?q?Alarm=00_zone_3?="],
    ids=["raw-nul", "encoded-nul"],
)
def test_a_nul_in_the_subject_is_delivered_not_retried_for_ever(
    running_mailplane, smtpd, acme, mailbox_factory, subject
):
    # given a message whose Subject carries a NUL (PostgreSQL refuses NUL in text columns: the
    # Tracemail row failed and the MX answered 451 to every retry)
    mario, password = mailbox_factory(domain=acme)
    data = b"From: alarm@far.example\r\nSubject: " + subject + b"\r\n\r\nzone 3 open\r\n"
    # when it arrives on the MX
    code, text = mx_send(smtpd, SENDER, [mario], data)
    # then it is delivered (Dovecot stores a raw NUL as 0x80, its documented behaviour), and
    # traced with the NUL as a space
    assert code == 250, text
    [raw] = inbox(running_mailplane, mario, password)
    assert raw.endswith(data.replace(b"\x00", b"\x80"))
    entry = TracemailEntry.objects.get()
    assert (entry.status, entry.subject) == ("delivered", "Alarm  zone 3")


def test_a_mailbox_deleted_while_its_rcpt_answer_is_cached_is_still_refused(
    running_mailplane, smtpd, acme, mailbox_factory
):
    from domains.models import Mailbox
    from domains.services import mailbox_delete

    # given a mailbox that received mail a moment ago (its RCPT answer is cached for a few seconds)
    mario, _password = mailbox_factory(domain=acme)
    assert mx_send(smtpd, SENDER, [mario], b"Subject: one\r\n\r\nfirst\r\n")[0] == 250
    # when the mailbox is deleted and another message arrives within the cache's lifetime
    mailbox_delete(mailbox=Mailbox.objects.get(user__username=mario))
    code, text = mx_send(smtpd, SENDER, [mario], b"Subject: two\r\n\r\nsecond\r\n")
    # then Dovecot's own user check refuses it permanently: nothing is delivered or queued
    assert (code, text[:5]) == (550, b"5.1.1"), text


def test_a_utf8_sender_after_a_refused_copy_on_the_same_lmtp_connection(
    running_mailplane, smtpd, acme, mailbox_factory
):
    # given a copy Dovecot refused (the kept-open LMTP connection was reset, which in smtplib
    # also resets the command encoding to ASCII) ...
    full, _ = mailbox_factory(domain=acme)
    quota_override_set(mailbox=Mailbox.objects.get(user__username=full), quota_bytes=1)
    mario, password = mailbox_factory(domain=acme)
    data = "From: Jörg <jörg@exämple.de>\r\nSubject: dopo {n}\r\n\r\nciao\r\n"
    # when, on every worker thread, a refused copy is followed by a UTF-8 sender's message
    for _ in range(smtpd.service.max_workers):
        assert mx_send(smtpd, SENDER, [full], b"Subject: big\r\n\r\n" + b"x" * 2000 + b"\r\n")[0] == 552
    replies = [
        mx_send(smtpd, "jörg@exämple.de", [mario], data.format(n=n).encode(), options=["SMTPUTF8"])[0]
        for n in range(smtpd.service.max_workers)
    ]
    # then each is delivered
    assert replies == [250] * smtpd.service.max_workers
    assert len(inbox(running_mailplane, mario, password)) == smtpd.service.max_workers
