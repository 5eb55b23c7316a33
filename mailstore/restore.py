"""Bringing a mailbox back to a Time Machine day: a non-destructive merge of the day's snapshot
(mailstore.imap.SnapshotDay) into the live mailbox (LiveMailbox), over IMAP only.

- Folders of the day that the live mailbox no longer has are created (and subscribed).
- A message of the day comes back (MULTIAPPEND in batches bounded in messages and bytes) with
  its flags (but \\Recent) and its internal date unless it is still anywhere in the live
  mailbox, in any folder. The next batch is read from the day (a thread of its own, on the
  snapshot's connection) while the live mailbox appends the current one: the two Dovecot
  processes and this one's parsing overlap instead of taking turns.
- Nothing in the live mailbox is deleted, moved or changed.

A message's identity: its GUID (Dovecot's X-GUID, which for Maildir is the file's base name,
before ":2,", kept by flag changes and moves), or else its Message-ID (with Date, From and
Subject, for messages without one) and its size. The GUID catches the same file; the second
key catches a copy restored earlier (an APPEND gets a new file, with the same bytes). So a
restore run twice, or resumed after a kill -9 (the identities are read again from the live
mailbox at the start of each run, and each batch is checked against them before it is sent),
adds nothing the first run added.

A message the day had in two folders (a real copy) comes back once: once back, it is "still in
the mailbox" for the other folder too, and only that rule keeps a resumed run from adding it
twice.

The plan (what would come back) is computed the same way for the confirmation page
(`restore_plan`), without changing anything.
"""

from __future__ import annotations

import datetime
import hashlib
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import imapclient
from imapclient.datetime_util import datetime_to_INTERNALDATE

from mailstore.errors import NotFound
from mailstore.imap import LiveMailbox, SnapshotDay, close_client, imap_errors

IDENTITY_ITEMS = [b"X-GUID", b"RFC822.SIZE", b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE FROM SUBJECT)]"]
CHEAP_ITEMS = [b"X-GUID", b"RFC822.SIZE"]
_HEADER_KEY = b"BODY[HEADER.FIELDS (MESSAGE-ID DATE FROM SUBJECT)]"
MESSAGE_ITEMS = [b"BODY.PEEK[]", b"FLAGS", b"INTERNALDATE", *IDENTITY_ITEMS]
FETCH_CHUNK = 2000  # UIDs per identity FETCH (a command line stays well under Dovecot's limit)
# A batch: one FETCH from the day, one MULTIAPPEND, one progress report. Bounded in messages
# and in bytes, as it is held in memory (with the next one, read ahead: PREFETCH).
BATCH = 500
BATCH_BYTES = 16 * 1024 * 1024
PREFETCH = 1
READER_JOIN_TIMEOUT = 120.0  # s: a FETCH under way when the appends stop (the IMAP timeout bounds it)
SKIP_FLAGS = {b"\\recent"}


@dataclass(frozen=True)
class Identity:
    guid: bytes
    key: tuple[bytes, int]


@dataclass
class FolderPlan:
    name: str
    exists_live: bool
    missing: list[tuple[int, int]] = field(default_factory=list)  # (snapshot UID, size)

    @property
    def bytes(self) -> int:
        return sum(size for _uid, size in self.missing)


@dataclass
class RestorePlan:
    folders: list[FolderPlan]
    quota_used: int | None  # bytes, from GETQUOTAROOT (None: no limit reported)
    quota_limit: int | None

    @property
    def messages(self) -> int:
        return sum(len(f.missing) for f in self.folders)

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.folders)

    @property
    def folders_to_create(self) -> list[str]:
        return [f.name for f in self.folders if not f.exists_live]

    @property
    def fits_quota(self) -> bool:
        if self.quota_limit is None or self.quota_used is None:
            return True
        return self.quota_used + self.bytes <= self.quota_limit


@dataclass
class Progress:
    """What a run has done so far (reported after every batch)."""

    restored: int = 0
    restored_bytes: int = 0
    skipped: int = 0  # present in the live mailbox when the batch was sent
    folders_created: list[str] = field(default_factory=list)


