"""Journaling: the MX and the submission server hand every accepted message to
`archive_journal` before they deliver or queue any copy, and answer 250 only after it returned.

When it returns, the message is durable in the archive of every archived mailbox concerned: the
blob fsynced in the blob store, the entries committed with synchronous_commit on. When it
raises (blob store or database down), nothing was delivered yet: the server answers 4xx and the
sender retries. A retry (same sender and original bytes: the same `fingerprint`) is archived
once per archive and folder (`archived_message_once_per_folder`).

Concurrency: the blob's row is locked (INSERT … ON CONFLICT DO UPDATE) before the object is
written and until the entries are committed, so the purge (which deletes a blob's row, then its
object, in one transaction) can never delete an object a new entry is about to reference. The
archives' rows are locked in id order (their chain heads), so concurrent messages to the same
archive append to its chain one after the other."""

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from archiving import chain
from archiving.blobstore import blob_store
from archiving.extract import document_of
from archiving.models import ArchivedMessage

RECEIVED = ArchivedMessage.Folder.RECEIVED
SENT = ArchivedMessage.Folder.SENT


@dataclass(frozen=True)
class Journaled:
    entries: int  # new entries written by this call (0 for a retry already archived)
    blob_sha256: str = ""


# Table names are the models' (app label "archive"); tests/archiving checks they match.
_TARGETS_SQL = (
    "SELECT mailbox_id, archive_id FROM archive_archiveplan "
    "WHERE mailbox_id = ANY(%s) AND archive_id IS NOT NULL"
)

_INSERT_SQL = """
INSERT INTO archive_archivedmessage (archive_id, seq, folder, fingerprint, blob_sha256, archived_at,
                     message_date, message_id, sender, recipients, subject, size, attachment_names,
                     entry_hash,
                     prev_hash, search)
VALUES (%(archive)s, %(seq)s, %(folder)s, %(fingerprint)s, %(blob)s, %(archived_at)s, %(message_date)s,
        %(message_id)s, %(sender)s, %(recipients)s, %(subject)s, %(size)s, %(attachments)s::jsonb,
        %(entry_hash)s, %(prev_hash)s,
        setweight(to_tsvector('italian', %(head)s), 'A')
        || setweight(to_tsvector('english', %(head)s), 'A')
        || setweight(to_tsvector('italian', %(body)s), 'B')
        || setweight(to_tsvector('english', %(body)s), 'B'))
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

    with transaction.atomic():
        with connection.cursor() as cursor:
            # Durable whatever the connection's default (smtpd's bookkeeping rows run without).
            cursor.execute("SET LOCAL synchronous_commit = on")
            cursor.execute(
                "INSERT INTO archive_archiveblob (sha256, size, stored_size, created_at) "
                "VALUES (%s, %s, 0, %s) ON CONFLICT (sha256) DO UPDATE SET sha256 = EXCLUDED.sha256 "
                "RETURNING stored_size",
                [sha256, len(data), at],
            )
            (stored_size,) = cursor.fetchone()
            # Written (or found) while the row is locked: see the module docstring.
            stored = store.ensure(sha256, data)
            if stored_size != stored:
                cursor.execute(
                    "UPDATE archive_archiveblob SET stored_size = %s WHERE sha256 = %s", [stored, sha256]
                )
            archive_ids = sorted({archive_id for archive_id, _ in targets})
            cursor.execute(
                "SELECT id, head_seq, head_hash FROM archive_archive "
                "WHERE id = ANY(%s) AND removed_at IS NULL ORDER BY id FOR UPDATE",
                [archive_ids],
            )
            heads = {row[0]: [row[1], row[2]] for row in cursor.fetchall()}
            cursor.execute(
                "SELECT archive_id, folder FROM archive_archivedmessage "
                "WHERE fingerprint = %s AND archive_id = ANY(%s)",
                [fingerprint, archive_ids],
            )
            done = set(cursor.fetchall())
            written = 0
            changed: set[int] = set()
            for archive_id, folder in sorted(targets):
                if archive_id not in heads or (archive_id, folder) in done:
                    continue
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
                    _INSERT_SQL,
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
                        "body": doc.body_text,
                    },
                )
                heads[archive_id] = [seq, link]
                changed.add(archive_id)
                written += 1
            for archive_id in sorted(changed):
                seq, link = heads[archive_id]
                cursor.execute(
                    "UPDATE archive_archive SET head_seq = %s, head_hash = %s WHERE id = %s",
                    [seq, link, archive_id],
                )
                cursor.execute(
                    "INSERT INTO archive_archivedayhead (archive_id, day, seq, entry_hash) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT (archive_id, day) "
                    "DO UPDATE SET seq = EXCLUDED.seq, entry_hash = EXCLUDED.entry_hash "
                    "WHERE EXCLUDED.seq > archive_archivedayhead.seq",
                    [archive_id, day, seq, link],
                )
    return Journaled(entries=written, blob_sha256=sha256)
