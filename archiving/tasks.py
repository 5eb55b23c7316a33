"""Celery tasks of the Archive (queue "archive")."""

from celery import shared_task
from celery.signals import worker_ready
from django.db import OperationalError

from archiving.blobstore import BlobStoreError
from archiving.importing import enqueue, import_run, stale_imports
from archiving.indexing import archive_index_pending
from archiving.outbox import archive_outbox_drain
from archiving.retention import archive_purge
from archiving.services import archive_retention_apply_due


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


@shared_task(name="archiving.tasks.archive_outbox")
def archive_outbox() -> int:
    """Every minute (beat): blobs journaled into the outbox go into the blob store."""
    return archive_outbox_drain()


@shared_task(name="archiving.tasks.archive_retention_apply")
def archive_retention_apply() -> int:
    """Hourly (beat): shortenings of the retention whose 30 days have passed take effect."""
    return archive_retention_apply_due()


@shared_task(
    name="archiving.tasks.archive_import_run",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(BlobStoreError, OperationalError),
    retry_backoff=30,
    max_retries=None,
)
def archive_import_run(job_id: int) -> str:
    """One import wizard job, resumable (archiving.importing)."""
    return import_run(job_id)


@shared_task(name="archiving.tasks.archive_import_resume")
def archive_import_resume() -> list[int]:
    """Every few minutes (beat): re-queue the imports nobody advanced for a while."""
    jobs = stale_imports()
    for job_id in jobs:
        enqueue(job_id)
    return jobs


@worker_ready.connect
def _resume_imports_at_start(sender=None, **kwargs) -> None:
    """A worker restarted after a crash resumes the imports it (or another) left unfinished;
    the advisory lock of archiving.importing lets only one worker run each."""
    try:
        jobs = stale_imports(all_unfinished=True)
    except Exception:  # noqa: BLE001 - a worker starts even if the database is not up yet
        return
    for job_id in jobs:
        enqueue(job_id)
