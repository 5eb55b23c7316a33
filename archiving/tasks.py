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


@shared_task(
    name="archiving.tasks.archive_export_run",
    acks_late=True,
    reject_on_worker_lost=True,
    bind=True,
    max_retries=3,
)
def archive_export_run(self, job_id: int) -> int:
    """A large export (archiving.export_jobs): acknowledged only when done, so a worker killed
    mid-way hands it back; a rerun rebuilds the file. A blob store error is retried."""
    from archiving.blobstore import BlobStoreError
    from archiving.export_jobs import archive_export_build, archive_export_failed

    try:
        return archive_export_build(job_id=job_id).total
    except BlobStoreError as exc:
        if self.request.retries >= self.max_retries:
            archive_export_failed(job_id=job_id, error=str(exc))
            raise
        raise self.retry(exc=exc, countdown=60) from exc


@shared_task(name="archiving.tasks.archive_exports_expire")
def archive_exports_expire() -> int:
    from archiving.export_jobs import archive_exports_expire as expire

    return expire()
