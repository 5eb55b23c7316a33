"""Journaling: the MX and the submission server hand every accepted message to
`archive_journal` before they deliver or queue any copy, and answer 250 only after it returned.

When it returns, the message is durable in the archive of every archived mailbox concerned: the
entries committed with synchronous_commit on and, in the same transaction, a blob the store does
not hold yet written into the outbox table (archiving.outbox moves it into the store within a
minute; settings.ARCHIVE_BLOB_OUTBOX off: the blob fsynced in the store before commit). The
store is checked writable first, so with it down the MX still answers 4xx. When it
raises (blob store or database down), nothing was delivered yet: the server answers 4xx and the
sender retries. A retry (same sender and original bytes: the same `fingerprint`) is archived
once per archive and folder (`archived_message_once_per_folder`).

Concurrency: the blob's row is locked (INSERT … ON CONFLICT DO UPDATE, in the statement that
writes the entry) before the object is written (or found) and until the entries are committed,
so the purge (which deletes a blob's row, then its object, in one transaction) can never delete
an object a new entry is about to reference. The
archives' rows are locked in id order (their chain heads), then the blob's row, so concurrent
messages to the same archive append to its chain one after the other, without deadlock.

Only the headers and attachment names are indexed here; the text of the body (several
milliseconds of PostgreSQL's time for a long message) is indexed by archiving.indexing, off the
SMTP path, within a minute."""

import datetime as dt
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from archiving import chain
from archiving.blobstore import blob_store
from archiving.extract import document_of
from archiving.models import ArchivedMessage

# Blob writes run here, beside the database statements of the same message.
_writers = ThreadPoolExecutor(max_workers=16, thread_name_prefix="archive-blob")

RECEIVED: str = ArchivedMessage.Folder.RECEIVED.value
SENT: str = ArchivedMessage.Folder.SENT.value


@dataclass(frozen=True)
class Journaled:
    entries: int  # new entries written by this call (0 for a retry already archived)
    blob_sha256: str = ""


# Table names are the models' (app label "archive"); tests/archiving checks they match.
_TARGETS_SQL = (
    "SELECT mailbox_id, archive_id FROM archive_archiveplan "
    "WHERE mailbox_id = ANY(%s) AND archive_id IS NOT NULL"
)

_LOCK_SQL = """
SELECT a.id, a.head_seq, a.head_hash,
       ARRAY(SELECT m.folder FROM archive_archivedmessage m WHERE m.archive_id = a.id AND m.fingerprint = %s),
       set_config('synchronous_commit', 'on', true)
FROM archive_archive a WHERE a.id = ANY(%s) AND a.removed_at IS NULL ORDER BY a.id FOR UPDATE OF a
"""

# The blob's row (locked by DO UPDATE until commit, so the purge cannot delete it meanwhile), the
# entry, the archive's new head and the day's head, in one statement.
_ENTRY_SQL = """
WITH blob AS (
    INSERT INTO archive_archiveblob (sha256, size, stored_size, created_at)
    VALUES (%(blob)s, %(size)s, %(stored_size)s, %(archived_at)s)
    ON CONFLICT (sha256) DO UPDATE SET sha256 = EXCLUDED.sha256
    RETURNING sha256
), pending AS (
    INSERT INTO archive_archiveblobpending (blob_sha256, data, created_at)
    SELECT blob.sha256, %(pending)s::bytea, %(archived_at)s FROM blob WHERE %(pending)s::bytea IS NOT NULL
    ON CONFLICT (blob_sha256) DO NOTHING
), entry AS (
    INSERT INTO archive_archivedmessage (archive_id, seq, folder, fingerprint, blob_sha256, archived_at,
        message_date, message_id, sender, recipients, subject, size, attachment_names, entry_hash,
        prev_hash, body_indexed, search)
    SELECT %(archive)s, %(seq)s, %(folder)s, %(fingerprint)s, blob.sha256, %(archived_at)s, %(message_date)s,
        %(message_id)s, %(sender)s, %(recipients)s, %(subject)s, %(size)s, %(attachments)s::jsonb,
        %(entry_hash)s, %(prev_hash)s, false,
        setweight(to_tsvector('italian', %(head)s), 'A') || setweight(to_tsvector('english', %(head)s), 'A')
    FROM blob
), head AS (
    UPDATE archive_archive SET head_seq = %(seq)s, head_hash = %(entry_hash)s WHERE id = %(archive)s
)
INSERT INTO archive_archivedayhead (archive_id, day, seq, entry_hash)
VALUES (%(archive)s, %(day)s, %(seq)s, %(entry_hash)s)
ON CONFLICT (archive_id, day) DO UPDATE SET seq = EXCLUDED.seq, entry_hash = EXCLUDED.entry_hash
WHERE EXCLUDED.seq > archive_archivedayhead.seq
"""


