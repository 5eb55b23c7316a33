"""Journaling at SMTP acceptance, against the real SMTP server and the real Dovecot: received
mail goes to the recipient's "Received", submitted mail to the sender's "Sent", mail between two
archived mailboxes to both; a retry is archived once; with the blob store down the MX answers
4xx and nothing is lost (nor delivered: the sender retries)."""

import imaplib

import pytest

from archiving.blobstore import blob_store
from archiving.models import Archive, ArchivedMessage
from archiving.services import archive_attach, archive_remove
from domains.models import Mailbox
from domains.services import mailbox_delete
from mta.models import HandledCopy
from tests.protocol.test_smtp_hostile import mx_send

pytestmark = pytest.mark.usefixtures("smtp_isolation")

SENDER = "alice@far.example"


def message(tag: str, *, sender: str = SENDER, to: str = "someone@acme.test") -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: journal {tag}\r\nMessage-ID: <{tag}@far.example>\r\n"
        f"Date: Tue, 01 Dec 2026 10:00:00 +0100\r\n\r\nbody of {tag}\r\n"
    ).encode()


def attach(address: str) -> Archive:
    mailbox = Mailbox.objects.get(local_part=address.split("@")[0], domain__name=address.split("@")[1])
    return archive_attach(mailbox=mailbox, retention_years=10).archive


def entries(archive: Archive) -> list[tuple[str, str]]:
    return list(
        ArchivedMessage.objects.filter(archive=archive).order_by("seq").values_list("folder", "subject")
    )


def inbox(plane, address: str, password: str) -> list[bytes]:
    imap = imaplib.IMAP4_SSL(plane.host, plane.ports["imaps"], ssl_context=plane.ssl_context(), timeout=15)
    try:
        imap.login(address, password)
        imap.select("INBOX", readonly=True)
        _, data = imap.search(None, "ALL")
        found = []
        for number in data[0].split():
            _, parts = imap.fetch(number, "(BODY.PEEK[])")
            found.append(parts[0][1])
        return found
    finally:
        imap.logout()


def test_mail_the_mx_accepts_for_an_archived_mailbox_is_in_its_received(
    smtpd, running_mailplane, mailbox_factory
):
    # given an archived mailbox and one without an archive
    bob, bob_password = mailbox_factory()
    carla, _ = mailbox_factory()
    archive = attach(bob)

    # when a message arrives for both
    code, text = mx_send(smtpd, SENDER, [bob, carla], message("received"))

    # then 250, and bob's archive holds it in Received, byte for byte what his mailbox got
    assert code == 250, text
    assert entries(archive) == [("received", "journal received")]
    assert Archive.objects.count() == 1
    entry = ArchivedMessage.objects.get(archive=archive)
    archived = blob_store().get(entry.blob_id)
    (delivered,) = inbox(running_mailplane, bob, bob_password)
    assert delivered.endswith(archived)  # Dovecot adds Return-Path, Delivered-To, our delivery header
    assert (entry.sender, entry.message_id, entry.size) == (SENDER, "<received@far.example>", len(archived))


def test_submitted_mail_is_in_the_senders_sent_and_the_archived_local_recipients_received(
    smtpd, running_mailplane, mailbox_factory, relay_sink
):
    # given two archived mailboxes of the suite
    bob, bob_password = mailbox_factory()
    carla, _ = mailbox_factory()
    bob_archive, carla_archive = attach(bob), attach(carla)

    # when bob sends through submission to carla and to a remote address
    with smtpd.submission(bob, bob_password) as client:
        refused = client.sendmail(bob, [carla, "x@remote.example"], message("sent", sender=bob, to=carla))

    # then it is in bob's Sent and carla's Received: two entries, one blob
    assert refused == {}
    assert entries(bob_archive) == [("sent", "journal sent")]
    assert entries(carla_archive) == [("received", "journal sent")]
    blobs = set(ArchivedMessage.objects.values_list("blob_id", flat=True))
    assert len(blobs) == 1
    assert [m.rcpt_tos for m in relay_sink.messages] == [["x@remote.example"]]


