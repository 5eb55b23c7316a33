"""A Sync page reads at most ACTIVESYNC_PAGE_BYTES of messages, whatever the WindowSize: a folder
of large messages is sent over more pages (MoreAvailable), each message once, and a message
larger than the limit still goes, alone in its page."""

import email.message
import os

from mailstore.imap import imap_session
from tests.activesync.phone import A, B, M, Phone, commands_of
from tests.protocol.helpers import message

LIMIT = 600_000


def with_attachment(address: str, subject: str, size: int) -> bytes:
    msg = email.message.EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "sender@example.net", address, subject
    msg.set_content("see the attachment\n")
    msg.add_attachment(
        os.urandom(size), maintype="application", subtype="octet-stream", filename=f"{subject}.bin"
    )
    return msg.as_bytes()


def test_pages_of_large_messages_stay_within_the_byte_limit(running_mailplane, mailbox_factory, settings):
    settings.ACTIVESYNC_PAGE_BYTES = LIMIT
    address, password = mailbox_factory()
    raws = {f"big{i}": with_attachment(address, f"big{i}", 180_000) for i in range(5)}  # ~245 KB each
    raws["huge"] = with_attachment(address, "huge", 700_000)  # alone over the limit
    raws |= {f"small{i}": message("sender@example.net", address, subject=f"small{i}") for i in range(3)}
    with imap_session(address) as imap:
        imap.multiappend("INBOX", list(raws.values()))
    phone = Phone(address, password)
    phone.provision()
    inbox = phone.inbox_id()
    key = phone.sync(inbox, "0").findtext(f"{A}SyncKey")
    seen: list[str] = []
    pages = []
    while True:
        page = phone.sync(inbox, key, window=100)
        assert page.findtext(f"{A}Status") == "1"
        subjects = [a.find(f"{A}ApplicationData").findtext(f"{M}Subject") for a in commands_of(page, "Add")]
        pages.append(subjects)
        seen += subjects
        for add in commands_of(page, "Add"):
            data = add.find(f"{A}ApplicationData")
            subject = data.findtext(f"{M}Subject")
            if subject.startswith(("big", "huge")):
                size = data.findtext(f"{B}Attachments/{B}Attachment/{B}EstimatedDataSize")
                assert int(size) == (700_000 if subject == "huge" else 180_000)
        key = page.findtext(f"{A}SyncKey")
        if page.find(f"{A}MoreAvailable") is None:
            break
    assert sorted(seen) == sorted(raws)  # every message, once
    for subjects in pages:
        size = sum(len(raws[s]) for s in subjects)
        assert size <= LIMIT or len(subjects) == 1, (subjects, size)
    assert ["huge"] in pages
    assert len(pages) >= 4  # 5 x 245 KB and 940 KB cannot go in fewer pages of 600 KB


def test_a_search_range_stays_within_the_byte_limit(running_mailplane, mailbox_factory, settings):
    """Search reads its Range's messages whole too: it answers a shorter Range when they are
    large, and the phone asks for the next one."""
    from tests.activesync.test_search import S, _mailbox_search, _subjects

    settings.ACTIVESYNC_PAGE_BYTES = LIMIT
    address, password = mailbox_factory()
    raws = [with_attachment(address, f"report {i}", 180_000) for i in range(5)]
    with imap_session(address) as imap:
        imap.multiappend("INBOX", raws)
    phone = Phone(address, password)
    phone.provision()
    phone.folder_sync()
    criteria = "<airsync:Class>Email</airsync:Class><FreeText>report</FreeText>"
    found, start = [], 0
    while start < 5:
        store = _mailbox_search(phone, criteria, f"{start}-{start + 9}")
        subjects = _subjects(store)
        assert 1 <= len(subjects) <= 2  # 2 x 245 KB fit in 600 KB, 3 do not
        assert store.findtext(f"{S}Total") == "5"
        assert store.findtext(f"{S}Range") == f"{start}-{start + len(subjects) - 1}"
        found += subjects
        start += len(subjects)
    assert sorted(found) == [f"report {i}" for i in range(5)]
