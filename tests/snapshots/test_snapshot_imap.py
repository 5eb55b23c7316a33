"""Snapshots read through Dovecot (real IMAP, the shared mailplane): physically read-only, frozen
in time while the live mailbox changes, consistent while mail is being delivered."""

import datetime
import imaplib
import os
import pwd
import re
import threading
import time

import pytest
from django.conf import settings
from django.utils import timezone

from domains.models import Mailbox
from mailstore.errors import ReadOnly
from mailstore.imap import SnapshotDay, snapshot_login_name
from mailstore.reader import mail_session
from mailstore.snapshots import HardlinkSnapshots
from snapshots.models import SnapshotStatus
from snapshots.services import snapshot_take
from tests.protocol.helpers import lmtp_deliver, message

pytestmark = pytest.mark.protocol


def mailbox_of(address):
    local_part, _, domain = address.partition("@")
    return Mailbox.objects.get(local_part=local_part, domain__name=domain)


def imap_as(plane, login: str, password: str) -> imaplib.IMAP4_SSL:
    imap = imaplib.IMAP4_SSL(plane.host, plane.ports["imaps"], ssl_context=plane.ssl_context(), timeout=30)
    imap.login(login, password)
    return imap


def snapshot_imap(plane, mailbox_id: int, day: datetime.date) -> imaplib.IMAP4_SSL:
    """A raw client logged in to a snapshot day, the way mailstore.imap.SnapshotDay does."""
    login = f"{snapshot_login_name(mailbox_id, day)}*{settings.MAILSTORE_MASTER_USER}"
    return imap_as(plane, login, settings.MAILSTORE_MASTER_PASSWORD)


def folder_view(imap, folder: str) -> list[tuple[str, tuple[str, ...]]]:
    """(Message-ID, flags) of every message of a folder, sorted."""
    typ, count = imap.select(f'"{folder}"', readonly=True)
    assert typ == "OK", folder
    if int(count[0]) == 0:
        return []
    typ, data = imap.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    rows = []
    for item in data:
        if not isinstance(item, tuple):
            continue
        flags = tuple(sorted(re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1).decode().split()))
        mid = item[1].decode().split(":", 1)[1].strip()
        rows.append((mid, flags))
    return sorted(rows)


def mailbox_view(imap) -> dict[str, list]:
    typ, data = imap.list()
    names = [re.search(rb'"/" "?([^"]*)"?$', line).group(1).decode() for line in data]
    return {name: folder_view(imap, name) for name in sorted(names)}


def deliver(plane, address, count, prefix="m"):
    for i in range(count):
        data = message("a@example.net", address, subject=f"{prefix}{i}").replace(
            b"Subject:", f"Message-ID: <{prefix}{i}@test>\r\nSubject:".encode(), 1
        )
        assert lmtp_deliver(plane, address, data)[1][0] == 250


@pytest.fixture
def filled(running_mailplane, mailbox_factory):
    """A mailbox with 6 messages in INBOX (two flagged) and 2 in a folder Projects."""
    address, password = mailbox_factory()
    deliver(running_mailplane, address, 6)
    imap = imap_as(running_mailplane, address, password)
    imap.create("Projects")
    for i in range(2):
        imap.append(
            "Projects",
            "(\\Seen)",
            None,
            message("b@example.net", address).replace(
                b"Subject:", f"Message-ID: <p{i}@test>\r\nSubject:".encode(), 1
            ),
        )
    imap.select("INBOX")
    imap.store("1,2", "+FLAGS", "\\Flagged")
    imap.logout()
    return address, password, mailbox_of(address)


