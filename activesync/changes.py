"""What a device lacks of a folder: the deletions, read/flag changes and new messages a Sync
sends (activesync.sync) and GetItemEstimate counts.

The sync state (devices.models.SyncState) holds, as of the folder's HIGHESTMODSEQ at the last
listing, what the device holds (`items`: UID → read/flag bits) and what it still lacks
(`pending`: the rest of a MoreAvailable answer). So the next Sync asks IMAP only for what
changed since that HIGHESTMODSEQ (mailstore's changes_since: CONDSTORE/QRESYNC) and merges it
in: its cost is what changed, not the folder's size. The whole folder is listed only when that
cannot be done: the first Sync after key 0, a state from before `pending` was kept, or a
server without QRESYNC.

With a FilterType (activesync.window) `pending` still covers the whole folder (what the device
holds and what it lacks add up to all of it), and the window is laid over it at each Sync: of
what it lacks only what is inside the window is sent, and what it holds outside the window is
taken back with a SoftDelete (and goes back among what it lacks, should the window widen). So a
narrower or wider FilterType, or a window moved by time, needs no listing of the folder: one
SEARCH SINCE says what is inside."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from activesync.message import flag_bits
from devices.models import DeviceFolder, SyncState
from devices.uidsets import items_unpack, uids_pack, uids_unpack
from mailstore.reader import FolderStatus, MailSession


@dataclass
class Pending:
    """What the device lacks, in the order it is sent: deletions and changes by UID, then new
    messages newest first."""

    deleted: list[int] = field(default_factory=list)
    changed: dict[int, int] = field(default_factory=dict)  # UID → its bits now
    added: list[int] = field(default_factory=list)
    # The folder's UIDs inside the device's filter window (FilterType), not stored: asked of
    # IMAP at each Sync. None: no window, the whole folder.
    window: set[int] | None = None

    def inside(self, uid: int) -> bool:
        return self.window is None or uid in self.window

    def soft_deleted(self, known: dict[int, int]) -> list[int]:
        """What the device holds that is still in the folder but outside its window."""
        if self.window is None:
            return []
        gone = set(self.deleted)
        return [uid for uid in sorted(known) if uid not in self.window and uid not in gone]

    def due(self, known: dict[int, int]) -> int:
        """How many items a Sync has to send (GetItemEstimate, MoreAvailable)."""
        if self.window is None:
            return len(self.deleted) + len(self.changed) + len(self.added)
        return (
            len(self.deleted)
            + len(self.soft_deleted(known))
            + sum(1 for uid in self.changed if uid in self.window)
            + sum(1 for uid in self.added if uid in self.window)
        )

    def stored(self) -> dict:
        return {
            "deleted": uids_pack(self.deleted),
            "changed": {str(uid): bits for uid, bits in self.changed.items()},
            "added": uids_pack(self.added),
        }

    @classmethod
    def of(cls, stored: dict) -> Pending:
        return cls(
            deleted=uids_unpack(stored.get("deleted", "")),
            changed={int(uid): int(bits) for uid, bits in (stored.get("changed") or {}).items()},
            added=uids_unpack(stored.get("added", ""))[::-1],
        )


def known_items(state: SyncState) -> dict[int, int]:
    return items_unpack(state.items)


def _difference(known: dict[int, int], current: dict[int, int]) -> Pending:
    return Pending(
        deleted=sorted(uid for uid in known if uid not in current),
        changed={uid: current[uid] for uid in sorted(known) if uid in current and current[uid] != known[uid]},
        added=sorted((uid for uid in current if uid not in known), reverse=True),  # newest first
    )


def _merged(known: dict[int, int], pending: Pending, flags: dict[int, set], vanished: set[int]) -> Pending:
    """`pending` (as of the last listing) brought up to date with what changed since: the flags
    of the messages added or re-flagged since, and the UIDs expunged since."""
    deleted = {uid for uid in pending.deleted if uid in known}
    changed = {uid: bits for uid, bits in pending.changed.items() if uid in known}
    added = set(pending.added)
    for uid in vanished:
        if uid in known:
            deleted.add(uid)
            changed.pop(uid, None)
        added.discard(uid)
    for uid, uid_flags in flags.items():
        if uid in vanished:
            continue
        if uid in known:
            bits = flag_bits(uid_flags)
            if bits != known[uid]:
                changed[uid] = bits
            else:
                changed.pop(uid, None)
        else:
            added.add(uid)
    return Pending(
        deleted=sorted(deleted),
        changed={uid: changed[uid] for uid in sorted(changed)},
        added=sorted(added, reverse=True),
    )


def pending_now(
    mail: MailSession,
    folder: DeviceFolder,
    state: SyncState,
    known: dict[int, int],
    since: datetime.date | None = None,
) -> tuple[Pending, FolderStatus] | None:
    """What the device lacks now, and the folder's status it is complete up to (the state's
    next `highestmodseq`); None when the folder's UIDVALIDITY is not the state's (the device
    must start over). `since`: the first day of the device's filter window (None: no window).
    NotFound (mailstore) without the folder."""
    found = _pending_now(mail, folder, state, known)
    if found is not None and since is not None:
        found[0].window = mail.uids_since(folder.name, since)
    return found


def _pending_now(
    mail: MailSession, folder: DeviceFolder, state: SyncState, known: dict[int, int]
) -> tuple[Pending, FolderStatus] | None:
    incremental = state.pending is not None and state.highestmodseq > 0
    changes = mail.changes_since(
        folder.name, uidvalidity=state.uidvalidity, modseq=state.highestmodseq if incremental else 0
    )
    if changes is None:  # no QRESYNC: the whole folder, every time
        listing = mail.folder_flags(folder.name)
        if listing.uidvalidity != state.uidvalidity:
            return None
        status = FolderStatus(
            uidvalidity=listing.uidvalidity,
            uidnext=listing.uidnext,
            messages=listing.messages,
            highestmodseq=listing.highestmodseq,
        )
        return _difference(known, {uid: flag_bits(f) for uid, f in listing.flags.items()}), status
    if changes.status.uidvalidity != state.uidvalidity:
        return None
    if incremental and changes.status.highestmodseq < state.highestmodseq:
        # The server went back (its indexes rebuilt): what it says changed since cannot be
        # trusted, the folder is listed again.
        changes = mail.changes_since(folder.name, uidvalidity=state.uidvalidity, modseq=0)
        if changes is None or changes.status.uidvalidity != state.uidvalidity:
            return None
        incremental = False
    if not incremental:
        current = {uid: flag_bits(f) for uid, f in changes.flags.items()}
        return _difference(known, current), changes.status
    pending = Pending.of(state.pending or {})
    vanished = changes.vanished_among([*known, *pending.added]) if changes.vanished else set()
    return _merged(known, pending, changes.flags, vanished), changes.status
