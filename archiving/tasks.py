"""Celery tasks of the Archive (queue "archive")."""

from celery import shared_task

from archiving.indexing import archive_index_pending
from archiving.retention import archive_purge


@shared_task(name="archiving.tasks.archive_purge_daily")
def archive_purge_daily() -> dict:
    """Daily (beat, Europe/Rome): idempotent, a rerun finds nothing more to delete."""
    result = archive_purge()
    return {"entries": result.entries, "blobs": result.blobs, "archives": result.archives}


@shared_task(name="archiving.tasks.archive_index")
def archive_index() -> int:
    """Every minute (beat): the bodies journaled since the last run become searchable."""
    return archive_index_pending()