def _identity(data: dict) -> Identity:
    guid = data.get(b"X-GUID") or b""
    size = int(data.get(b"RFC822.SIZE") or 0)
    headers = data.get(_HEADER_KEY) or b""
    fields: dict[bytes, bytes] = {}
    for line in headers.replace(b"\r\n ", b" ").replace(b"\r\n\t", b" ").split(b"\r\n"):
        name, sep, value = line.partition(b":")
        if sep:
            fields.setdefault(name.strip().lower(), value.strip())
    message_id = fields.get(b"message-id")
    if message_id:
        key = b"id:" + message_id
    else:
        key = b"h:" + hashlib.sha256(headers).digest()
    return Identity(guid=bytes(guid), key=(key, size))


def _selectable(client: imapclient.IMAPClient) -> list[str]:
    names = []
    for flags, _sep, name in client.list_folders():
        if {f.lower() for f in flags} & {b"\\noselect", b"\\nonexistent"}:
            continue
        names.append(name)
    return names


def _fetch_chunks(
    client: imapclient.IMAPClient, uids: list[int], items: list[bytes]
) -> Iterator[tuple[int, dict]]:
    for start in range(0, len(uids), FETCH_CHUNK):
        yield from client.fetch(uids[start : start + FETCH_CHUNK], items).items()


def _cheap_ids(client: imapclient.IMAPClient, uids: list[int]) -> dict[int, tuple[bytes, int]]:
    """uid → (GUID, size): from the uidlist and the file name, no message file is opened."""
    return {
        uid: (bytes(data.get(b"X-GUID") or b""), int(data.get(b"RFC822.SIZE") or 0))
        for uid, data in _fetch_chunks(client, uids, CHEAP_ITEMS)
    }


def _keys(client: imapclient.IMAPClient, uids: list[int]) -> dict[int, tuple[bytes, int]]:
    """uid → the second identity key (reads the headers: opens the message files)."""
    return {uid: _identity(data).key for uid, data in _fetch_chunks(client, uids, IDENTITY_ITEMS)}


class _Known:
    """The identities present in the live mailbox (every folder)."""

    def __init__(self) -> None:
        self.guids: set[bytes] = set()
        self.keys: set[tuple[bytes, int]] = set()

    def add(self, identity: Identity) -> None:
        if identity.guid:
            self.guids.add(identity.guid)
        self.keys.add(identity.key)

    def __contains__(self, identity: Identity) -> bool:
        return (bool(identity.guid) and identity.guid in self.guids) or identity.key in self.keys


def _quota(live: imapclient.IMAPClient) -> tuple[int | None, int | None]:
    try:
        _roots, quotas = live.get_quota_root("INBOX")
    except imapclient.exceptions.IMAPClientError:
        return None, None
    for quota in quotas:
        if quota.resource.upper() == "STORAGE":
            return quota.usage * 1024, quota.limit * 1024
    return None, None


@contextmanager
def _sessions(address: str, mailbox_id: int, day: datetime.date) -> Iterator[tuple]:
    with imap_errors("restore: login"):
        snap = SnapshotDay(mailbox_id, day, client_name="mailsuite-restore").open()
    try:
        with imap_errors("restore: login"):
            live = LiveMailbox(address, client_name="mailsuite-restore").open()
        try:
            yield snap, live
        finally:
            close_client(live)
    finally:
        close_client(snap)


