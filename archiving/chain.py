"""The hash chain of an archive: each entry's hash covers the previous entry's hash, the blob's
hash and the entry's canonical metadata, so changing, removing, inserting or reordering an entry
breaks every hash after it (`archiving.verify` checks it; the day heads pin it in time).

    entry_hash = SHA-256( "mailsuite-archive-v1\\n" prev_hash "\\n" blob_sha256 "\\n" canonical )

where `canonical` is the UTF-8 JSON of the entry's metadata (keys sorted, no spaces, times in
UTC ISO 8601 with microseconds, see `canonical_metadata`). The first entry's prev_hash is "";
after a purge the first remaining entry still names the hash of the last purged one, which the
archive keeps (`Archive.purged_seq`, `Archive.purged_hash`)."""

import datetime as dt
import hashlib
import json
from typing import Any

PREFIX = b"mailsuite-archive-v1\n"


def _time(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def canonical_metadata(
    *,
    archive_id: int,
    seq: int,
    folder: str,
    fingerprint: str,
    archived_at: dt.datetime,
    message_date: dt.datetime | None,
    message_id: str,
    sender: str,
    recipients: str,
    subject: str,
    size: int,
    attachment_names: list[str],
) -> bytes:
    fields: dict[str, Any] = {
        "archive": archive_id,
        "seq": seq,
        "folder": folder,
        "fingerprint": fingerprint,
        "archived_at": _time(archived_at),
        "message_date": _time(message_date),
        "message_id": message_id,
        "from": sender,
        "to_cc": recipients,
        "subject": subject,
        "size": size,
        "attachments": list(attachment_names),
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(*, prev_hash: str, blob_sha256: str, canonical: bytes) -> str:
    digest = hashlib.sha256(PREFIX)
    digest.update(prev_hash.encode("ascii") + b"\n" + blob_sha256.encode("ascii") + b"\n" + canonical)
    return digest.hexdigest()


def hash_of_entry(entry) -> str:
    """The hash an ArchivedMessage row should carry, from its own fields."""
    return entry_hash(
        prev_hash=entry.prev_hash,
        blob_sha256=entry.blob_id,
        canonical=canonical_metadata(
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
        ),
    )
