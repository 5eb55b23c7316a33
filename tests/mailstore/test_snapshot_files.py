"""The hard-link snapshot method (mailstore.snapshots.HardlinkSnapshots) on plain files, with the
races of a live Maildir reproduced between its listing and its linking."""

import datetime
import os
from pathlib import Path

import pytest

from mailstore.snapshots import HardlinkSnapshots

DAY = datetime.date(2026, 11, 30)


def maildir(home, folders=("",)):
    for folder in folders:
        base = home / "Maildir" / folder if folder else home / "Maildir"
        for sub in ("cur", "new", "tmp"):
            (base / sub).mkdir(parents=True, exist_ok=True)
    return home / "Maildir"


def put(folder, sub, base, flags="", body=b"Subject: x\r\n\r\nhello\r\n"):
    name = f"{base},S={len(body)}" + (f":2,{flags}" if sub == "cur" else "")
    (folder / sub / name).write_bytes(body)
    return folder / sub / name


def bases(directory) -> list[str]:
    """The message base names of every folder of a snapshot Maildir, as 'folder/base'."""
    found = []
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.parent.name in ("cur", "new"):
            folder = path.parent.parent.name if path.parent.parent != directory else "INBOX"
            found.append(f"{folder}/{path.name.split(':')[0].split(',')[0]}")
    return sorted(found)


@pytest.fixture
def store(tmp_path):
    return HardlinkSnapshots(tmp_path / "snapshots"), tmp_path / "home"


def test_messages_are_hard_linked_and_dovecot_files_copied(store):
    snapshots, home = store
    root = maildir(home, ("", ".Archive"))
    put(root, "cur", "1.M1P1.h", "S")
    put(root, "new", "2.M2P1.h")
    put(root / ".Archive", "cur", "3.M3P1.h")
    (root / "dovecot-uidlist").write_text("3 V1 N4\n1 1.M1P1.h\n")
    (root / "dovecot.index").write_bytes(b"index")
    (root / "subscriptions").write_text("Archive\n")
    (root / "tmp" / "half-delivered").write_bytes(b"x")

    result = snapshots.take(mailbox_id=7, day=DAY, home=home)

    snap = snapshots.maildir(mailbox_id=7, day=DAY)
    assert (result.messages, result.created) == (3, True)
    assert result.bytes == 3 * len(b"Subject: x\r\n\r\nhello\r\n")
    live_msg = next((root / "cur").iterdir())
    assert (snap / "cur" / live_msg.name).stat().st_ino == live_msg.stat().st_ino
    for name in ("dovecot.index", "subscriptions"):
        assert (snap / name).read_bytes() == (root / name).read_bytes()
        assert (snap / name).stat().st_ino != (root / name).stat().st_ino  # a real copy
    assert (snap / "dovecot-uidlist").stat().st_ino != (root / "dovecot-uidlist").stat().st_ino
    assert list((snap / "tmp").iterdir()) == []
    assert bases(snap) == [".Archive/3.M3P1.h", "INBOX/1.M1P1.h", "INBOX/2.M2P1.h"]


def test_a_lock_held_by_the_live_mailbox_is_not_copied(store):
    # LMTP holds dovecot-uidlist.lock while it delivers; a copy of it in the snapshot would make
    # the snapshot reader wait for a process that never releases it there (a SELECT hanging).
    snapshots, home = store
    root = maildir(home, ("", ".Archive"))
    put(root, "new", "1.M1P1.h")
    (root / "dovecot-uidlist").write_text("3 V1 N2\n1 1.M1P1.h\n")
    for folder in (root, root / ".Archive"):
        (folder / "dovecot-uidlist.lock").write_text("4242:host")
        (folder / "dovecot.index.log.lock").write_text("4242:host")
        (folder / ".temp.host.4242.abc").write_text("")
        (folder / "dovecot-keywords.tmp").write_text("")

    snapshots.take(mailbox_id=7, day=DAY, home=home)

    snap = snapshots.maildir(mailbox_id=7, day=DAY)
    for folder in (snap, snap / ".Archive"):
        names = sorted(p.name for p in folder.iterdir() if p.is_file())
        assert not [n for n in names if n.endswith((".lock", ".tmp")) or n.startswith(".temp.")], names
    assert (snap / "dovecot-uidlist").is_file()
    assert bases(snap) == ["INBOX/1.M1P1.h"]


