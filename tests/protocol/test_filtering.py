"""Inbound filtering (issue 14 item 2) against the real MX, the suite's rspamd, the test DNS
server and Dovecot: smtplib sends, imaplib reads what arrived and where, rspamd's /stat shows
what it learned. Each sender domain is new to the session (rspamd caches SPF and DKIM records)."""

import base64
import email
import email.policy
import imaplib
import smtplib
import subprocess
import uuid

import dkim
import pytest

from mta.models import TracemailEntry
from tests.factories import DomainFactory
from tests.protocol.filterplane import learned

pytestmark = pytest.mark.usefixtures("smtp_isolation")

HOST = "mx.test.localhost"  # the smtpd fixture's host name: the authserv-id we write
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
# rspamd's GTUBE variant for its "add header" action (options.enable_test_patterns). rspamd
# never learns a message carrying a GTUBE pattern, so learning is tested with a real verdict.
GTUBE_ADD_HEADER = "YJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
TEXT = (
    "Dear colleague, the quarterly report is attached below with the figures for the northern "
    "office, the minutes of Tuesday's meeting and the travel plan for the conference next month."
)


@pytest.fixture
def filtered(rspamd, dns_server, smtpd, running_mailplane, transactional_db):
    return dns_server


def sender_domain(dns_server, spf: str | None = None, dmarc: str | None = None) -> str:
    name = f"far-{uuid.uuid4().hex[:10]}.example"
    dns_server.set(name, "A", "192.0.2.10")
    if spf:
        dns_server.set(name, "TXT", spf)
    if dmarc:
        dns_server.set(f"_dmarc.{name}", "TXT", dmarc)
    return name


def message(sender: str, to: str, subject: str, body: str = TEXT, extra: str = "") -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@{sender.split('@')[1]}>\r\n"
        f"Date: Tue, 01 Dec 2026 10:00:00 +0100\r\n{extra}\r\n{body}\r\n"
    ).encode()


def mx_send(smtpd, sender: str, rcpt: str, data: bytes) -> tuple[int, str]:
    """One transaction over the MX; the DATA reply."""
    with smtpd.mx() as client:
        client.ehlo("client.far.example")
        client.mail(sender)
        code, text = client.rcpt(rcpt)
        assert code == 250, text
        code, text = client.data(data)
        return code, text.decode()


def folder(plane, address: str, password: str, name: str = "INBOX") -> list[email.message.Message]:
    imap = imaplib.IMAP4_SSL(plane.host, plane.ports["imaps"], ssl_context=plane.ssl_context(), timeout=15)
    try:
        imap.login(address, password)
        imap.select(name, readonly=True)
        _, data = imap.search(None, "ALL")
        out = []
        for num in data[0].split():
            _, parts = imap.fetch(num, "(BODY.PEEK[HEADER])")
            out.append(email.message_from_bytes(parts[0][1], policy=email.policy.compat32))
        return out
    finally:
        imap.logout()


def by_subject(messages, subject: str) -> email.message.Message:
    found = [m for m in messages if m["Subject"] == subject]
    assert len(found) == 1, [m["Subject"] for m in messages]
    return found[0]


def ours(msg: email.message.Message) -> str:
    """The Authentication-Results we wrote (authserv-id = our host name), unfolded."""
    values = [" ".join(v.split()) for v in msg.get_all("Authentication-Results", [])]
    mine = [v for v in values if v.split(";")[0].strip() == HOST]
    assert len(mine) == 1, values
    return mine[0]


def test_spf_pass_fail_and_softfail_are_reported_and_forged_results_removed(
    filtered, smtpd, running_mailplane, mailbox_factory
):
    # given three sender domains: 127.0.0.1 allowed, refused (-all), doubtful (~all)
    address, password = mailbox_factory()
    verdicts = {}
    for label, spf in (
        ("pass", "v=spf1 ip4:127.0.0.1 -all"),
        ("fail", "v=spf1 ip4:192.0.2.1 -all"),
        ("softfail", "v=spf1 ip4:192.0.2.1 ~all"),
    ):
        domain = sender_domain(filtered, spf=spf)
        # a sender writing results in our name (and a third party's, which is kept)
        forged = f"Authentication-Results: {HOST}; spf=pass smtp.mailfrom=x@{domain}\r\n"
        forged += "Authentication-Results: other.example; spf=none\r\nX-Spam: No\r\n"
        code, text = mx_send(
            smtpd, f"news@{domain}", address, message(f"news@{domain}", address, f"spf {label}", extra=forged)
        )
        assert code == 250, text
        verdicts[label] = domain

    # then each message carries one Authentication-Results of ours, with rspamd's SPF result
    inbox = folder(running_mailplane, address, password)
    for label, domain in verdicts.items():
        msg = by_subject(inbox, f"spf {label}")
        assert f"spf={label} " in ours(msg) + " " and f"smtp.mailfrom=news@{domain}" in ours(msg)
        assert "other.example; spf=none" in msg.get_all("Authentication-Results")
        assert msg.get_all("X-Spam") is None  # the sender's own X-Spam header is gone
        assert float(msg["X-Spam-Score"]) < 6
    rows = TracemailEntry.objects.filter(recipient=address, status="delivered")
    assert rows.count() == 3
    assert {r.spam_verdict for r in rows} == {"clean"} and all(r.spam_score is not None for r in rows)


