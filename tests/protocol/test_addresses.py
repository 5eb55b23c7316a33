"""Aliases, lists, catch-all, domain aliases and forwarders against the real SMTP server and
the real Dovecot: smtplib and swaks send, imaplib reads what each mailbox got."""

import email
import imaplib
import shutil
import smtplib
import subprocess

import pytest

from archiving.models import ArchivedMessage
from archiving.services import archive_attach
from domains import services
from domains.models import AddressTarget, Domain, Mailbox
from mta import sendlimit
from mta.models import TracemailEntry
from tests.factories import DomainFactory

pytestmark = pytest.mark.usefixtures("smtp_isolation")


@pytest.fixture(autouse=True)
def archive_dir(settings, tmp_path):
    settings.ARCHIVE_BLOB_DIR = tmp_path / "archive"
    settings.ARCHIVE_BLOB_STORE = "archiving.blobstore.filesystem.FileSystemBlobStore"


@pytest.fixture
def acme(running_mailplane, transactional_db):
    return DomainFactory()  # unique name: Dovecot's mail outlives each test's rows


def mailbox(address: str) -> Mailbox:
    local, domain = address.split("@")
    return Mailbox.objects.get(local_part=local, domain__name=domain)


def message(sender: str, to: str, subject: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{subject.replace(' ', '.')}@t>\r\n"
        f"Date: Tue, 01 Dec 2026 10:00:00 +0100\r\n\r\nbody of {subject}\r\n"
    ).encode()


