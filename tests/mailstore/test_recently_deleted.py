"""Recently deleted (Dovecot's lazy_expunge through mailstore.recently_deleted), real IMAP:
expunged mail is kept where clients cannot see it, outside the quota, and can be put back."""

import datetime

import imapclient
import pytest
from django.utils import timezone

from mailstore.errors import NotFound
from mailstore.imap import LiveMailbox
from mailstore.recently_deleted import deleted_list, deleted_put_back
from tests.protocol.helpers import message

pytestmark = pytest.mark.protocol


def client_for(plane, address, password):
    client = imapclient.IMAPClient(plane.host, port=plane.ports["imaps"], ssl_context=plane.ssl_context())
    client.login(address, password)
    return client


def storage_used(client) -> int:
    """KiB (IMAP QUOTA's unit)."""
    _roots, quotas = client.get_quota_root("INBOX")
    return next(q.usage for q in quotas if q.resource.upper() == "STORAGE")


def body(address, i, size=20_000):
    return (
        message("a@example.net", address, subject=f"gone {i}").replace(
            b"Subject:", f"Message-ID: <gone-{i}@test>\r\nSubject:".encode(), 1
        )
        + b"x" * size
        + b"\r\n"
    )


def test_deleted_messages_are_hidden_outside_the_quota_and_can_be_put_back(
    running_mailplane, mailbox_factory
):
    address, password = mailbox_factory()
    client = client_for(running_mailplane, address, password)
    client.create_folder("Work")
    for i in range(4):
        client.append("INBOX", body(address, i), flags=[b"\\Seen"])
    client.append("Work", body(address, 9))
    used_all = storage_used(client)

    # when three are expunged (two from INBOX, the folder's one with its folder) and one is moved
    client.select_folder("INBOX")
    uids = client.search(["ALL"])
    client.delete_messages(uids[:2], silent=True)
    client.expunge()
    client.move([uids[2]], "Trash")  # moved, not deleted: not kept twice
    client.select_folder("INBOX", readonly=True)
    client.delete_folder("Work")
    before = timezone.now() - datetime.timedelta(minutes=1)

    # then the space is free again: recently deleted mail is not counted
    used_after = storage_used(client)
    assert used_after <= used_all - 2 * 19
    # and no IMAP client sees them
    assert not [name for _f, _s, name in client.list_folders() if "DELETED" in name.upper()]
    client.logout()

    items = deleted_list(LiveMailbox(address))
    got = sorted((m.folder, m.subject) for m in items)
    assert got == [("INBOX", "gone 0"), ("INBOX", "gone 1")] or got == [
        ("INBOX", "gone 0"),
        ("INBOX", "gone 1"),
        ("Work", "gone 9"),
    ]
    assert all(m.deleted_at is not None and m.deleted_at >= before for m in items)
    assert all(m.size > 20_000 for m in items)

    # put one back: it is in INBOX again, counted again, no longer among the deleted
    first = next(m for m in items if m.subject == "gone 0")
    assert deleted_put_back(LiveMailbox(address), folder="INBOX", uid=first.uid) == "INBOX"
    client = client_for(running_mailplane, address, password)
    client.select_folder("INBOX", readonly=True)
    subjects = sorted(
        d[b"ENVELOPE"].subject.decode() for d in client.fetch(client.search(["ALL"]), ["ENVELOPE"]).values()
    )
    assert subjects == ["gone 0", "gone 3"]
    assert storage_used(client) >= used_after + 19
    client.logout()
    assert [m.subject for m in deleted_list(LiveMailbox(address))].count("gone 0") == 0
    with pytest.raises(NotFound):
        deleted_put_back(LiveMailbox(address), folder="INBOX", uid=first.uid)


def test_a_deleted_message_of_a_deleted_folder_comes_back_into_a_new_folder(
    running_mailplane, mailbox_factory
):
    address, password = mailbox_factory()
    client = client_for(running_mailplane, address, password)
    client.create_folder("Old")
    client.append("Old", body(address, 1, size=10))
    client.select_folder("Old")
    client.delete_messages(client.search(["ALL"]), silent=True)
    client.expunge()
    client.select_folder("INBOX", readonly=True)
    client.delete_folder("Old")
    client.logout()
    [item] = deleted_list(LiveMailbox(address))
    assert item.folder == "Old"
    deleted_put_back(LiveMailbox(address), folder="Old", uid=item.uid)
    client = client_for(running_mailplane, address, password)
    client.select_folder("Old", readonly=True)
    assert len(client.search(["ALL"])) == 1
    client.logout()