def _plan(
    snap: imapclient.IMAPClient,
    live: imapclient.IMAPClient,
    *,
    folder: str | None,
    uids: list[int] | None,
) -> tuple[RestorePlan, _Known]:
    """Two passes, so that message files are opened only where needed: GUIDs and sizes on
    both sides first (no file opened); then the headers of only those messages of the day
    whose GUID is not in the live mailbox and whose size some live message has (a copy
    restored earlier has a new GUID but the same bytes), and of those live messages."""
    snap_folders = _selectable(snap)
    if folder is not None:
        if folder not in snap_folders:
            raise NotFound(f"no folder {folder!r} on that day")
        snap_folders = [folder]
    day: dict[str, dict[int, tuple[bytes, int]]] = {}
    for name in snap_folders:
        snap.select_folder(name, readonly=True)
        wanted = snap.search(["ALL"])
        if uids is not None:
            chosen = set(uids)
            wanted = [u for u in wanted if u in chosen]
        day[name] = _cheap_ids(snap, wanted)

    known = _Known()
    live_folders = _selectable(live)
    live_ids: dict[str, dict[int, tuple[bytes, int]]] = {}
    for name in live_folders:
        live.select_folder(name, readonly=True)
        live_ids[name] = _cheap_ids(live, live.search(["ALL"]))
        known.guids.update(guid for guid, _size in live_ids[name].values() if guid)
    candidate_sizes = {
        size for ids in day.values() for guid, size in ids.values() if not (guid and guid in known.guids)
    }
    live_sizes: set[int] = set()
    for name, ids in live_ids.items():
        needed = sorted(uid for uid, (_guid, size) in ids.items() if size in candidate_sizes)
        if needed:
            live.select_folder(name, readonly=True)
            for key in _keys(live, needed).values():
                known.keys.add(key)
                live_sizes.add(key[1])

    plans = []
    for name, ids in day.items():
        plan = FolderPlan(name=name, exists_live=name in live_folders)
        candidates = sorted(uid for uid, (guid, _size) in ids.items() if not (guid and guid in known.guids))
        ambiguous = [uid for uid in candidates if ids[uid][1] in live_sizes]
        keys: dict[int, tuple[bytes, int]] = {}
        if ambiguous:
            snap.select_folder(name, readonly=True)
            keys = _keys(snap, ambiguous)
        for uid in candidates:
            if uid in keys and keys[uid] in known.keys:
                continue
            plan.missing.append((uid, ids[uid][1]))
        if plan.missing or not plan.exists_live:
            plans.append(plan)
    used, limit = _quota(live)
    return RestorePlan(folders=plans, quota_used=used, quota_limit=limit), known


def restore_plan(
    *,
    address: str,
    mailbox_id: int,
    day: datetime.date,
    folder: str | None = None,
    uids: list[int] | None = None,
) -> RestorePlan:
    """What a restore of `day` would bring back now (changes nothing). `folder` limits it to
    one folder, `uids` (with `folder`) to those messages. NotFound: no such folder that day."""
    with _sessions(address, mailbox_id, day) as (snap, live):
        with imap_errors("restore plan"):
            plan, _known = _plan(snap, live, folder=folder, uids=uids)
    return plan


def _batches(missing: list[tuple[int, int]], *, count: int, size: int) -> Iterator[list[int]]:
    """The snapshot UIDs of `missing` in batches of at most `count` messages and `size` bytes
    (a batch is held in memory; one bigger message is a batch of its own)."""
    chunk: list[int] = []
    total = 0
    for uid, length in missing:
        if chunk and (len(chunk) >= count or total + length > size):
            yield chunk
            chunk, total = [], 0
        chunk.append(uid)
        total += length
    if chunk:
        yield chunk


_END = object()


class _DayReader(threading.Thread):
    """Reads the day's batches (FETCH on the snapshot connection) one batch ahead of the
    appends, in a thread of its own: the snapshot's Dovecot process reads and this process
    parses the next batch while the live one writes the current batch. It only reads; every
    check and every write stays in the caller's thread."""

    def __init__(self, snap: imapclient.IMAPClient, plans: list[FolderPlan], *, count: int, size: int):
        super().__init__(name="restore-day-reader", daemon=True)
        self._snap, self._plans, self._count, self._size = snap, plans, count, size
        self._queue: queue.Queue = queue.Queue(maxsize=PREFETCH)
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            for folder_plan in self._plans:
                if not folder_plan.missing:
                    continue
                with imap_errors(f"restore: EXAMINE {folder_plan.name!r}"):
                    self._snap.select_folder(folder_plan.name, readonly=True)
                for chunk in _batches(folder_plan.missing, count=self._count, size=self._size):
                    with imap_errors(f"restore: FETCH from {folder_plan.name!r}"):
                        fetched = self._snap.fetch(chunk, MESSAGE_ITEMS)
                    if not self._put((folder_plan, chunk, fetched)):
                        return
            self._put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed over to the caller's thread
            self._put(exc)

    def _put(self, item) -> bool:
        while not self._halt.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def batches(self) -> Iterator[tuple[FolderPlan, list[int], dict]]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=READER_JOIN_TIMEOUT)


