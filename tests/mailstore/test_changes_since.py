"""MailSession.changes_since against the real Dovecot: what changed in a folder since a
HIGHESTMODSEQ (CONDSTORE/QRESYNC), and only that, whatever the folder's size."""

from __future__ import annotations

import pytest

from mailstore.errors import NotFound
from mailstore.imap import LiveMailbox, imap_session
from mailstore.pool import POOL
from mailstore.reader import mail_session
from tests.protocol.helpers import message

pytestmark = pytest.mark.protocol


@pytest.fixture
def plane(running_mailplane):
    yield running_mailplane
    POOL.close_all()


def _fill(address: str, count: int, folder: str = "INBOX") -> None:
    with imap_session(address) as imap:
        imap.multiappend(folder, [message("a@example.net", address, subject=f"m{i}") for i in range(count)])


def test_only_what_changed_in_a_big_folder_is_answered(plane, mailbox_factory):
    # given a folder of 2,000 messages and its state as a device last saw it
    address, _ = mailbox_factory()
    _fill(address, 2000)
    with mail_session(LiveMailbox(address)) as mail:
        start = mail.folder_status("INBOX")
        everything = mail.changes_since("INBOX", uidvalidity=start.uidvalidity, modseq=0)
    status = everything.status
    assert len(everything.flags) == 2000 and everything.vanished == []
    assert status.messages == 2000 and status.highestmodseq > 0
    # when another client reads one message, flags another, expunges two and a message arrives
    with imap_session(address) as imap:
        imap.select_folder("INBOX")
        uids = sorted(imap.search(["ALL"]))
        imap.add_flags([uids[10]], [b"\\Seen"])
        imap.add_flags([uids[500]], [b"\\Flagged"])
        imap.add_flags([uids[7], uids[1999]], [b"\\Deleted"])
        imap.uid_expunge([uids[7], uids[1999]])
        appended = imap.append("INBOX", message("b@example.net", address, subject="new"))
        new = int(appended.split(b" ")[2].rstrip(b"]"))
    # then the answer holds exactly those: the two re-flagged, the new one, the two expunged
    with mail_session(LiveMailbox(address)) as mail:
        changes = mail.changes_since("INBOX", uidvalidity=status.uidvalidity, modseq=status.highestmodseq)
        assert changes is not None
        assert set(changes.flags) == {uids[10], uids[500], new}
        assert b"\\Seen" in changes.flags[uids[10]] and b"\\Flagged" in changes.flags[uids[500]]
        assert changes.vanished_among(uids + [new]) == {uids[7], uids[1999]}
        assert changes.status.uidvalidity == status.uidvalidity
        assert changes.status.messages == 1999
        assert changes.status.uidnext == new + 1
        assert changes.status.highestmodseq > status.highestmodseq
        # and asked again from the answer's HIGHESTMODSEQ: nothing more
        again = mail.changes_since(
            "INBOX", uidvalidity=status.uidvalidity, modseq=changes.status.highestmodseq
        )
        assert again.flags == {} and again.vanished_among(uids + [new]) == set()
        # the connection still reads as before (the select after QRESYNC is a normal one)
        assert [m.uid for m in mail.messages_raw("INBOX", [new])] == [new]


def test_another_uidvalidity_or_folder_answers_no_changes(plane, mailbox_factory):
    address, _ = mailbox_factory()
    _fill(address, 3)
    with mail_session(LiveMailbox(address)) as mail:
        status = mail.folder_status("INBOX")
        # a state of another UIDVALIDITY: the status says so, and no changes are given
        other = mail.changes_since("INBOX", uidvalidity=status.uidvalidity + 1, modseq=1)
        assert other.status.uidvalidity == status.uidvalidity
        assert other.flags == {} and other.vanished == []
        with pytest.raises(NotFound):
            mail.changes_since("No such folder", uidvalidity=status.uidvalidity, modseq=1)
        # from modseq 0 every message
        everything = mail.changes_since("INBOX", uidvalidity=status.uidvalidity, modseq=0)
        assert len(everything.flags) == 3
