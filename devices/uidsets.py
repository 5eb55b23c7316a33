"""The UIDs of a sync state, stored as IMAP sequence sets ("1:4999,5001").

A device that holds a 10,000-message folder holds UIDs that are nearly all consecutive: as a
JSON object of one key per UID the state was ~110 KB, parsed, converted and written back on
every Sync (a Sync page of a big folder spent more time on that than on its messages,
bench/activesync.py --sync-only); as ranges it is a few bytes."""

from __future__ import annotations

from mailstore.reader import uid_set


def uids_pack(uids) -> str:
    """ "1:3,7" for {1, 2, 3, 7}; "" for none."""
    return uid_set(list(uids))


def uids_unpack(text: str) -> list[int]:
    """The UIDs of a sequence set, ascending."""
    out: list[int] = []
    for part in (text or "").split(","):
        low, _, high = part.partition(":")
        if low.isdigit():
            first, last = int(low), int(high) if high.isdigit() else int(low)
            out.extend(range(min(first, last), max(first, last) + 1))
    return sorted(out)


def items_pack(known: dict[int, int]) -> dict[str, str]:
    """UID → read/flag bits as {bits: sequence set}: {"0": "1:4999", "1": "5000:5002"}."""
    by_bits: dict[int, list[int]] = {}
    for uid, bits in known.items():
        by_bits.setdefault(bits, []).append(uid)
    return {str(bits): uids_pack(uids) for bits, uids in sorted(by_bits.items())}


def items_unpack(stored: dict[str, str]) -> dict[int, int]:
    known: dict[int, int] = {}
    for bits, text in (stored or {}).items():
        known.update(dict.fromkeys(uids_unpack(text), int(bits)))
    return known