def restore_merge(
    *,
    address: str,
    mailbox_id: int,
    day: datetime.date,
    folder: str | None = None,
    uids: list[int] | None = None,
    on_plan: Callable[[RestorePlan], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    batch: int = BATCH,
    batch_bytes: int = BATCH_BYTES,
) -> Progress:
    """Merge `day` into the live mailbox (see the module docstring). `on_plan` hears what will
    come back; `on_progress` is called after the missing folders are created and after each
    batch has been appended (the caller saves it). Raises a mailstore.errors exception
    (OverQuota when the mailbox fills up) with the batches before it in place: a new run
    continues from there without duplicates."""
    progress = Progress()
    with _sessions(address, mailbox_id, day) as (snap, live):
        with imap_errors("restore"):
            plan, known = _plan(snap, live, folder=folder, uids=uids)
        if on_plan is not None:
            on_plan(plan)
        for folder_plan in plan.folders:
            if not folder_plan.exists_live:
                with imap_errors(f"restore: CREATE {folder_plan.name!r}"):
                    live.create_folder(folder_plan.name)
                    live.subscribe_folder(folder_plan.name)
                progress.folders_created.append(folder_plan.name)
        if progress.folders_created and on_progress is not None:
            on_progress(progress)
        reader = _DayReader(snap, plan.folders, count=batch, size=batch_bytes)
        reader.start()
        try:
            for folder_plan, chunk, fetched in reader.batches():
                messages = _new_messages(chunk, fetched, known, progress)
                if messages:
                    _append(live, folder_plan.name, messages)
                    progress.restored += len(messages)
                    progress.restored_bytes += sum(len(m["msg"]) for m in messages)
                if on_progress is not None:
                    on_progress(progress)
        finally:
            reader.stop()
    return progress


def _new_messages(chunk: list[int], fetched: dict, known: _Known, progress: Progress) -> list[dict]:
    """The batch's messages still missing from the live mailbox, as MULTIAPPEND items (flags
    but \\Recent, internal date), each added to `known` (a message the day had twice comes
    back once)."""
    messages = []
    for uid in chunk:
        data = fetched.get(uid)
        if data is None or b"BODY[]" not in data:
            continue
        identity = _identity(data)
        if identity in known:  # e.g. the same message twice in the day's folder
            progress.skipped += 1
            continue
        known.add(identity)
        flags = [f for f in data.get(b"FLAGS", ()) if f.lower() not in SKIP_FLAGS]
        item = {"msg": data[b"BODY[]"], "flags": flags}
        if data.get(b"INTERNALDATE") is not None:
            item["date"] = data[b"INTERNALDATE"]
        messages.append(item)
    return messages


def _append(live: imapclient.IMAPClient, folder: str, messages: list[dict]) -> None:
    with imap_errors(f"restore: APPEND to {folder!r}"):
        if live.has_capability("LITERAL+"):
            _multiappend(live, folder, messages)
        elif len(messages) == 1:
            live.append(
                folder, messages[0]["msg"], flags=messages[0]["flags"], msg_time=messages[0].get("date")
            )
        else:
            typ, data = live.multiappend(folder, messages)
            if typ != "OK":
                raise imapclient.exceptions.IMAPClientError(f"APPEND: {typ} {data!r}")


def _multiappend(live: imapclient.IMAPClient, folder: str, messages: list[dict]) -> None:
    """One MULTIAPPEND (RFC 3502) with non-synchronising literals (LITERAL+, RFC 7888), written
    in one go: imapclient sends a few small writes per message. And its answer checked:
    imapclient's multiappend returns a NO ([OVERQUOTA]) instead of raising it, so a batch the
    server refused would have been counted as restored."""
    imap = live._imap
    tag = imap._new_tag()
    parts = [tag, b" APPEND ", live._normalise_folder(folder)]
    for item in messages:
        flags = b" ".join(f if isinstance(f, bytes) else f.encode() for f in item["flags"])
        parts.append(b" (" + flags + b")")
        if item.get("date") is not None:
            parts.append(b' "' + datetime_to_INTERNALDATE(item["date"]).encode() + b'"')
        parts.append(b" {%d+}\r\n" % len(item["msg"]))
        parts.append(item["msg"])
    parts.append(b"\r\n")
    imap.send(b"".join(parts))
    typ, data = imap._command_complete("APPEND", tag)
    if typ != "OK":
        raise imapclient.exceptions.IMAPClientError(
            "APPEND: " + b" ".join(d for d in data if isinstance(d, bytes)).decode(errors="replace")
        )