def test_a_snapshot_is_unchanged_by_later_deletes_flag_changes_moves_and_renames(running_mailplane, filled):
    address, password, mailbox = filled
    day = timezone.localdate()
    row = snapshot_take(mailbox_id=mailbox.pk, day=day)
    assert row.status in (SnapshotStatus.TAKEN, SnapshotStatus.LATE) and row.messages == 8
    snap = snapshot_imap(running_mailplane, mailbox.pk, day)
    before = mailbox_view(snap)
    snap.logout()
    assert len(before["INBOX"]) == 6 and len(before["Projects"]) == 2

    # when the live mailbox changes: deletes, flag changes, a move and a folder rename
    live = imap_as(running_mailplane, address, password)
    live.select("INBOX")
    live.store("1,3", "+FLAGS", "\\Deleted")
    live.expunge()
    live.store("1:*", "+FLAGS", "(\\Seen \\Answered)")
    live.store("1", "-FLAGS", "\\Flagged")
    assert live._simple_command("MOVE", "2", "Projects")[0] == "OK"
    assert live.rename("Projects", "Old")[0] == "OK"
    after_live = mailbox_view(live)
    live.logout()
    assert "Old" in after_live and "Projects" not in after_live and len(after_live["INBOX"]) == 3

    # then the snapshot shows exactly what it showed
    snap = snapshot_imap(running_mailplane, mailbox.pk, day)
    assert mailbox_view(snap) == before
    snap.logout()


def message_files(directory):
    return sorted(
        str(p.relative_to(directory)) for p in directory.rglob("*") if p.parent.name in ("cur", "new")
    )


@pytest.mark.parametrize("files_writable", [False, True], ids=["as-built", "acl-alone"])
def test_writes_through_a_snapshot_session_are_refused_by_dovecot(running_mailplane, filled, files_writable):
    address, password, mailbox = filled
    day = timezone.localdate()
    snapshot_take(mailbox_id=mailbox.pk, day=day)
    files = HardlinkSnapshots().day_dir(mailbox.pk, day)
    if files_writable:
        # The day's directories are not writable by the mail user; make them so, to show that
        # Dovecot's ACL alone refuses every change.
        vmail = pwd.getpwnam(running_mailplane.config.vmail_user)
        for path in [files, *files.rglob("*")]:
            if path.is_dir():
                os.chown(path, vmail.pw_uid, vmail.pw_gid)
    tree_before = sorted(str(p.relative_to(files)) for p in files.rglob("*"))
    messages_before = message_files(files)
    imap = snapshot_imap(running_mailplane, mailbox.pk, day)
    before = mailbox_view(imap)

    # a raw client SELECTs read-write (imaplib's own read-only guard bypassed) and tries every change
    typ, _ = imap._simple_command("SELECT", "INBOX")
    assert typ == "OK"
    assert "READ-ONLY" in imap.untagged_responses  # Dovecot itself opened it read-only
    imap.state = "SELECTED"
    store = imap.store("1", "+FLAGS", "(\\Deleted \\Seen)")
    refused = {
        "COPY": imap.copy("1", "Projects"),
        "MOVE": imap._simple_command("MOVE", "1", "Projects"),
        "APPEND": imap.append("INBOX", None, None, b"Subject: new\r\n\r\nx\r\n"),
        "CREATE": imap.create("NewFolder"),
        "RENAME": imap.rename("Projects", "Renamed"),
        "DELETE": imap.delete("Projects"),
    }
    imap._simple_command("SELECT", "INBOX")
    expunge = imap.expunge()
    imap.logout()

    for command, (typ, data) in refused.items():
        assert typ == "NO", (command, typ, data)
    # STORE without the rights is answered OK by Dovecot's ACL but changes nothing: no flag
    # came back, and the views below are the same
    assert store == ("OK", [None])
    # EXPUNGE with nothing allowed to be marked is an empty OK; it removed nothing
    assert expunge[1] == [None]
    imap = snapshot_imap(running_mailplane, mailbox.pk, day)
    assert mailbox_view(imap) == before
    imap.logout()
    assert message_files(files) == messages_before
    if not files_writable:
        assert sorted(str(p.relative_to(files)) for p in files.rglob("*")) == tree_before
    # and the live mailbox did not move either
    live = imap_as(running_mailplane, address, password)
    assert len(folder_view(live, "INBOX")) == 6 and len(folder_view(live, "Projects")) == 2
    live.logout()


def test_a_snapshot_login_is_imap_only_and_needs_the_master_user(running_mailplane, filled):
    _, password, mailbox = filled
    day = timezone.localdate()
    snapshot_take(mailbox_id=mailbox.pk, day=day)
    # the mailbox's own password is no key to a snapshot login
    with pytest.raises(imaplib.IMAP4.error):
        imap_as(running_mailplane, snapshot_login_name(mailbox.pk, day), password)
    # and LMTP cannot deliver into a snapshot
    rcpt, _ = lmtp_deliver(
        running_mailplane, snapshot_login_name(mailbox.pk, day), b"Subject: x\r\n\r\nx\r\n"
    )
    assert rcpt[0] == 550