def test_the_copied_uidlist_lists_exactly_the_linked_messages(store):
    """The live uidlist is written lazily: a line for a message expunged since, none yet for one
    just linked. The snapshot's lists what it holds (Dovecot may not rewrite it there)."""
    snapshots, home = store
    root = maildir(home, ("", ".Archive"))
    kept = put(root, "cur", "1.M1P1.h", "S").name.split(":")[0]
    unlisted = put(root, "new", "3.M3P1.h").name
    (root / "dovecot-uidlist").write_text(
        f"3 V1796 N3 Gabc\n1 :{kept}\n2 W30 :2.M2P1.h,S=23\n"  # 2: expunged, its file gone
    )
    (root / ".Archive" / "dovecot-uidlist").write_text("3 V1797 N1 Gdef\n")
    archived = put(root / ".Archive", "cur", "4.M4P1.h").name.split(":")[0]

    snapshots.take(mailbox_id=7, day=DAY, home=home)

    snap = snapshots.maildir(mailbox_id=7, day=DAY)
    assert (snap / "dovecot-uidlist").read_text() == f"3 V1796 N4 Gabc\n1 :{kept}\n3 :{unlisted}\n"
    assert (snap / ".Archive" / "dovecot-uidlist").read_text() == f"3 V1797 N2 Gdef\n1 :{archived}\n"
    # the live files are untouched
    assert "2 W30 :2.M2P1.h" in (root / "dovecot-uidlist").read_text()


def test_taking_a_day_twice_changes_nothing(store):
    snapshots, home = store
    root = maildir(home)
    put(root, "cur", "1.M1P1.h")
    first = snapshots.take(mailbox_id=7, day=DAY, home=home)
    snap_dir = snapshots.day_dir(7, DAY)
    inode = snap_dir.stat().st_ino
    put(root, "cur", "2.M2P1.h")  # arrives after the day was taken

    again = snapshots.take(mailbox_id=7, day=DAY, home=home)

    assert (again.messages, again.created, again.taken_at) == (1, False, first.taken_at)
    assert snap_dir.stat().st_ino == inode
    assert bases(snapshots.maildir(mailbox_id=7, day=DAY)) == ["INBOX/1.M1P1.h"]


def test_a_half_made_snapshot_is_never_visible_and_is_cleaned_by_the_next_run(store):
    snapshots, home = store
    root = maildir(home)
    put(root, "cur", "1.M1P1.h")
    # given the leftovers of a run killed half-way (kill -9)
    leftover = snapshots.mailbox_dir(7) / ".tmp-2026-11-30-999-deadbeef" / "Maildir" / "cur"
    leftover.mkdir(parents=True)
    assert snapshots.days(mailbox_id=7) == []
    # when the day is taken again
    snapshots.take(mailbox_id=7, day=DAY, home=home)
    # then only the finished day is there
    assert [p.name for p in snapshots.mailbox_dir(7).iterdir()] == ["2026-11-30"]
    assert snapshots.days(mailbox_id=7) == [DAY]


def racing_link(monkeypatch, before_link):
    """os.link, with `before_link(src)` run once before the first link of each source."""
    real_link = os.link
    seen = set()

    def link(src, dst, *args, **kwargs):
        # The snapshot links relative to open directories: `src` may be a bare file name.
        if str(src) not in seen:
            seen.add(str(src))
            before_link(Path(src).name)
        return real_link(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "link", link)