def archive_journal(
    *,
    data: bytes,
    fingerprint: str,
    received_by: list[int],
    sent_by: int | None = None,
    at: dt.datetime | None = None,
) -> Journaled:
    """Archive `data` (the message as delivered) in the "Received" folder of the archive of each
    mailbox id in `received_by` and in the "Sent" folder of `sent_by`'s, where the mailbox has
    an archive plan. Raises archiving.blobstore.BlobStoreError or a DatabaseError."""
    wanted = set(received_by) | ({sent_by} if sent_by else set())
    if not wanted:
        return Journaled(entries=0)
    with connection.cursor() as cursor:
        cursor.execute(_TARGETS_SQL, [sorted(wanted)])
        archive_of = dict(cursor.fetchall())
    targets: set[tuple[int, str]] = set()
    for mailbox_id in received_by:
        if mailbox_id in archive_of:
            targets.add((archive_of[mailbox_id], RECEIVED))
    if sent_by in archive_of:
        targets.add((archive_of[sent_by], SENT))
    if not targets:
        return Journaled(entries=0)
    return _journal(data=data, fingerprint=fingerprint, targets=targets, at=at or timezone.now())


def _journal(*, data: bytes, fingerprint: str, targets: set[tuple[int, str]], at: dt.datetime) -> Journaled:
    sha256 = hashlib.sha256(data).hexdigest()
    doc = document_of(data)
    store = blob_store()
    day = timezone.localdate(at)

    compressed = store.compress(data)
    with transaction.atomic():
        with connection.cursor() as cursor:
            # One round trip: lock the archives' heads (id order), see what a previous attempt of
            # this message already archived, and make this transaction durable whatever the
            # connection's default (smtpd's bookkeeping rows run without synchronous commit).
            # An attempt committing while we wait for the lock is not seen here; the unique
            # constraint then refuses the duplicate (451, and the retry finds it archived).
            cursor.execute(_LOCK_SQL, [fingerprint, sorted({archive_id for archive_id, _ in targets})])
            heads = {row[0]: (row[1], row[2], set(row[3])) for row in cursor.fetchall()}
            todo = sorted((a, f) for a, f in targets if a in heads and f not in heads[a][2])
            if not todo:  # a retry already archived (or the archive removed meanwhile)
                return Journaled(entries=0, blob_sha256=sha256)
            if settings.ARCHIVE_BLOB_OUTBOX:
                written = _journal_outbox(
                    cursor, store, todo, heads, doc, data, sha256, compressed, fingerprint, at, day
                )
            else:
                written = _journal_direct(
                    cursor, store, todo, heads, doc, data, sha256, compressed, fingerprint, at, day
                )
    return Journaled(entries=written, blob_sha256=sha256)


