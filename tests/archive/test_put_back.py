"""'Put back into my mailbox': the owner's selected messages are APPENDed to the live mailbox
(the real Dovecot of the test session): Received to INBOX, Sent to Sent; doing it twice puts
nothing back twice; the archive itself does not change."""

import pytest

from archiving.models import ArchivedMessage
from archiving.services import archive_attach
from domains.models import Mailbox
from mailstore.imap import imap_session
from mailstore.pool import POOL
from tests.archive.conftest import journal, portal_login, raw


@pytest.fixture
def owner(running_mailplane, mailbox_factory):
    address, password = mailbox_factory()
    mailbox = Mailbox.objects.get(user__username=address)
    archive_attach(mailbox=mailbox, retention_years=10)
    yield mailbox, password
    POOL.close_all()


def messages_in(address: str, folder: str) -> list[bytes]:
    with imap_session(address) as imap:
        if folder != "INBOX" and not imap.folder_exists(folder):
            return []
        imap.select_folder(folder, readonly=True)
        uids = imap.search(["ALL"])
        return [data[b"BODY[]"] for data in imap.fetch(uids, [b"BODY.PEEK[]"]).values()] if uids else []


def test_put_back_appends_once(owner):
    mailbox, password = owner
    received = journal(mailbox, raw("lost", date="Tue, 10 Jun 2025 10:00:00 +0200", to=mailbox.address))
    sent = journal(
        mailbox, raw("answer", date="Tue, 10 Jun 2025 11:00:00 +0200", sender=mailbox.address), sent=True
    )
    before = list(ArchivedMessage.objects.order_by("pk").values_list("pk", "entry_hash"))
    client = portal_login(mailbox.address, password)
    url = f"/archive/a/{received.archive_id}/put-back/"

    response = client.post(url, {"id": [received.pk, sent.pk]}, follow=True)
    assert "2 messages put back into your mailbox." in [str(m) for m in response.context["messages"]]
    assert messages_in(mailbox.address, "INBOX") == [
        raw("lost", date="Tue, 10 Jun 2025 10:00:00 +0200", to=mailbox.address)
    ]
    assert len(messages_in(mailbox.address, "Sent")) == 1

    # again: nothing more
    response = client.post(url, {"id": [received.pk, sent.pk]}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "0 messages put back into your mailbox. 2 already there."
    ]
    assert len(messages_in(mailbox.address, "INBOX")) == 1
    assert len(messages_in(mailbox.address, "Sent")) == 1
    assert list(ArchivedMessage.objects.order_by("pk").values_list("pk", "entry_hash")) == before
