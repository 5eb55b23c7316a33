"""Snapshot files of the Time Machine: a point-in-time copy of a mailbox's Maildir per day.

The only code that touches the snapshot files (the snapshots app orchestrates: rows, tasks).
Layout (MAILSUITE_SNAPSHOT_DIR, default <data dir>/snapshots; the hard-link method needs it on
the mail store's file system):

    <snapshot dir>/<mailbox id>/<YYYY-MM-DD>/Maildir/...     one day, as Dovecot reads it
    <snapshot dir>/<mailbox id>/<YYYY-MM-DD>/manifest.json   messages, bytes, taken_at
    <snapshot dir>/<mailbox id>/.tmp-*                       a snapshot being built (never read)

`SnapshotBackend` is the interface; `HardlinkSnapshots` (the default,
settings.SNAPSHOT_BACKEND) builds each day as:

- message files (cur/, new/): hard-linked. Their content never changes; a flag change or a move
  in the live Maildir is a rename or a new link there, which leaves the snapshot's link alone.
- Dovecot's mutable files (dovecot-uidlist, dovecot.index*, dovecot-keywords, subscriptions,
  maildirfolder, ...): copied for real, so nothing a reader of the snapshot does can reach the
  live mailbox's files (and the snapshot reader keeps its indexes in memory anyway).
- tmp/: left empty (a message there is not delivered yet).

Built in a temporary directory beside the target and renamed into place: a half-made snapshot
is never visible, a second run of the same day finds it and changes nothing, a run killed
half-way leaves a .tmp-* directory that the next run of that mailbox removes.

Races with the live mailbox, which keeps changing while the copy runs:
- a message renamed between listing and linking (a flag change, new/ → cur/): the folder is
  listed again and the message linked under its new name; gone from the folder: skipped.
- the same message seen twice in one folder (linked from new/, then found again in cur/ under
  its new name): a Maildir base name (before ":2,") is the message's identity; linked once.
- a message moved to another folder during the copy (Dovecot's MOVE hard-links it into the
  target, then expunges the source): when the same file (inode) is linked in two folders of the
  snapshot and one of the live names is gone by the end, that one is dropped. A real copy of a
  message in two folders keeps both, since both live names still exist.
So each message delivered, flagged or moved during the copy is in the snapshot once or not at
all. Each folder's copied dovecot-uidlist is then made to list exactly the files linked
(_reconcile_uidlist): Dovecot cannot fix it when it opens the snapshot, which it may not write.
"""

from __future__ import annotations

import datetime
import errno
import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

MESSAGE_DIRS = ("new", "cur")  # new first: a message moving new/ → cur/ meanwhile is still found
MANIFEST = "manifest.json"


class SnapshotError(RuntimeError):
    """A snapshot could not be taken, read or removed."""


@dataclass(frozen=True)
class SnapshotResult:
    messages: int
    bytes: int
    taken_at: datetime.datetime
    created: bool  # False: the day was already there and nothing changed


class SnapshotBackend(Protocol):
    """How a site keeps daily copies of a mailbox. The default hard-links Maildir files; a site
    on ZFS or btrfs can implement these four with file-system snapshots (docs/operations.md)."""

    def take(
        self, *, mailbox_id: int, day: datetime.date, home: Path, now: datetime.datetime | None = None
    ) -> SnapshotResult:
        """Copy `home`'s Maildir as it is now as `day` (taken_at = `now`, default the clock).
        Idempotent: a day already taken is left as it is and its result returned with
        created=False."""
        ...

    def maildir(self, *, mailbox_id: int, day: datetime.date) -> Path:
        """The Maildir Dovecot opens for that day (read-only, see mailstore.dovecot_config)."""
        ...

    def days(self, *, mailbox_id: int) -> list[datetime.date]:
        """The days present on disk, oldest first."""
        ...

    def remove(self, *, mailbox_id: int, day: datetime.date) -> bool:
        """Remove one day; False when it was not there."""
        ...


def snapshot_root() -> Path:
    return Path(settings.SNAPSHOT_DIR)


def backend() -> SnapshotBackend:
    return import_string(settings.SNAPSHOT_BACKEND)()


