"""Full-text indexing of message bodies, off the SMTP path.

Journaling indexes an entry's headers and attachment names in the statement that writes it; the
text of its text/plain and text/html parts is added here, in batches: read the blob, extract
the text (archiving.extract), add its Italian and English vectors (weight B), mark the entry
`body_indexed`. Beat runs it every minute (`archive-index`), so a body is searchable within a
minute of its arrival; rows are claimed with SKIP LOCKED, so several workers can share the work."""

import logging

from django.db import connection, transaction

from archiving.blobstore import BlobStoreError, blob_store
from archiving.extract import document_of

logger = logging.getLogger(__name__)

_CLAIM_SQL = """
SELECT id, blob_sha256 FROM archive_archivedmessage WHERE NOT body_indexed
ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED
"""

_INDEX_SQL = """
UPDATE archive_archivedmessage SET body_indexed = true,
    search = coalesce(search, ''::tsvector)
        || setweight(to_tsvector('italian', %(body)s), 'B')
        || setweight(to_tsvector('english', %(body)s), 'B')
WHERE id = %(id)s
"""


def archive_index_pending(*, batch: int = 200, max_batches: int = 50) -> int:
    """Index up to batch × max_batches bodies; returns how many. A blob that cannot be read is
    left for the next run (and `archive_verify` reports it)."""
    store = blob_store()
    total = 0
    for _ in range(max_batches):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(_CLAIM_SQL, [batch])
                rows = cursor.fetchall()
                texts: dict[str, str] = {}
                indexed = 0
                for entry_id, sha256 in rows:
                    if sha256 not in texts:
                        try:
                            texts[sha256] = document_of(store.get(sha256)).body_text
                        except BlobStoreError as exc:
                            logger.warning("archive index: entry %s: %s", entry_id, exc)
                            continue
                    cursor.execute(_INDEX_SQL, {"id": entry_id, "body": texts[sha256]})
                    indexed += 1
        total += indexed
        if len(rows) < batch:
            break
    return total