def dkim_key(tmp_path) -> tuple[bytes, str]:
    """A fresh RSA key: (PEM private key, the p= value of its DNS record)."""
    key = tmp_path / "dkim.pem"
    subprocess.run(
        ["openssl", "genrsa", "-traditional", "-out", str(key), "2048"], check=True, capture_output=True
    )
    der = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"], check=True, capture_output=True
    ).stdout
    return key.read_bytes(), base64.b64encode(der).decode()


def test_dkim_signed_message_passes_and_altered_copy_fails(
    filtered, smtpd, running_mailplane, mailbox_factory, tmp_path
):
    # given a sender domain publishing a DKIM key (and SPF) in the test DNS
    address, password = mailbox_factory()
    domain = sender_domain(filtered, spf="v=spf1 ip4:127.0.0.1 -all")
    private, public = dkim_key(tmp_path)
    filtered.set(f"sel1._domainkey.{domain}", "TXT", f"v=DKIM1; k=rsa; p={public}")
    signed = {}
    for label in ("intact", "altered"):
        data = message(f"ceo@{domain}", address, f"dkim {label}")
        signature = dkim.sign(
            data, b"sel1", domain.encode(), private, include_headers=[b"from", b"to", b"subject", b"date"]
        )
        signed[label] = signature + data
    signed["altered"] = signed["altered"].replace(b"quarterly report", b"quarterly invoice")

    # when both are sent
    for data in signed.values():
        code, text = mx_send(smtpd, f"ceo@{domain}", address, data)
        assert code == 250, text

    # then the intact one passes DKIM, the altered one fails
    inbox = folder(running_mailplane, address, password)
    assert f"dkim=pass header.d={domain}" in ours(by_subject(inbox, "dkim intact"))
    assert "dkim=fail" in ours(by_subject(inbox, "dkim altered"))


def test_outside_mail_claiming_a_hosted_domain_with_dmarc_reject_is_refused(
    filtered, smtpd, running_mailplane, mailbox_factory
):
    # given a hosted domain whose SPF allows only its own server and whose DMARC says reject
    hosted = DomainFactory()
    address, password = mailbox_factory(domain=hosted)
    filtered.set(hosted.name, "TXT", "v=spf1 ip4:192.0.2.25 -all")
    filtered.set(f"_dmarc.{hosted.name}", "TXT", "v=DMARC1; p=reject")

    # when someone on the Internet sends as that domain's postmaster to one of its mailboxes
    forged = f"postmaster@{hosted.name}"
    code, text = mx_send(smtpd, forged, address, message(forged, address, "urgent wire transfer"))

    # then the MX refuses it (5xx), traces it as incoming and refused, and delivers nothing
    assert (code, text) == (550, "5.7.1 Message rejected: the sender's domain DMARC policy (p=reject) failed")
    row = TracemailEntry.objects.get(recipient=address)
    assert (row.direction, row.status, row.spam_verdict) == ("in", "rejected", "rejected")
    assert folder(running_mailplane, address, password) == []


def imap_move(plane, address: str, password: str, source: str, target: str) -> None:
    imap = imaplib.IMAP4_SSL(plane.host, plane.ports["imaps"], ssl_context=plane.ssl_context(), timeout=30)
    try:
        imap.login(address, password)
        imap.select(source)
        typ, data = imap.uid("MOVE", "1:*", target)
        assert typ == "OK", data
    finally:
        imap.logout()


