"""Outgoing mail is DKIM-signed (mta.dkimsign): a message submitted with smtplib on the real
submission port to an Internet address reaches the relay sink with a signature that an
independent verifier (dkimpy's verify, asking the test DNS server) accepts against the record
the control panel's DNS page shows; the same message altered in transit fails."""

import html
import re

import dkim
import dns.resolver
import pytest

from domains import dkim as dkim_reads
from domains import services
from domains.models import DkimKey, Mailbox
from mta.rspamd import rspamd_check
from tests.factories import MAILBOX_PASSWORD, DomainFactory, MailboxFactory
from tests.panel.conftest import panel_client, postmaster_of

pytestmark = pytest.mark.protocol

MESSAGE = (
    "From: Mario Rossi <mario@acme.test>\r\n"
    "To: Bob <bob@far.example>\r\n"
    "Cc: carol@far.example\r\n"
    "Subject: Quarterly figures\r\n"
    "Date: Tue, 01 Dec 2026 08:00:00 +0100\r\n"
    "Message-ID: <q4@acme.test>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "The figures are attached in spirit.\r\n"
    "Ciao, Mario\r\n"
)


def txt_from(server):
    """dkimpy's dnsfunc: the TXT record of `name`, asked of the test DNS server with dnspython."""

    def txt(name, timeout=5):
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [server.host]
        resolver.port = server.port
        resolver.lifetime = timeout
        try:
            answer = resolver.resolve(name.decode().rstrip("."), "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        return b"".join(answer[0].strings)

    return txt


def dkim_records_shown(client, domain: str) -> list[tuple[str, str]]:
    """(name, value) of each DKIM row of the panel's DNS page."""
    page = client.get(f"/mailadmin/d/{domain}/dns/").content.decode()
    rows = re.findall(r'<tr data-record="DKIM:[^"]+".*?</tr>', page, re.S)
    shown = []
    for row in rows:
        name = re.search(r"<code>([^<]+)</code>", row).group(1)
        value = re.search(r'<code class="dns-value">([^<]+)</code>', row).group(1)
        shown.append((html.unescape(name), html.unescape(value)))
    return shown


def submit(smtpd, message: str, *, login="mario@acme.test", rcpts=("bob@far.example",)):
    with smtpd.submission(login, MAILBOX_PASSWORD) as client:
        assert client.sendmail(login, list(rcpts), message.encode()) == {}


@pytest.fixture
def acme(transactional_db, settings, dns_server):
    settings.DKIM_KEY_BITS = 2048  # the production size: its TXT record spans two strings
    domain = DomainFactory(name="acme.test")
    MailboxFactory(domain=domain, local_part="mario")
    return domain


def test_submitted_mail_is_signed_and_verifies_against_the_record_the_panel_shows(
    smtpd, relay_sink, dns_server, acme, rspamd_server, rspamd_ports
):
    # given the Postmaster publishes the DKIM record the DNS page shows, and the page's check
    # sees it (the key then signs)
    client = panel_client(postmaster_of(acme).user)
    ((name, value),) = dkim_records_shown(client, "acme.test")
    assert name.endswith("._domainkey.acme.test") and value.startswith("v=DKIM1; k=rsa; p=")
    dns_server.set(name, "TXT", value)
    assert client.post("/mailadmin/d/acme.test/dns/", {"action": "check"}).status_code == 302
    assert DkimKey.objects.get(domain=acme).state == "active"
    # when Mario sends to two Internet addresses through submission
    submit(smtpd, MESSAGE, rcpts=("bob@far.example", "carol@far.example"))
    # then each copy reaches the Internet with one signature of acme.test, relaxed/relaxed
    assert sorted(m.rcpt_tos[0] for m in relay_sink.messages) == ["bob@far.example", "carol@far.example"]
    for sent in relay_sink.messages:
        assert sent.content.count(b"DKIM-Signature:") == 1
        verifier = dkim.DKIM(sent.content)
        assert verifier.verify(dnsfunc=txt_from(dns_server)) is True
        tags = verifier.signature_fields
        selector = name.split(".", 1)[0]
        assert (tags[b"d"], tags[b"s"], tags[b"a"], tags[b"c"]) == (
            b"acme.test",
            selector.encode(),
            b"rsa-sha256",
            b"relaxed/relaxed",
        )
        signed = [h.strip() for h in tags[b"h"].split(b":")]
        for field in (
            b"from",
            b"to",
            b"cc",
            b"subject",
            b"date",
            b"message-id",
            b"mime-version",
            b"content-type",
        ):
            assert field in signed, field
        assert signed.count(b"from") == 2  # oversigned: no second From can be added
        # and rspamd, the verifier the MX itself uses (another implementation than the signer's
        # dkimpy), finds the signature valid as a receiver on the Internet would
        verdict = rspamd_check(
            content=sent.content,
            sender="mario@acme.test",
            recipients=list(sent.rcpt_tos),
            client_ip="192.0.2.10",
            helo="mail.elsewhere.example",
            hostname="mx.far.example",
            url=rspamd_ports.url,
        )
        assert "R_DKIM_ALLOW" in verdict.symbols and "R_DKIM_REJECT" not in verdict.symbols, verdict
    # and the same message altered in transit fails: a changed body, a changed Subject
    content = relay_sink.messages[0].content
    assert dkim.verify(content.replace(b"in spirit", b"in cash"), dnsfunc=txt_from(dns_server)) is False
    assert dkim.verify(content.replace(b"Quarterly", b"Urgent"), dnsfunc=txt_from(dns_server)) is False
    # and a copy with the record gone cannot be verified either
    dns_server.set(name, "TXT")
    assert dkim.verify(content, dnsfunc=txt_from(dns_server)) is False


def test_mail_leaves_unsigned_before_the_key_record_is_seen(smtpd, relay_sink, dns_server, acme):
    # given a key made (the DNS page) but its record never published
    client = panel_client(postmaster_of(acme).user)
    assert len(dkim_records_shown(client, "acme.test")) == 1
    assert DkimKey.objects.get(domain=acme).state == "pending"
    # when Mario sends out, the message leaves unsigned (a signature nobody can check is worse
    # than none)
    submit(smtpd, MESSAGE)
    (sent,) = relay_sink.messages
    assert b"DKIM-Signature" not in sent.content


def test_mail_the_mx_forwards_is_never_signed_with_a_hosted_key_whatever_its_from(
    smtpd, relay_sink, dns_server, acme
):
    # given acme.test signing, and fwd@acme.test forwarding to the Internet (charged to mario)
    key = services.dkim_key_first(domain=acme)
    dns_server.set(dkim_reads.record_name(key), "TXT", dkim_reads.record_value(key))
    services.domain_dns_check(domain=acme, refresh=True)
    mario = Mailbox.objects.get(domain=acme, local_part="mario")
    services.address_create(
        domain=acme, kind="forwarder", local_part="fwd", externals=["x@far.example"], owner=mario
    )
    # when someone on the Internet writes to fwd@ claiming to be mario@acme.test
    with smtpd.mx() as client:
        assert client.sendmail("someone@bad.example", ["fwd@acme.test"], MESSAGE.encode()) == {}
    # then the forwarded copy leaves without acme.test's signature
    (forwarded,) = relay_sink.messages
    assert forwarded.rcpt_tos == ["x@far.example"]
    assert b"DKIM-Signature" not in forwarded.content
    # while mario's own message through the same forwarder is signed
    submit(smtpd, MESSAGE, rcpts=("fwd@acme.test",))
    assert dkim.verify(relay_sink.messages[1].content, dnsfunc=txt_from(dns_server)) is True
