"""Exports of archived messages, streamed: a .zip of .eml files with a manifest, or an mbox.

Both are generators of byte chunks that hold at most one message in memory (the caller hands
them to a StreamingHttpResponse, or writes them to a file in a Celery job): the entries are read
from PostgreSQL in chunks, each blob from the store when its turn comes.

The zip's `manifest.json` lets a third party verify the exported messages against the archive's
hash chain with docs/archive_verify_export.py (standard library only, nothing of the suite):

    {"format": "mailsuite-archive-export-v1",
     "hash": how an entry's hash is computed (archiving.chain),
     "archive": {"id", "address"}, "exported_at",
     "head": {"seq", "hash"}            the chain head when the export started,
     "messages": [{"file", "seq", "folder", "entry_hash", "prev_hash", "blob_sha256",
                   "canonical"}]       per message; `canonical` is the exact canonical metadata
                                       (a JSON string) its entry hash covers,
     "chain": [[seq, prev_hash, entry_hash], ...]   every entry from the first exported one to
                                       the head: the links, without the metadata of messages
                                       not exported (nothing of them leaks),
     "day_heads": [{"day", "seq", "hash"}]         the recorded day heads in that range}

The script recomputes each message's SHA-256 and entry hash, checks that each one sits in the
listed chain at its sequence number, that the chain is linked without a gap up to the head, and
that the day heads match. The hashes of entries that were not exported are taken as listed:
compare the head (or a day head) with one kept independently.

The zip and the mbox framing are core.streaming's (shared with the mailbox exports). The mbox
(mboxrd: a line starting with ">*From " gets one more ">") carries no manifest:
verification needs the exact bytes, which the zip keeps.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from email.utils import parseaddr

from django.db.models import QuerySet
from django.utils import timezone

from archiving.blobstore import blob_store
from archiving.chain import canonical_metadata
from archiving.models import Archive, ArchiveDayHead, ArchivedMessage
from core.streaming import StreamingZip, mbox_message_chunks

FORMAT = "mailsuite-archive-export-v1"
HASH_RULE = 'SHA-256("mailsuite-archive-v1\\n" + prev_hash + "\\n" + blob_sha256 + "\\n" + canonical)'
CHUNK = 500  # entries read from PostgreSQL at a time


def entry_file_name(entry: ArchivedMessage) -> str:
    return f"{entry.folder}/{entry.seq:09d}.eml"


def canonical_of(entry: ArchivedMessage) -> str:
    return canonical_metadata(
        archive_id=entry.archive_id,
        seq=entry.seq,
        folder=entry.folder,
        fingerprint=entry.fingerprint,
        archived_at=entry.archived_at,
        message_date=entry.message_date,
        message_id=entry.message_id,
        sender=entry.sender,
        recipients=entry.recipients,
        subject=entry.subject,
        size=entry.size,
        attachment_names=entry.attachment_names,
    ).decode("utf-8")


def _chunked(entries: QuerySet[ArchivedMessage]) -> Iterator[ArchivedMessage]:
    return entries.defer("search").iterator(chunk_size=CHUNK)


def zip_stream(archive: Archive, entries: QuerySet[ArchivedMessage], *, progress=None) -> Iterator[bytes]:
    """The .zip of `entries` (in chain order) and its manifest, chunk by chunk. `progress(n)`
    is called after each message."""
    archive = Archive.objects.get(pk=archive.pk)  # the head as it is now
    head_seq, head_hash = archive.head_seq, archive.head_hash
    entries = entries.filter(seq__lte=head_seq)
    store = blob_store()
    out = StreamingZip()
    done = 0
    first_seq = None
    for entry in _chunked(entries):
        first_seq = entry.seq if first_seq is None else first_seq
        with out.member(entry_file_name(entry), when=_local(entry)) as member:
            member.write(store.get(entry.blob_id))
        done += 1
        if progress is not None:
            progress(done)
        yield out.take()
    with out.member("manifest.json", when=timezone.localtime()) as member:
        for piece in _manifest(archive, entries, head_seq, head_hash, first_seq):
            member.write(piece)
            if out.pending() > 1 << 16:
                yield out.take()
    yield out.close()


def _local(entry: ArchivedMessage) -> dt.datetime:
    return timezone.localtime(entry.message_date or entry.archived_at)


def _manifest(
    archive: Archive, entries: QuerySet[ArchivedMessage], head_seq: int, head_hash: str, first_seq: int | None
) -> Iterator[bytes]:
    def dump(value) -> bytes:
        return json.dumps(value, ensure_ascii=False).encode("utf-8")

    yield b'{"format": ' + dump(FORMAT) + b', "hash": ' + dump(HASH_RULE)
    yield b', "archive": ' + dump({"id": archive.pk, "address": archive.address})
    yield b', "exported_at": ' + dump(timezone.now().astimezone(dt.UTC).isoformat())
    yield b', "head": ' + dump({"seq": head_seq, "hash": head_hash})
    yield b', "messages": ['
    for n, entry in enumerate(_chunked(entries)):
        item = {
            "file": entry_file_name(entry),
            "seq": entry.seq,
            "folder": entry.folder,
            "entry_hash": entry.entry_hash,
            "prev_hash": entry.prev_hash,
            "blob_sha256": entry.blob_id,
            "canonical": canonical_of(entry),
        }
        yield (b", " if n else b"") + dump(item)
    yield b'], "chain": ['
    day_heads: list = []
    if first_seq is not None:
        links = (
            ArchivedMessage.objects.filter(archive=archive, seq__gte=first_seq, seq__lte=head_seq)
            .order_by("seq")
            .values_list("seq", "prev_hash", "entry_hash")
            .iterator(chunk_size=5000)
        )
        for n, link in enumerate(links):
            yield (b", " if n else b"") + dump(list(link))
        day_heads = [
            {"day": h.day.isoformat(), "seq": h.seq, "hash": h.entry_hash}
            for h in ArchiveDayHead.objects.filter(
                archive=archive, seq__gte=first_seq, seq__lte=head_seq
            ).order_by("seq")
        ]
    yield b'], "day_heads": ' + dump(day_heads) + b"}"


def mbox_stream(entries: QuerySet[ArchivedMessage], *, progress=None) -> Iterator[bytes]:
    """The mboxrd of `entries`: a "From " line per message, ">From " quoting, LF line ends
    kept as they are in the message (CRLF stays CRLF)."""
    store = blob_store()
    for n, entry in enumerate(_chunked(entries), start=1):
        raw = store.get(entry.blob_id)
        when = (entry.message_date or entry.archived_at).astimezone(dt.UTC)
        if progress is not None:
            progress(n)
        yield from mbox_message_chunks(raw, when=when, sender=parseaddr(entry.sender)[1])