def test_the_reader_reads_a_snapshot_day(running_mailplane, filled):
    _, _, mailbox = filled
    day = timezone.localdate()
    snapshot_take(mailbox_id=mailbox.pk, day=day)
    with mail_session(SnapshotDay(mailbox.pk, day)) as session:
        names = session.folder_names()
        page = session.message_page("INBOX") if hasattr(session, "message_page") else None
        with pytest.raises(ReadOnly):
            session.folder_create("Nope")
    assert {"INBOX", "Projects"} <= names
    assert page is not None


def test_a_snapshot_taken_during_500_lmtp_deliveries_holds_each_once_or_not_at_all(
    running_mailplane, mailbox_factory
):
    address, _ = mailbox_factory()
    mailbox = mailbox_of(address)
    files = HardlinkSnapshots()
    day = timezone.localdate()
    delivered = []

    def deliver_500():
        import smtplib

        with smtplib.LMTP(running_mailplane.host, running_mailplane.ports["lmtp"], timeout=60) as lmtp:
            lmtp.ehlo("test.local")
            for i in range(500):
                data = message("a@example.net", address, subject=f"c{i}").replace(
                    b"Subject:", f"Message-ID: <c{i}@test>\r\nSubject:".encode(), 1
                )
                lmtp.sendmail("a@example.net", [address], data)
                delivered.append(i)

    worker = threading.Thread(target=deliver_500)
    worker.start()
    while len(delivered) < 100 and worker.is_alive():
        time.sleep(0.005)
    # when the snapshot is taken while mail keeps arriving
    middle = files.take(mailbox_id=mailbox.pk, day=day, home=mailbox_home(mailbox))
    during = len(delivered)
    worker.join(timeout=120)
    assert len(delivered) == 500 and 100 <= middle.messages and during < 500
    # then each message it holds is there once
    imap = snapshot_imap(running_mailplane, mailbox.pk, day)
    ids = [mid for mid, _ in folder_view(imap, "INBOX")]
    imap.logout()
    assert len(ids) == len(set(ids)) == middle.messages
    assert set(ids) <= {f"<c{i}@test>" for i in range(500)}
    # and the next one holds all 500, once
    nxt = day + datetime.timedelta(days=1)
    assert files.take(mailbox_id=mailbox.pk, day=nxt, home=mailbox_home(mailbox)).messages == 500
    imap = snapshot_imap(running_mailplane, mailbox.pk, nxt)
    ids = [mid for mid, _ in folder_view(imap, "INBOX")]
    imap.logout()
    assert sorted(ids) == sorted(f"<c{i}@test>" for i in range(500))


def mailbox_home(mailbox):
    from mailstore.layout import home_path

    return home_path(mailbox.pk)


