"""Exports too large to stream while the browser waits (more than ARCHIVE_EXPORT_STREAM_MAX
messages): `archive_export_request` records the job (the entries the selectors allowed, at the
time of asking) and queues `archive_export_build` (Celery, queue "archive"), which writes the
same stream as the browser would get (archiving.export) into ARCHIVE_EXPORT_DIR with its
progress, then emails a link valid ARCHIVE_EXPORT_DAYS days.

Idempotent and resumable: the task is acknowledged late, so a worker killed (kill -9) hands it
back to the broker; a rerun rebuilds the file from the start into a `.part` file and renames it
only when complete; a job already done is not rebuilt. `archive_exports_expire` deletes the files
of expired links."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from archiving.export import mbox_stream, zip_stream
from archiving.models import ArchivedMessage, ArchiveExport
from archiving.selectors import ArchiveAccess, export_entries
from core.portals import portal_url

PROGRESS_EVERY = 50


def export_path(job: ArchiveExport) -> Path:
    return Path(settings.ARCHIVE_EXPORT_DIR) / f"{job.token}.{job.format}"


def archive_export_request(*, access: ArchiveAccess, entry_ids: list[int], fmt: str) -> ArchiveExport:
    """Record the job for the entries of `entry_ids` that `access` may export (the selectors
    refuse a headers-only grant) and queue it once the transaction commits."""
    ids = list(export_entries(access, ids=entry_ids).values_list("pk", flat=True))
    email = access.delegate.email if access.delegate is not None else access.address
    with transaction.atomic():
        job = ArchiveExport.objects.create(
            archive=access.archive,
            requested_by=access.actor,
            email=email,
            format=fmt,
            entry_ids=ids,
            total=len(ids),
            token=secrets.token_urlsafe(32),
        )
        transaction.on_commit(lambda: _queue(job.pk))
    return job


def _queue(job_id: int) -> None:
    from archiving.tasks import archive_export_run

    archive_export_run.delay(job_id)


def archive_export_build(*, job_id: int) -> ArchiveExport:
    job = ArchiveExport.objects.select_related("archive").get(pk=job_id)
    if job.status == ArchiveExport.Status.DONE and export_path(job).exists():
        return job
    ArchiveExport.objects.filter(pk=job.pk).update(status=ArchiveExport.Status.RUNNING, done=0)
    path = export_path(job)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    entries = ArchivedMessage.objects.filter(archive=job.archive, pk__in=job.entry_ids).order_by("seq")

    def progress(n: int) -> None:
        if n % PROGRESS_EVERY == 0 or n == job.total:
            ArchiveExport.objects.filter(pk=job.pk).update(done=n)

    chunks = (
        zip_stream(job.archive, entries, progress=progress)
        if job.format == ArchiveExport.Format.ZIP
        else mbox_stream(entries, progress=progress)
    )
    with open(part, "wb") as out:
        for chunk in chunks:
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    part.replace(path)
    now = timezone.now()
    job.status = ArchiveExport.Status.DONE
    job.done = job.total
    job.size = path.stat().st_size
    job.finished_at = now
    job.expires_at = now + timedelta(days=settings.ARCHIVE_EXPORT_DAYS)
    job.save(update_fields=["status", "done", "size", "finished_at", "expires_at"])
    _send_link(job)
    return job


def archive_export_failed(*, job_id: int, error: str) -> None:
    ArchiveExport.objects.filter(pk=job_id).update(status=ArchiveExport.Status.FAILED, error=error[:2000])


def _send_link(job: ArchiveExport) -> None:
    link = portal_url("archive", "archive:export_download", args=[job.archive_id, job.pk, job.token])
    subject = _("Your Archive export is ready")
    body = _(
        "The export of %(n)d messages from the archive of %(address)s is ready.\n\n"
        "Download it (you will be asked to log in) before %(expires)s:\n%(link)s\n"
    ) % {
        "n": job.total,
        "address": job.archive.address,
        "expires": timezone.localtime(job.expires_at).strftime("%Y-%m-%d %H:%M"),
        "link": link,
    }
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [job.email])


def archive_exports_expire() -> int:
    """Delete the files of expired exports; the rows stay (the audit names them)."""
    removed = 0
    for job in ArchiveExport.objects.filter(status=ArchiveExport.Status.DONE, expires_at__lt=timezone.now()):
        export_path(job).unlink(missing_ok=True)
        removed += 1
    return removed