def _base_name(name: str) -> str:
    return name.split(":", 1)[0]


class HardlinkSnapshots:
    """The default backend: hard links for messages, real copies for Dovecot's own files."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else snapshot_root()

    def mailbox_dir(self, mailbox_id: int) -> Path:
        return self.root / str(int(mailbox_id))

    def day_dir(self, mailbox_id: int, day: datetime.date) -> Path:
        return self.mailbox_dir(mailbox_id) / day.isoformat()

    def maildir(self, *, mailbox_id: int, day: datetime.date) -> Path:
        return self.day_dir(mailbox_id, day) / "Maildir"

    def days(self, *, mailbox_id: int) -> list[datetime.date]:
        found = []
        directory = self.mailbox_dir(mailbox_id)
        if not directory.is_dir():
            return found
        for entry in directory.iterdir():
            try:
                found.append(datetime.date.fromisoformat(entry.name))
            except ValueError:
                continue
        return sorted(found)

    def remove(self, *, mailbox_id: int, day: datetime.date) -> bool:
        target = self.day_dir(mailbox_id, day)
        if not target.exists():
            return False
        # Out of sight first (one rename), then the slow part.
        trash = self.mailbox_dir(mailbox_id) / f".tmp-rm-{day.isoformat()}-{uuid.uuid4().hex[:8]}"
        os.rename(target, trash)
        shutil.rmtree(trash)
        return True

    def result(self, *, mailbox_id: int, day: datetime.date) -> SnapshotResult | None:
        try:
            data = json.loads((self.day_dir(mailbox_id, day) / MANIFEST).read_text())
        except FileNotFoundError:
            return None
        return SnapshotResult(
            messages=data["messages"],
            bytes=data["bytes"],
            taken_at=datetime.datetime.fromisoformat(data["taken_at"]),
            created=False,
        )

    def take(
        self, *, mailbox_id: int, day: datetime.date, home: Path, now: datetime.datetime | None = None
    ) -> SnapshotResult:
        existing = self.result(mailbox_id=mailbox_id, day=day)
        if existing is not None:
            return existing
        source = Path(home) / "Maildir"
        parent = self.mailbox_dir(mailbox_id)
        self._prepare(parent)
        for leftover in parent.glob(".tmp-*"):  # a run killed half-way (kill -9)
            shutil.rmtree(leftover, ignore_errors=True)
        building = parent / f".tmp-{day.isoformat()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        building.mkdir(mode=0o755)
        taken_at = now or datetime.datetime.now(datetime.UTC)
        try:
            messages, size = (0, 0)
            if source.is_dir():
                messages, size = _copy_maildir(source, building / "Maildir")
            else:
                (building / "Maildir").mkdir(mode=0o755)
                for sub in ("cur", "new", "tmp"):
                    (building / "Maildir" / sub).mkdir(mode=0o755)
            manifest = {"messages": messages, "bytes": size, "taken_at": taken_at.isoformat()}
            (building / MANIFEST).write_text(json.dumps(manifest))
            os.rename(building, self.day_dir(mailbox_id, day))
        except OSError as exc:
            shutil.rmtree(building, ignore_errors=True)
            if exc.errno == errno.EXDEV:
                raise SnapshotError(
                    f"{self.root} is not on the mail store's file system: hard links are impossible"
                ) from exc
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):  # another run finished the day first
                done = self.result(mailbox_id=mailbox_id, day=day)
                if done is not None:
                    return done
            raise SnapshotError(f"snapshot of mailbox {mailbox_id} for {day}: {exc}") from exc
        return SnapshotResult(messages=messages, bytes=size, taken_at=taken_at, created=True)

    def _prepare(self, parent: Path) -> None:
        # vmail (Dovecot's mail processes) traverses to a day's Maildir and reads it; nobody but
        # root writes here (the snapshot reader is read-only at the file-system level too).
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o711)
        parent.mkdir(exist_ok=True)
        parent.chmod(0o711)


def _copy_maildir(source: Path, target: Path) -> tuple[int, int]:
    """Copy one Maildir (its folders are the .Name subdirectories, Maildir++); return
    (messages, bytes)."""
    folders = [source] + sorted(
        p for p in source.iterdir() if p.name.startswith(".") and p.is_dir() and not p.is_symlink()
    )
    first: dict[int, tuple] = {}  # inode → (live folder, snapshot file, base name, bytes)
    shared: dict[int, list[tuple]] = {}  # inodes linked more than once: all their entries
    messages = size = 0
    for folder in folders:
        destination = target if folder == source else target / folder.name
        destination.mkdir(mode=0o755)
        count, nbytes = _copy_folder(folder, destination, first, shared)
        messages += count
        size += nbytes
    # A message moved between folders during the copy: keep only the folder it is in now.
    live: dict[Path, set[str]] = {}
    for entries in shared.values():
        if len({folder for folder, _, _, _ in entries}) < 2:
            continue
        gone = []
        for entry in entries:
            folder, _, base, _ = entry
            if folder not in live:
                live[folder] = set(_listing(folder))
            if base not in live[folder]:
                gone.append(entry)
        if len(gone) == len(entries):
            gone = gone[:-1]  # moved on again or expunged since: keep one
        for _, (directory, (sub, name)), _, nbytes in gone:
            (directory / sub / name).unlink()
            messages -= 1
            size -= nbytes
    for folder in folders:
        _reconcile_uidlist(target if folder == source else target / folder.name)
    return messages, size


def _listing(folder: Path) -> dict[str, tuple[str, str]]:
    """base name → (sub, file name) of the messages in a live folder now."""
    found: dict[str, tuple[str, str]] = {}
    for sub in MESSAGE_DIRS:
        try:
            with os.scandir(folder / sub) as entries:
                for entry in entries:
                    found.setdefault(_base_name(entry.name), (sub, entry.name))
        except FileNotFoundError:
            continue
    return found


def _name_size(name: str) -> int | None:
    # Dovecot names its files with the size (",S=<bytes>"): no stat needed.
    start = name.find(",S=")
    if start < 0:
        return None
    end = start + 3
    while end < len(name) and name[end].isdigit():
        end += 1
    return int(name[start + 3 : end]) if end > start + 3 else None


def _copy_folder(folder: Path, destination: Path, first: dict, shared: dict) -> tuple[int, int]:
    for sub in ("cur", "new", "tmp"):
        (destination / sub).mkdir(mode=0o755)
    seen: set[str] = set()
    messages = size = 0
    for sub in MESSAGE_DIRS:
        try:
            with os.scandir(folder / sub) as scan:
                names = [(e.name, e.inode()) for e in scan]
        except FileNotFoundError:
            continue
        # linkat() relative to open directories: no path walk per message (this loop is the
        # snapshot's cost; bench/snapshot.py compares it with cp -al).
        source_fd = os.open(folder / sub, os.O_RDONLY | os.O_DIRECTORY)
        target_fd = os.open(destination / sub, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for name, inode in names:
                base = name.split(":", 1)[0]
                if base in seen:
                    continue
                where = (sub, name)
                try:
                    os.link(name, name, src_dir_fd=source_fd, dst_dir_fd=target_fd, follow_symlinks=False)
                except FileNotFoundError:
                    where = _relink(folder, destination, base)
                    if where is None:
                        continue
                    inode = None
                seen.add(base)
                nbytes = _name_size(where[1])
                if nbytes is None or inode is None:
                    stat = os.stat(destination / where[0] / where[1])
                    nbytes, inode = (stat.st_size if nbytes is None else nbytes), stat.st_ino
                entry = (folder, (destination, where), base, nbytes)
                previous = first.setdefault(inode, entry)
                if previous is not entry:
                    shared.setdefault(inode, [previous]).append(entry)
                messages += 1
                size += nbytes
        finally:
            os.close(source_fd)
            os.close(target_fd)
    # Dovecot's own files, copied last: the uidlist then knows the messages linked above.
    for entry in os.scandir(folder):
        if not entry.is_file(follow_symlinks=False) or not _copied_control_file(entry.name):
            continue
        try:
            copied = shutil.copy2(entry.path, destination / entry.name, follow_symlinks=False)
            stat = os.stat(entry.path)
        except FileNotFoundError:
            continue  # a lock or a rotated log that vanished meanwhile
        os.chown(copied, stat.st_uid, stat.st_gid)  # Dovecot (vmail) reads it
    return messages, size


UIDLIST = "dovecot-uidlist"


def _copied_control_file(name: str) -> bool:
    """Dovecot's files worth copying into a snapshot. A lock held by the live mailbox at the
    moment of the copy (dovecot-uidlist.lock while LMTP delivers, a .lock of the index or the
    keywords) is not: the snapshot reader would find it, see that its process is alive and wait
    for it to go away, which it never does in the copy (an IMAP SELECT hanging for minutes).
    Nor are Dovecot's temporary files (a half-written ".tmp" rename source, a ".temp.*" dotlock
    being made)."""
    return not (name.endswith((".lock", ".tmp")) or name.startswith(".temp."))


def _reconcile_uidlist(destination: Path) -> None:
    """Make the snapshot folder's dovecot-uidlist list exactly the messages linked into it.

    The live uidlist is written lazily: an expunged message keeps its line until Dovecot next
    rewrites the file, and a message can be linked before its line exists. Dovecot would fix
    either when it opens the snapshot, but that needs the uidlist lock, and the snapshot is not
    writable by the mail user: it answers "Internal mailbox synchronization failure, showing
    only old mails" and shows messages whose files are gone. So the copy is made consistent
    here: lines without a file dropped, files without a line given the next UIDs (in name
    order, which is delivery order for Dovecot's names)."""
    present: set[str] = set()
    for sub in MESSAGE_DIRS:
        with os.scandir(destination / sub) as entries:
            present.update(_base_name(entry.name) for entry in entries)
    path = destination / UIDLIST
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        stat = path.stat()
    except FileNotFoundError:
        if not present:
            return
        text, stat = "", None
    lines = text.splitlines()
    header = lines[0].split() if lines else []
    if not header or header[0] != "3":
        validity = _uidvalidity(destination)
        header = ["3", f"V{validity}", "N1", f"G{uuid.uuid4().hex}"]
        lines = [" ".join(header)]
    next_uid = next((int(f[1:]) for f in header[1:] if f.startswith("N") and f[1:].isdigit()), 1)
    kept, listed, last = [], set(), 0
    for line in lines[1:]:
        head, sep, name = line.partition(":")
        uid = head.split(" ", 1)[0]
        if not sep or not uid.isdigit() or name not in present or name in listed:
            continue
        kept.append(line)
        listed.add(name)
        last = max(last, int(uid))
    next_uid = max(next_uid, last + 1)
    for name in sorted(present - listed):
        kept.append(f"{next_uid} :{name}")
        next_uid += 1
    header = [f"N{next_uid}" if f.startswith("N") else f for f in header]
    if not any(f.startswith("N") for f in header):
        header.insert(2, f"N{next_uid}")
    result = "\n".join([" ".join(header), *kept]) + "\n"
    if result == text:
        return
    temporary = destination / f"{UIDLIST}.snapshot-tmp"
    temporary.write_text(result, encoding="utf-8", errors="surrogateescape")
    if stat is not None:
        os.chown(temporary, stat.st_uid, stat.st_gid)
        os.chmod(temporary, stat.st_mode & 0o777)
    os.replace(temporary, path)


def _uidvalidity(destination: Path) -> int:
    for candidate in (destination / "dovecot-uidvalidity", destination.parent / "dovecot-uidvalidity"):
        try:
            return int(candidate.read_text().strip(), 16)
        except (FileNotFoundError, ValueError):
            continue
    return int(datetime.datetime.now(datetime.UTC).timestamp())


def _relink(folder: Path, destination: Path, base: str) -> tuple[str, str] | None:
    """A message renamed since the listing (a flag change, new/ → cur/): find it again and link
    it under its new name. None when it has left the folder."""
    for _attempt in range(3):
        where = _listing(folder).get(base)
        if where is None:
            return None
        try:
            os.link(folder / where[0] / where[1], destination / where[0] / where[1], follow_symlinks=False)
            return where
        except FileNotFoundError:
            continue
    return None