def _journal_outbox(cursor, store, todo, heads, doc, data, sha256, compressed, fingerprint, at, day) -> int:
    """The default: a blob not yet in the store goes into the outbox table in this very
    transaction (one WAL flush at commit instead of a file fsync and a directory fsync); the
    store is only looked at (one stat) and checked writable, so a store that is down still
    answers 4xx. archiving.outbox moves the bytes into the store within a minute."""
    store.check()
    pending = None if store.has(sha256) else compressed
    written = _write_entries(
        cursor,
        todo=todo,
        heads=heads,
        doc=doc,
        data=data,
        sha256=sha256,
        compressed_size=len(compressed),
        fingerprint=fingerprint,
        at=at,
        day=day,
        pending=pending,
    )
    if pending is None and not store.has(sha256):
        # The purge deleted the unreferenced object after our look and before our statement
        # locked its row: keep the bytes in the outbox after all.
        cursor.execute(
            "INSERT INTO archive_archiveblobpending (blob_sha256, data, created_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (blob_sha256) DO NOTHING",
            [sha256, compressed, at],
        )
    return written


def _journal_direct(cursor, store, todo, heads, doc, data, sha256, compressed, fingerprint, at, day) -> int:
    """ARCHIVE_BLOB_OUTBOX off: the object is written (fsynced) into the store before commit."""
    # The object's fsyncs overlap the entries' statement (the blob's row is locked by it;
    # the write is joined before commit, so a failed write rolls everything back).
    pending = _writers.submit(store.ensure, sha256, compressed)
    try:
        written = _write_entries(
            cursor,
            todo=todo,
            heads=heads,
            doc=doc,
            data=data,
            sha256=sha256,
            compressed_size=len(compressed),
            fingerprint=fingerprint,
            at=at,
            day=day,
            pending=None,
        )
    finally:
        pending.result()
    # The purge may have deleted an unreferenced copy of this object after our write and
    # before our statement locked its row: look again, now that the row is ours.
    store.ensure(sha256, compressed)
    return written


def _write_entries(
    cursor, *, todo, heads, doc, data, sha256, compressed_size, fingerprint, at, day, pending
) -> int:
    written = 0
    for archive_id, folder in todo:
        seq, prev = heads[archive_id][0] + 1, heads[archive_id][1]
        canonical = chain.canonical_metadata(
            archive_id=archive_id,
            seq=seq,
            folder=str(folder),
            fingerprint=fingerprint,
            archived_at=at,
            message_date=doc.message_date,
            message_id=doc.message_id,
            sender=doc.sender,
            recipients=doc.recipients,
            subject=doc.subject,
            size=len(data),
            attachment_names=doc.attachment_names,
        )
        link = chain.entry_hash(prev_hash=prev, blob_sha256=sha256, canonical=canonical)
        cursor.execute(
            _ENTRY_SQL,
            {
                "archive": archive_id,
                "seq": seq,
                "folder": str(folder),
                "fingerprint": fingerprint,
                "blob": sha256,
                "archived_at": at,
                "message_date": doc.message_date,
                "message_id": doc.message_id,
                "sender": doc.sender,
                "recipients": doc.recipients,
                "subject": doc.subject,
                "size": len(data),
                "attachments": json.dumps(doc.attachment_names),
                "entry_hash": link,
                "prev_hash": prev,
                "head": doc.header_text,
                "day": day,
                "stored_size": compressed_size,
                "pending": pending if written == 0 else None,
            },
        )
        heads[archive_id] = (seq, link, heads[archive_id][2])
        written += 1
    return written


def archive_journal_into(
    *, archive_id: int, folder: str, data: bytes, fingerprint: str, at: dt.datetime | None = None
) -> Journaled:
    """Archive `data` in one folder of one archive (the import wizard, archiving.importing):
    the same chain, blob store and de-duplication (archive, folder, fingerprint) as the MX's."""
    if folder not in (RECEIVED, SENT):
        raise ValueError(f"unknown archive folder {folder!r}")
    return _journal(
        data=data, fingerprint=fingerprint, targets={(archive_id, folder)}, at=at or timezone.now()
    )