def test_mail_to_oneself_is_in_both_sent_and_received(smtpd, running_mailplane, mailbox_factory):
    bob, bob_password = mailbox_factory()
    archive = attach(bob)
    with smtpd.submission(bob, bob_password) as client:
        assert client.sendmail(bob, [bob], message("self", sender=bob, to=bob)) == {}
    assert sorted(entries(archive)) == [("received", "journal self"), ("sent", "journal self")]


def test_a_message_retried_after_a_4xx_is_archived_once_and_delivered_once(
    smtpd, running_mailplane, mailbox_factory
):
    # given an archived mailbox and Dovecot down: the archive takes the message, delivery fails
    bob, bob_password = mailbox_factory()
    archive = attach(bob)
    data = message("retry")
    running_mailplane.stop()
    try:
        code, _ = mx_send(smtpd, SENDER, [bob], data)
    finally:
        running_mailplane.start()
    assert code == 451
    assert entries(archive) == [("received", "journal retry")]

    # when the sender retries the same message
    code, text = mx_send(smtpd, SENDER, [bob], data)

    # then 250, one copy in the mailbox, still one entry in the archive
    assert code == 250, text
    assert len(inbox(running_mailplane, bob, bob_password)) == 1
    assert entries(archive) == [("received", "journal retry")]
    assert Archive.objects.get(pk=archive.pk).head_seq == 1


def test_with_the_archive_store_down_the_mx_answers_4xx_and_nothing_is_lost(
    smtpd, running_mailplane, mailbox_factory, settings, tmp_path
):
    # given an archived mailbox and a blob store that cannot be written
    bob, bob_password = mailbox_factory()
    carla, carla_password = mailbox_factory()
    archive = attach(bob)
    good_dir = settings.ARCHIVE_BLOB_DIR
    (tmp_path / "not-a-dir").write_text("x")
    settings.ARCHIVE_BLOB_DIR = tmp_path / "not-a-dir" / "archive"
    data = message("store-down")

    # when a message arrives for bob and carla (not archived)
    code, text = mx_send(smtpd, SENDER, [bob, carla], data)

    # then 451, nothing delivered to anyone, nothing archived, no delivery intent left behind
    assert code == 451, text
    assert inbox(running_mailplane, bob, bob_password) == []
    assert inbox(running_mailplane, carla, carla_password) == []
    assert entries(archive) == []
    assert not HandledCopy.objects.exists()

    # and when the store is back, the sender's retry is archived and delivered, once each
    settings.ARCHIVE_BLOB_DIR = good_dir
    code, text = mx_send(smtpd, SENDER, [bob, carla], data)
    assert code == 250, text
    assert entries(archive) == [("received", "journal store-down")]
    assert len(inbox(running_mailplane, bob, bob_password)) == 1
    assert len(inbox(running_mailplane, carla, carla_password)) == 1


def test_removing_the_archive_stops_journaling_at_once(smtpd, running_mailplane, mailbox_factory):
    # given an archived mailbox with one message archived
    bob, _ = mailbox_factory()
    archive = attach(bob)
    assert mx_send(smtpd, SENDER, [bob], message("before"))[0] == 250

    # when the archive is removed, then the next message is delivered but not archived
    archive_remove(mailbox=Mailbox.objects.get(pk=archive.mailbox_id), confirm_address=archive.address)
    assert mx_send(smtpd, SENDER, [bob], message("after"))[0] == 250
    assert entries(archive) == [("received", "journal before")]
    assert Archive.objects.get(pk=archive.pk).removed_at is not None


def test_an_archive_outlives_its_mailbox(smtpd, running_mailplane, mailbox_factory):
    # given an archived mailbox with a message
    bob, _ = mailbox_factory()
    archive = attach(bob)
    assert mx_send(smtpd, SENDER, [bob], message("kept"))[0] == 250

    # when the mailbox is deleted
    mailbox_delete(mailbox=Mailbox.objects.get(pk=archive.mailbox_id))

    # then its archive, its entries and their blob are still there
    archive.refresh_from_db()
    assert (archive.mailbox_id, archive.address) == (None, bob)
    assert entries(archive) == [("received", "journal kept")]
    assert (
        blob_store().get(ArchivedMessage.objects.get(archive=archive).blob_id).endswith(b"body of kept\r\n")
    )
