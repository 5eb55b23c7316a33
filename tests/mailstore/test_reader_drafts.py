"""What ActiveSync drafts need of the store, against the real Dovecot: a draft appended with
\\Draft, replaced by a new version (the old one gone for good, not in Trash), and a message found
by its Message-ID alone."""

from __future__ import annotations

import pytest

from mailstore.errors import NotFound
from mailstore.imap import LiveMailbox, imap_session
from mailstore.pool import POOL
from mailstore.reader import mail_session

pytestmark = pytest.mark.protocol

FIRST = b"From: a@example.test\r\nSubject: v1\r\nMessage-ID: <draft-1@example.test>\r\n\r\nfirst\r\n"
SECOND = b"From: a@example.test\r\nSubject: v2\r\nMessage-ID: <draft-1@example.test>\r\n\r\nsecond one\r\n"


@pytest.fixture
def plane(running_mailplane):
    yield running_mailplane
    POOL.close_all()


def _folder(address: str, folder: str) -> dict[int, tuple[set, bytes]]:
    with imap_session(address) as imap:
        imap.select_folder(folder, readonly=True)
        uids = imap.search(["ALL"])
        fetched = imap.fetch(uids, [b"FLAGS", b"BODY.PEEK[]"]) if uids else {}
    return {uid: (set(data[b"FLAGS"]), data[b"BODY[]"]) for uid, data in fetched.items()}


def test_a_draft_is_replaced_by_its_new_version(plane, mailbox_factory):
    address, _ = mailbox_factory()
    with mail_session(LiveMailbox(address)) as mail:
        # given a draft appended with \Draft
        first = mail.append("Drafts", FIRST, flags=(b"\\Draft", b"\\Seen"))
        # when it is replaced
        second = mail.message_replace("Drafts", first, SECOND, flags=(b"\\Draft", b"\\Seen"))
        # then it has a UID of its own and is found by Message-ID whatever its size
        assert second is not None and second > first
        assert mail.has_message("Drafts", message_id="<draft-1@example.test>", size=None)
        assert not mail.has_message("Drafts", message_id="<draft-1@example.test>", size=len(FIRST))
        assert not mail.has_message("Drafts", message_id="<other@example.test>", size=None)
        # a version of a message that is not there is refused, and nothing is appended
        with pytest.raises(NotFound):
            mail.message_replace("Drafts", first, FIRST, flags=(b"\\Draft",))
    # over IMAP: only the new version, with its flags; the old one is not in Trash either
    drafts = _folder(address, "Drafts")
    assert list(drafts) == [second]
    flags, body = drafts[second]
    assert {b"\\Draft", b"\\Seen"} <= flags and body == SECOND
    assert _folder(address, "Trash") == {}
