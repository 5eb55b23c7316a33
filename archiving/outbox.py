"""The journaling outbox's drain: blobs journaled into archive_archiveblobpending (in the
transaction that archived their message, see archiving.journaling) are written into the blob
store, durably, then their outbox rows deleted; every minute (beat) and at the end of a bench.

Rows are claimed with FOR UPDATE SKIP LOCKED, so several workers drain side by side and the
purge (which deletes a blob row, cascading to its outbox row) waits for a claimed row. Until a
row is drained, archiving.blobstore reads the bytes from it."""

import logging

from django.db import connection, transaction

from archiving.blobstore import BlobStoreError, blob_store

logger = logging.getLogger(__name__)

_CLAIM_SQL = """
SELECT blob_sha256, data FROM archive_archiveblobpending
ORDER BY created_at LIMIT %s FOR UPDATE SKIP LOCKED
"""


def archive_outbox_drain(*, batch: int = 200, max_batches: int = 100) -> int:
    """Move up to batch × max_batches outbox blobs into the store; returns how many. With the
    store down the rows stay for the next run."""
    store = blob_store()
    total = 0
    for _ in range(max_batches):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(_CLAIM_SQL, [batch])
                rows = cursor.fetchall()
                done = []
                for sha256, data in rows:
                    try:
                        store.ensure(sha256, bytes(data))
                    except BlobStoreError as exc:
                        logger.warning("archive outbox: %s", exc)
                        break
                    done.append(sha256)
                if done:
                    cursor.execute(
                        "DELETE FROM archive_archiveblobpending WHERE blob_sha256 = ANY(%s)", [done]
                    )
        total += len(done)
        if len(rows) < batch or len(done) < len(rows):
            break
    return total