def test_a_flag_change_between_listing_and_linking_is_linked_once_under_its_new_name(store, monkeypatch):
    snapshots, home = store
    root = maildir(home)
    flagged = put(root, "cur", "1.M1P1.h")
    put(root, "cur", "2.M2P1.h")

    def flag_it(name):
        if name == flagged.name and flagged.exists():
            flagged.rename(flagged.with_name(flagged.name + "S"))  # :2, → :2,S as Dovecot does

    racing_link(monkeypatch, flag_it)
    result = snapshots.take(mailbox_id=7, day=DAY, home=home)

    assert result.messages == 2
    assert bases(snapshots.maildir(mailbox_id=7, day=DAY)) == ["INBOX/1.M1P1.h", "INBOX/2.M2P1.h"]


def test_a_message_moving_from_new_to_cur_meanwhile_is_there_once(store, monkeypatch):
    snapshots, home = store
    root = maildir(home)
    fresh = put(root, "new", "1.M1P1.h")

    def seen_by_a_client(name):
        # Right after the snapshot linked new/..., a client opens the folder: Dovecot moves it.
        if name == fresh.name:
            os.link(fresh, root / "cur" / (fresh.name + ":2,"))
            fresh.unlink()

    real_link = os.link
    linked = []

    def link(src, dst, *args, **kwargs):
        real_link(src, dst, *args, **kwargs)
        if not linked:
            linked.append(src)
            seen_by_a_client(Path(src).name)

    monkeypatch.setattr(os, "link", link)
    result = snapshots.take(mailbox_id=7, day=DAY, home=home)

    assert result.messages == 1
    assert bases(snapshots.maildir(mailbox_id=7, day=DAY)) == ["INBOX/1.M1P1.h"]


def test_a_message_expunged_before_it_is_linked_is_simply_absent(store, monkeypatch):
    snapshots, home = store
    root = maildir(home)
    doomed = put(root, "cur", "1.M1P1.h")
    put(root, "cur", "2.M2P1.h")
    racing_link(monkeypatch, lambda name: doomed.unlink() if name == doomed.name else None)
    result = snapshots.take(mailbox_id=7, day=DAY, home=home)
    assert result.messages == 1
    assert bases(snapshots.maildir(mailbox_id=7, day=DAY)) == ["INBOX/2.M2P1.h"]


def test_a_message_moved_to_another_folder_meanwhile_is_there_once(store, monkeypatch):
    snapshots, home = store
    root = maildir(home, ("", ".Archive"))
    moving = put(root, "cur", "1.M1P1.h")
    real_link = os.link
    done = []

    def link(src, dst, *args, **kwargs):
        real_link(src, dst, *args, **kwargs)
        if Path(src).name == moving.name and not done:
            # Dovecot's MOVE: a hard link under a new name in the target, then the source goes.
            done.append(1)
            real_link(moving, root / ".Archive" / "cur" / "9.M9P1.h,S=23:2,")
            moving.unlink()

    monkeypatch.setattr(os, "link", link)
    result = snapshots.take(mailbox_id=7, day=DAY, home=home)

    assert result.messages == 1
    assert bases(snapshots.maildir(mailbox_id=7, day=DAY)) == [".Archive/9.M9P1.h"]


def test_a_message_copied_into_two_folders_stays_in_both(store):
    snapshots, home = store
    root = maildir(home, ("", ".Archive"))
    original = put(root, "cur", "1.M1P1.h")
    os.link(original, root / ".Archive" / "cur" / "5.M5P1.h,S=23:2,")  # Dovecot's COPY
    result = snapshots.take(mailbox_id=7, day=DAY, home=home)
    assert result.messages == 2
    assert bases(snapshots.maildir(mailbox_id=7, day=DAY)) == [".Archive/5.M5P1.h", "INBOX/1.M1P1.h"]


def test_remove_takes_a_day_out_of_sight(store):
    snapshots, home = store
    maildir(home)
    snapshots.take(mailbox_id=7, day=DAY, home=home)
    assert snapshots.remove(mailbox_id=7, day=DAY) is True
    assert snapshots.days(mailbox_id=7) == []
    assert list(snapshots.mailbox_dir(7).iterdir()) == []
    assert snapshots.remove(mailbox_id=7, day=DAY) is False