def subjects(plane, address: str, password: str) -> list[str]:
    imap = imaplib.IMAP4_SSL(plane.host, plane.ports["imaps"], ssl_context=plane.ssl_context(), timeout=15)
    try:
        imap.login(address, password)
        imap.select("INBOX", readonly=True)
        _, data = imap.search(None, "ALL")
        out = []
        for num in data[0].split():
            _, parts = imap.fetch(num, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            out.append(email.message_from_bytes(parts[0][1])["Subject"])
        return sorted(out)
    finally:
        imap.logout()


def mx_send(smtpd, sender: str, rcpts: list[str], data: bytes) -> dict:
    with smtpd.mx() as client:
        return client.sendmail(sender, rcpts, data)


def mx_refusal(smtpd, sender: str, rcpt: str) -> tuple[int, str]:
    with smtpd.mx() as client:
        client.ehlo("client.example")
        client.mail(sender)
        code, text = client.rcpt(rcpt)
        return code, text.decode()


def alias(domain, local_part, *addresses, kind="alias", **kwargs):
    return services.address_create(
        domain=domain,
        kind=kind,
        local_part=local_part,
        targets=[mailbox(a).registry_entry for a in addresses],
        **kwargs,
    )


def test_an_alias_delivers_once_to_each_mailbox_traced_per_final_recipient_and_journaled(
    running_mailplane, smtpd, acme, mailbox_factory
):
    # given sales@ → anna, bob; anna has an archive
    anna, anna_pw = mailbox_factory(domain=acme)
    bob, bob_pw = mailbox_factory(domain=acme)
    archive = archive_attach(mailbox=mailbox(anna), retention_years=10).archive
    alias(acme, "sales", anna, bob)
    sales = f"sales@{acme.name}"
    # when a message comes in over the MX to sales@ and to anna@ directly
    assert (
        mx_send(smtpd, "alice@far.example", [sales, anna], message("alice@far.example", sales, "offer")) == {}
    )
    # then each mailbox has exactly one copy
    assert subjects(running_mailplane, anna, anna_pw) == ["offer"]
    assert subjects(running_mailplane, bob, bob_pw) == ["offer"]
    # and Tracemail has one row per final recipient, naming the alias
    rows = sorted(TracemailEntry.objects.values_list("recipient", "status", "direction"))
    assert rows == [(anna, "delivered", "in"), (bob, "delivered", "in")]
    assert TracemailEntry.objects.get(recipient=bob).reason == f"250 2.0.0 delivered to mailbox (via {sales})"
    # and the archived mailbox reached through the alias is journaled once
    assert list(ArchivedMessage.objects.filter(archive=archive).values_list("folder", "subject")) == [
        ("received", "offer")
    ]


def test_catch_all_and_domain_alias_deliver_to_the_right_mailboxes(
    running_mailplane, smtpd, acme, mailbox_factory
):
    # given a catch-all to anna and the domain alias alias-<name> of acme
    anna, anna_pw = mailbox_factory(domain=acme)
    bob, bob_pw = mailbox_factory(domain=acme)
    services.address_create(
        domain=acme, kind="alias", local_part="", catch_all=True, targets=[mailbox(anna).registry_entry]
    )
    other_name = "alias-" + acme.name
    services.domain_alias_create(domain=acme, name=other_name)
    bob_local = bob.split("@")[0]
    # when swaks sends to an unknown address, and smtplib to bob at the domain alias
    assert shutil.which("swaks")
    run = subprocess.run(  # noqa: S603
        [
            "swaks",
            "--timeout",
            "20",
            "--server",
            smtpd.host,
            "--port",
            str(smtpd.ports["smtp_mx"]),  # noqa: S607
            "--from",
            "alice@far.example",
            "--to",
            f"nobody@{acme.name}",
            "--header",
            "Subject: stray",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert (
        mx_send(
            smtpd,
            "alice@far.example",
            [f"{bob_local}@{other_name}"],
            message("a@far.example", bob, "via alias domain"),
        )
        == {}
    )
    # and to an unknown address at the domain alias (the catch-all of the domain answers)
    assert (
        mx_send(smtpd, "alice@far.example", [f"ghost@{other_name}"], message("a@far.example", bob, "ghost"))
        == {}
    )
    # then the catch-all mailbox has the strays, bob has his
    assert subjects(running_mailplane, anna, anna_pw) == ["ghost", "stray"]
    assert subjects(running_mailplane, bob, bob_pw) == ["via alias domain"]


def test_list_posting_policies_are_enforced_at_rcpt(running_mailplane, smtpd, acme, mailbox_factory):
    # given three lists with anna as member, and carl (same domain, not a member), and dora of another domain
    anna, anna_pw = mailbox_factory(domain=acme)
    carl, carl_pw = mailbox_factory(domain=acme)
    other = DomainFactory(customer=acme.customer)
    dora, dora_pw = mailbox_factory(domain=other)
    for name, posting in (("open", "anyone"), ("members", "members"), ("staff", "domain")):
        alias(acme, name, anna, kind="list", posting=posting)
    open_, members, staff = (f"{n}@{acme.name}" for n in ("open", "members", "staff"))
    # anyone: the Internet may post
    assert mx_send(smtpd, "alice@far.example", [open_], message("alice@far.example", open_, "open 1")) == {}
    # members / domain: refused on the MX (members are hosted mailboxes: they send through submission)
    code, text = mx_refusal(smtpd, "alice@far.example", members)
    assert (code, text) == (550, f"5.7.1 <{members}>: Only members of this list may post to it")
    code, text = mx_refusal(smtpd, anna, staff)  # even claiming a member's address
    assert (code, text) == (550, f"5.7.1 <{staff}>: Only mailboxes of {acme.name} may post to this list")
    # submission: anna (member) may post to members; carl may not, but may post to staff; dora neither
    with smtpd.smtps(anna, anna_pw) as client:
        assert client.sendmail(anna, [members], message(anna, members, "members 1")) == {}
    with smtpd.smtps(carl, carl_pw) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as exc:
            client.sendmail(carl, [members], message(carl, members, "members 2"))
        assert exc.value.recipients[members][0] == 550
        assert client.sendmail(carl, [staff], message(carl, staff, "staff 1")) == {}
    with smtpd.smtps(dora, dora_pw) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as exc:
            client.sendmail(dora, [staff], message(dora, staff, "staff 2"))
        assert exc.value.recipients[staff] == (
            550,
            f"5.7.1 <{staff}>: Only mailboxes of {acme.name} may post to this list".encode(),
        )
    # then anna got exactly what was allowed; refusals are traced
    assert subjects(running_mailplane, anna, anna_pw) == ["members 1", "open 1", "staff 1"]
    assert TracemailEntry.objects.filter(status="rejected", reason__contains="may post").count() == 4


def test_a_forwarder_is_charged_to_its_mailbox_queued_as_its_mail_and_traced(
    running_mailplane, smtpd, acme, mailbox_factory, relay_sink
):
    # given fwd@ → two external addresses, charged to anna (limit 250)
    anna, _ = mailbox_factory(domain=acme)
    owner = mailbox(anna)
    services.address_create(
        domain=acme,
        kind="forwarder",
        local_part="fwd",
        externals=["x@far.example", "y@far.example"],
        owner=owner,
    )
    fwd = f"fwd@{acme.name}"
    # when the Internet writes to fwd@
    assert mx_send(smtpd, "alice@far.example", [fwd], message("alice@far.example", fwd, "forward me")) == {}
    # then both copies left through the outbound queue with anna as envelope sender
    copies = sorted((m.mail_from, rcpt) for m in relay_sink.messages for rcpt in m.rcpt_tos)
    assert copies == [(anna, "x@far.example"), (anna, "y@far.example")]
    assert b"Subject: forward me" in relay_sink.messages[0].content
    # and anna's daily external count went up by two
    assert sendlimit.used_today(mailbox_id=owner.pk) == 2
    # and Tracemail shows them in anna's domain, naming the forwarder
    rows = TracemailEntry.objects.filter(sender_domain=acme, direction="out").order_by("recipient")
    assert [(r.recipient, r.status) for r in rows] == [
        ("x@far.example", "delivered"),
        ("y@far.example", "delivered"),
    ]
    assert all(f"forwarded by {fwd}" in r.events.order_by("pk").first().reason for r in rows)


def test_a_forwarder_over_its_mailboxs_limit_is_refused_and_traced(
    running_mailplane, smtpd, acme, mailbox_factory, relay_sink
):
    anna, _ = mailbox_factory(domain=acme)
    owner = mailbox(anna)
    services.address_create(
        domain=acme, kind="forwarder", local_part="fwd", externals=["x@far.example"], owner=owner
    )
    for _ in range(250):
        sendlimit.reserve(mailbox_id=owner.pk, limit=250)
    code, text = mx_refusal(smtpd, "alice@far.example", f"fwd@{acme.name}")
    assert code == 550 and text.startswith("5.7.1 Daily limit of 250 external recipients reached")
    assert relay_sink.messages == []
    row = TracemailEntry.objects.get(status="rejected")
    assert (row.sender_domain_id, row.recipient) == (acme.pk, "x@far.example")
    assert f"charged to {anna}" in row.reason


def test_an_alias_loop_is_refused_at_save_and_at_delivery(running_mailplane, smtpd, acme, mailbox_factory):
    anna, anna_pw = mailbox_factory(domain=acme)
    a = alias(acme, "loop-a", anna)
    b = services.address_create(domain=acme, kind="alias", local_part="loop-b", targets=[a])
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.address_update(address=a, targets=[b])
    AddressTarget.objects.create(address=a, target=b)  # written behind the service's back
    code, text = mx_refusal(smtpd, "alice@far.example", f"loop-a@{acme.name}")
    assert (code, text) == (
        550,
        f"5.4.6 <loop-a@{acme.name}>: Routing loop detected in the aliases of this address",
    )
    assert subjects(running_mailplane, anna, anna_pw) == []


def test_a_mailbox_sends_as_an_alias_it_receives_not_as_another(
    running_mailplane, smtpd, acme, mailbox_factory
):
    anna, anna_pw = mailbox_factory(domain=acme)
    bob, bob_pw = mailbox_factory(domain=acme)
    alias(acme, "sales", anna)
    alias(acme, "billing", bob)
    sales, billing = f"sales@{acme.name}", f"billing@{acme.name}"
    with smtpd.smtps(anna, anna_pw) as client:
        # the envelope sender and the header From may be the alias
        assert client.sendmail(sales, [bob], message(sales, bob, "from sales")) == {}
        with pytest.raises(smtplib.SMTPDataError) as exc:
            client.sendmail(anna, [bob], message(billing, bob, "from billing"))
        assert exc.value.smtp_code == 553
    assert subjects(running_mailplane, bob, bob_pw) == ["from sales"]
    assert Domain.objects.filter(pk=acme.pk).exists()