def test_dmarc_quarantine_goes_to_junk_and_moves_teach_ham_and_spam(
    filtered, smtpd, running_mailplane, mailbox_factory, rspamd_ports
):
    # given a sender domain asking for quarantine, and a message from it that fails SPF
    address, password = mailbox_factory()
    domain = sender_domain(filtered, spf="v=spf1 ip4:192.0.2.1 -all", dmarc="v=DMARC1; p=quarantine")
    sender = f"billing@{domain}"
    code, text = mx_send(
        smtpd, sender, address, message(sender, address, "invoice", f"{TEXT} {uuid.uuid4()}")
    )
    assert code == 250, text

    # then it is filed in Junk, marked, with the DMARC failure in our Authentication-Results
    plane = running_mailplane
    assert folder(plane, address, password) == []
    junk = folder(plane, address, password, "Junk")
    assert [m["Subject"] for m in junk] == ["invoice"] and junk[0]["X-Spam"] == "Yes"
    assert "dmarc=fail" in ours(junk[0]) and "policy=quarantine" in ours(junk[0])
    row = TracemailEntry.objects.get(recipient=address)
    assert row.spam_verdict == "spam" and row.spam_score is not None

    # when the user moves it out of Junk over IMAP, rspamd learns it as ham (IMAPSieve)
    before = learned(rspamd_ports)
    imap_move(plane, address, password, "Junk", "INBOX")
    assert [m["Subject"] for m in folder(plane, address, password)] == ["invoice"]
    assert learned(rspamd_ports) == before + 1, plane.log_tail(20)

    # and moving it back into Junk teaches spam (rspamd relearns it)
    imap_move(plane, address, password, "INBOX", "Junk")
    assert learned(rspamd_ports) == before + 2, plane.log_tail(20)


def test_gtube_is_refused_and_its_add_header_variant_goes_to_junk(
    filtered, smtpd, running_mailplane, mailbox_factory
):
    address, password = mailbox_factory()
    domain = sender_domain(filtered, spf="v=spf1 ip4:127.0.0.1 -all")
    sender = f"promo@{domain}"
    # the standard GTUBE is rspamd's "reject" test pattern: refused
    code, text = mx_send(smtpd, sender, address, message(sender, address, "gtube", f"{TEXT}\r\n{GTUBE}"))
    assert (code, text) == (554, "5.7.1 Message rejected as spam")
    # its "add header" variant: spam, filed in Junk
    body = f"{TEXT}\r\n{GTUBE_ADD_HEADER}"
    code, text = mx_send(smtpd, sender, address, message(sender, address, "junk me", body))
    assert code == 250, text
    plane = running_mailplane
    assert [m["Subject"] for m in folder(plane, address, password, "Junk")] == ["junk me"]
    assert folder(plane, address, password) == []
    rows = {r.status: r for r in TracemailEntry.objects.filter(recipient=address)}
    assert (rows["rejected"].spam_verdict, rows["rejected"].reason) == (
        "rejected",
        "554 5.7.1 Message rejected as spam",
    )
    assert (rows["delivered"].spam_verdict, rows["delivered"].spam_score) == ("spam", 6.0)


def test_rspamd_down_answers_4xx_and_the_retry_is_delivered_once(
    filtered, smtpd, running_mailplane, mailbox_factory, settings
):
    address, password = mailbox_factory()
    domain = sender_domain(filtered, spf="v=spf1 ip4:127.0.0.1 -all")
    data = message(f"a@{domain}", address, "retry me")
    working = settings.RSPAMD_URL
    settings.RSPAMD_URL = "http://127.0.0.1:9"  # nothing listens: rspamd is down

    with pytest.raises(smtplib.SMTPDataError) as refused:
        with smtpd.mx() as client:
            client.sendmail(f"a@{domain}", [address], data)
    assert (refused.value.smtp_code, refused.value.smtp_error) == (
        451,
        b"4.3.0 Message filter unavailable, please try again later",
    )
    plane = running_mailplane
    assert folder(plane, address, password) == []
    assert TracemailEntry.objects.get(recipient=address).status == "deferred"

    # the sender's retry once rspamd is back: delivered, once
    settings.RSPAMD_URL = working
    assert mx_send(smtpd, f"a@{domain}", address, data)[0] == 250
    assert [m["Subject"] for m in folder(plane, address, password)] == ["retry me"]

    # with MAILSUITE_RSPAMD_FAIL_OPEN, a message is accepted unfiltered and says so
    settings.RSPAMD_URL, settings.RSPAMD_FAIL_OPEN = "http://127.0.0.1:9", True
    assert mx_send(smtpd, f"a@{domain}", address, message(f"a@{domain}", address, "unfiltered"))[0] == 250
    msg = by_subject(folder(plane, address, password), "unfiltered")
    assert msg["X-Spam-Status"].startswith("unchecked") and msg["X-Spam-Score"] is None
