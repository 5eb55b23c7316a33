"""mailstore's own errors, against the real Dovecot: what is missing is NotFound, a store that
cannot be reached is Unavailable, a full mailbox OverQuota, a read-only source ReadOnly; never
an imapclient, socket or django.http exception."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from domains.models import Mailbox
from mailstore import sieve
from mailstore.errors import MailstoreError, NotFound, OverQuota, ReadOnly, Unavailable
from mailstore.imap import LiveMailbox, imap_session
from mailstore.pool import POOL
from mailstore.reader import mail_session
from mailstore.services import quota_override_set

pytestmark = pytest.mark.protocol

RAW = (
    b"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: Hello\r\n"
    b"Message-ID: <reader-errors@example.test>\r\n\r\nHi there\r\n"
)


def append(address: str, raw: bytes = RAW, folder: str = "INBOX") -> int:
    with imap_session(address) as imap:
        response = imap.append(folder, raw)
    return int(response.split(b"APPENDUID ")[1].split(b" ")[1].rstrip(b"]"))


def seen(address: str, uid: int) -> bool:
    with imap_session(address) as imap:
        imap.select_folder("INBOX", readonly=True)
        return b"\\Seen" in imap.get_flags([uid])[uid]


@pytest.fixture
def plane(running_mailplane):
    yield running_mailplane
    POOL.close_all()
    running_mailplane.ensure_running()  # a test below stops Dovecot


def test_a_missing_message_folder_or_uid_is_not_found(plane, mailbox_factory):
    # given a mailbox with one message
    address, _ = mailbox_factory()
    uid = append(address)
    with mail_session(LiveMailbox(address)) as mail:
        assert mail.message_raw("INBOX", uid).raw.startswith(b"From: Alice")
        # when a UID that is not there, one out of IMAP's range, or a folder that is not there is asked
        # then each is mailstore's NotFound
        with pytest.raises(NotFound):
            mail.message_raw("INBOX", uid + 1)
        with pytest.raises(NotFound):
            mail.message_raw("INBOX", 2**32)
        with pytest.raises(NotFound):
            mail.message_raw("No such folder", uid)
        with pytest.raises(NotFound):
            mail.message_page("No such folder")
        with pytest.raises(NotFound):
            mail.messages_move("INBOX", [uid], "No such folder")
        # and the session still works afterwards
        assert mail.message_page("INBOX").total == 1


def test_another_mailboxs_message_is_not_found(plane, mailbox_factory):
    # given two mailboxes, a message in the first
    first, _ = mailbox_factory()
    second, _ = mailbox_factory()
    uid = append(first)
    # when the second opens the first's UID
    with mail_session(LiveMailbox(second)) as mail, pytest.raises(NotFound):
        mail.message_raw("INBOX", uid)


def test_not_found_keeps_the_pooled_connection(plane, mailbox_factory):
    # given a pooled session
    address, _ = mailbox_factory()
    POOL.close_all()
    with mail_session(LiveMailbox(address), owner="web-session-1") as mail:
        mail.folder_tree()
    assert len(POOL) == 1
    # when a call raises NotFound
    with pytest.raises(NotFound), mail_session(LiveMailbox(address), owner="web-session-1") as mail:
        mail.message_raw("INBOX", 999)
    # then the connection is back in the pool, and the owner's logout closes it
    assert len(POOL) == 1
    assert POOL.close_session("web-session-1") == 1


def test_a_lost_connection_is_unavailable_and_leaves_the_pool(plane, mailbox_factory):
    # given a mailbox with a pooled connection open
    address, _ = mailbox_factory()
    POOL.close_all()
    with mail_session(LiveMailbox(address), owner="web-session-2") as mail:
        mail.folder_tree()
    assert len(POOL) == 1
    # when Dovecot drops the session (its imap process ends)
    plane.doveadm("kick", address)
    # then the pooled connection's next command is Unavailable, and the dead connection is dropped
    with pytest.raises(Unavailable), mail_session(LiveMailbox(address), owner="web-session-2") as mail:
        mail.message_page("INBOX")
    assert len(POOL) == 0
    # and the next session is a new, working one
    with mail_session(LiveMailbox(address), owner="web-session-2") as mail:
        assert mail.message_page("INBOX").total == 0


def test_dovecot_down_is_unavailable(plane, mailbox_factory):
    # given a mailbox, and Dovecot stopped
    address, _ = mailbox_factory()
    POOL.close_all()
    plane.stop()
    # when a session is opened, pooled or not, then Unavailable
    with pytest.raises(Unavailable), mail_session(LiveMailbox(address), owner="web-session-3"):
        pass
    with pytest.raises(Unavailable), mail_session(LiveMailbox(address)):
        pass
    assert len(POOL) == 0
    # and ManageSieve says the same
    with pytest.raises(Unavailable):
        sieve.vacation_apply(address=address, enabled=False, subject="", body="", until=None)


def test_a_refused_login_is_unavailable(plane, mailbox_factory):
    # given a mailbox that has been disabled
    address, _ = mailbox_factory()
    local_part, _, domain = address.partition("@")
    Mailbox.objects.filter(local_part=local_part, domain__name=domain).update(is_active=False)
    # when the reader opens it, then Unavailable (nothing to read, and nothing that says why)
    with pytest.raises(Unavailable), mail_session(LiveMailbox(address)):
        pass


def test_append_to_a_full_mailbox_is_over_quota(plane, mailbox_factory):
    # given a mailbox with a 20 KB limit
    address, _ = mailbox_factory()
    local_part, _, domain = address.partition("@")
    mailbox = Mailbox.objects.select_related("domain").get(local_part=local_part, domain__name=domain)
    quota_override_set(mailbox=mailbox, quota_bytes=20 * 1024)
    big = RAW + b"x" * (30 * 1024) + b"\r\n"
    # when a 30 KB message is appended
    with mail_session(LiveMailbox(address)) as mail:
        with pytest.raises(OverQuota) as caught:
            mail.append("Sent", big)
        # then it is OverQuota (a MailstoreError), and nothing was stored
        assert isinstance(caught.value, MailstoreError)
        assert mail.message_page("Sent").total == 0


@dataclass(frozen=True)
class LiveMailboxLook(LiveMailbox):
    """A read-only source (as a Time Machine day will be), here on the live mailbox."""

    @property
    def read_only(self) -> bool:
        return True

    def pool_key(self) -> tuple:
        return ("look", *super().pool_key()[1:])


def test_a_read_only_source_reads_and_changes_nothing(plane, mailbox_factory):
    # given a mailbox with one unread message, opened through a read-only source
    address, _ = mailbox_factory()
    uid = append(address)
    with mail_session(LiveMailboxLook(address)) as mail:
        # when the message is read with mark_seen, then it is read, and stays unread
        assert mail.message_raw("INBOX", uid, mark_seen=True).raw.startswith(b"From: Alice")
        # and every change is ReadOnly, refused before it reaches the server
        for change in (
            lambda: mail.append("INBOX", RAW),
            lambda: mail.flags_change("INBOX", [uid], "flag"),
            lambda: mail.flag_add("INBOX", uid, b"\\Answered"),
            lambda: mail.messages_move("INBOX", [uid], "Trash"),
            lambda: mail.messages_delete("INBOX", [uid]),
            lambda: mail.message_delete_now("INBOX", uid),
            lambda: mail.folder_create("New"),
            lambda: mail.folder_rename("Trash", "Bin"),
            lambda: mail.folder_delete("Trash"),
            lambda: mail.folder_empty("Trash"),
        ):
            with pytest.raises(ReadOnly):
                change()
        assert mail.message_page("INBOX").total == 1
    assert not seen(address, uid)
    with imap_session(address) as imap:
        assert sorted(name for _f, _s, name in imap.list_folders()) == [
            "Drafts",
            "INBOX",
            "Junk",
            "Sent",
            "Trash",
        ]