@pytest.mark.parametrize("files_writable", [False, True], ids=["as-built", "acl-alone"])
def test_uid_commands_acl_metadata_and_subscriptions_are_refused_too(
    running_mailplane, filled, files_writable, monkeypatch
):
    """The rest of IMAP's ways to write: UID STORE / COPY / MOVE / EXPUNGE, keywords, APPEND and
    CREATE in every folder, RENAME and DELETE of INBOX, ACL and METADATA changes, SUBSCRIBE."""
    address, password, mailbox = filled
    live = imap_as(running_mailplane, address, password)
    assert live.subscribe("INBOX")[0] == "OK"  # so that UNSUBSCRIBE would have something to change
    live.logout()
    day = timezone.localdate()
    snapshot_take(mailbox_id=mailbox.pk, day=day)
    files = HardlinkSnapshots().day_dir(mailbox.pk, day)
    if files_writable:
        vmail = pwd.getpwnam(running_mailplane.config.vmail_user)
        for path in [files, *files.rglob("*")]:
            if path.is_dir():
                os.chown(path, vmail.pw_uid, vmail.pw_gid)
    tree_before = {str(p.relative_to(files)): p.stat().st_mtime_ns for p in files.rglob("*") if p.is_file()}
    messages_before = message_files(files)
    imap = snapshot_imap(running_mailplane, mailbox.pk, day)
    before = mailbox_view(imap)
    typ, _ = imap._simple_command("SELECT", "Projects")
    assert typ == "OK" and "READ-ONLY" in imap.untagged_responses
    imap.state = "SELECTED"
    monkeypatch.setitem(imaplib.Commands, "SETMETADATA", ("AUTH", "SELECTED"))  # unknown to imaplib

    def answer(command, *args):
        try:
            return command(*args)
        except imaplib.IMAP4.error as exc:  # BAD: the command does not exist in this session
            return ("BAD", [str(exc)])

    answers = {
        "UID STORE": imap.uid("STORE", "1:*", "+FLAGS", "(\\Deleted \\Flagged $Label1)"),
        "UID COPY": imap.uid("COPY", "1:*", "INBOX"),
        "UID MOVE": imap.uid("MOVE", "1:*", "INBOX"),
        "APPEND Projects": imap.append("Projects", None, None, b"Subject: new\r\n\r\nx\r\n"),
        "CREATE Projects/Sub": imap.create("Projects/Sub"),
        "RENAME INBOX": imap.rename("INBOX", "Elsewhere"),
        "DELETE INBOX": imap.delete("INBOX"),
        "SETACL": answer(imap._simple_command, "SETACL", "INBOX", "anyone", "lrswipkxtecda"),
        "DELETEACL": answer(imap._simple_command, "DELETEACL", "INBOX", "anyone"),
        "SETMETADATA": answer(imap._simple_command, "SETMETADATA", "INBOX", '(/private/comment "x")'),
        "SUBSCRIBE": imap.subscribe("Projects"),
        "UNSUBSCRIBE": imap.unsubscribe("INBOX"),
    }
    imap._simple_command("SELECT", "Projects")
    uid_expunge = imap.uid("EXPUNGE", "1:*")
    imap.logout()

    accepted = {name for name, (typ, _data) in answers.items() if typ not in ("NO", "BAD")}
    # Dovecot's ACL answers a STORE without rights with OK and changes nothing (RFC 4314 §4).
    # Subscriptions are no ACL right: with writable directories Dovecot would write the day's
    # subscriptions file (no mail, no flag); the snapshot as built refuses that at the file system.
    assert accepted == ({"UID STORE", "SUBSCRIBE", "UNSUBSCRIBE"} if files_writable else {"UID STORE"}), (
        answers
    )
    assert uid_expunge[1] == [None]
    imap = snapshot_imap(running_mailplane, mailbox.pk, day)
    assert mailbox_view(imap) == before
    imap.logout()
    assert message_files(files) == messages_before
    after = {str(p.relative_to(files)): p.stat().st_mtime_ns for p in files.rglob("*") if p.is_file()}
    if not files_writable:
        assert after == tree_before
    live = imap_as(running_mailplane, address, password)
    assert len(folder_view(live, "INBOX")) == 6 and len(folder_view(live, "Projects")) == 2
    live.logout()


def test_a_day_taken_after_an_expunge_holds_exactly_the_messages_left(running_mailplane, mailbox_factory):
    """Dovecot rewrites dovecot-uidlist lazily: after an EXPUNGE the live file can still list the
    expunged message. The snapshot must not (its reader may not rewrite it, and would announce a
    message without a file): what it announces is what it holds, and every one can be fetched."""
    from mailstore.imap import imap_session

    address, _password = mailbox_factory()
    mailbox = mailbox_of(address)
    with imap_session(address) as imap:
        for subject in ("one", "two"):
            imap.append("INBOX", message("a@example.net", address, subject=subject))
    with imap_session(address) as imap:
        imap.select_folder("INBOX")
        imap.delete_messages([1])
        imap.expunge()
    day = timezone.localdate()
    snapshot_take(mailbox_id=mailbox.pk, day=day)
    imap = snapshot_imap(running_mailplane, mailbox.pk, day)
    typ, count = imap.select("INBOX", readonly=True)
    assert (typ, int(count[0])) == ("OK", 1)
    typ, data = imap.fetch("1:*", "(UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK" and b"two" in data[0][1] and b"UID 2" in data[0][0]
    imap.logout()
