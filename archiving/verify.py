"""Checking the archives: every chain link and every blob (`manage.py archive_verify`).

For each archive, in sequence order from the purge marker: the sequence has no gap, each entry
names the previous entry's hash, its own hash is what its blob hash and canonical metadata give,
the last entry is the archive's recorded head, each recorded day head matches the entry it names;
then every referenced blob is read back and its SHA-256 compared with its name. The first break
of each archive is reported (what follows a break cannot be trusted anyway)."""

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from archiving.blobstore import BlobStoreError, blob_store
from archiving.chain import hash_of_entry
from archiving.models import Archive, ArchiveBlob, ArchivedMessage


@dataclass(frozen=True)
class Break:
    archive_id: int | None  # None for a blob
    seq: int | None
    problem: str

    def __str__(self) -> str:
        where = f"archive {self.archive_id} entry {self.seq}" if self.archive_id else "blob"
        return f"{where}: {self.problem}"


def chain_break(archive: Archive) -> Break | None:
    expected_seq, expected_prev = archive.purged_seq + 1, archive.purged_hash
    heads = {h.seq: h for h in archive.day_heads.all()}
    entries = ArchivedMessage.objects.filter(archive=archive).order_by("seq").iterator(chunk_size=2000)
    last_seq, last_hash = archive.purged_seq, archive.purged_hash
    for entry in entries:
        if entry.seq != expected_seq:
            return Break(archive.pk, expected_seq, f"entry missing (next entry present is {entry.seq})")
        if entry.prev_hash != expected_prev:
            return Break(archive.pk, entry.seq, "does not link to the previous entry")
        if hash_of_entry(entry) != entry.entry_hash:
            return Break(archive.pk, entry.seq, "hash does not match its metadata and blob")
        head = heads.get(entry.seq)
        if head is not None and head.entry_hash != entry.entry_hash:
            return Break(archive.pk, entry.seq, f"differs from the chain head recorded for {head.day}")
        expected_seq, expected_prev = entry.seq + 1, entry.entry_hash
        last_seq, last_hash = entry.seq, entry.entry_hash
    if (last_seq, last_hash) != (archive.head_seq, archive.head_hash):
        return Break(archive.pk, last_seq + 1, f"chain ends at entry {last_seq}, head is {archive.head_seq}")
    for head in heads.values():
        if head.seq > archive.head_seq:
            return Break(archive.pk, head.seq, f"chain head recorded for {head.day} is missing")
    return None


def blob_breaks() -> Iterator[Break]:
    store = blob_store()
    for sha256 in ArchiveBlob.objects.order_by("sha256").values_list("sha256", flat=True).iterator():
        try:
            raw = store.get(sha256)
        except BlobStoreError as exc:
            yield Break(None, None, f"{sha256}: unreadable ({exc})")
            continue
        if hashlib.sha256(raw).hexdigest() != sha256:
            yield Break(None, None, f"{sha256}: content does not match its hash")


def archive_verify() -> tuple[int, list[Break]]:
    """(archives checked, breaks: the first of each broken archive, then each bad blob)."""
    breaks: list[Break] = []
    count = 0
    for archive in Archive.objects.order_by("pk"):
        count += 1
        found = chain_break(archive)
        if found is not None:
            breaks.append(found)
    breaks.extend(blob_breaks())
    return count, breaks
