"""The import wizard: a live mailbox's folders copied into its archive (Received or Sent).

    folders = import_folders(mailbox)               # names, labels, counts, pre-mapped targets
    job = import_start(mailbox=..., mapping={"INBOX": "received", "Sent": "sent"}, actor=...)
    # a Celery job (archiving.tasks.archive_import_run, queue "archive") runs import_run(job.pk)

Mail is read through mailstore (the only IMAP code), the master login, never marking anything
seen. Each batch of messages is journaled with the MX's code (archiving.journaling: the same
blob store, chain and de-duplication by (archive, folder, fingerprint)) and the job's progress
(the last UID done in the folder, the counts) is saved IN THE SAME TRANSACTION: after a kill -9
the batch either committed whole, progress included, or not at all, so the job resumes at the
first UID not committed, and the counts are exact. Were progress ever behind (it is not), the
fingerprint would still refuse a second copy.

A job is run by one worker at a time: a PostgreSQL advisory lock held by the worker's database
session, released by PostgreSQL when the worker dies. Celery redelivers the task of a killed
worker (acks_late, reject_on_worker_lost); a restarted worker resumes every unfinished job
(worker_ready in archiving.tasks), and beat re-queues a job idle for IMPORT_STALE_SECONDS.

Messages older than the retention (their IMAP arrival date before the archive's expiry cutoff)
are skipped: the purge would delete them at once. Imported entries are archived now: they
expire at the import date plus the retention."""

import datetime as dt
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from archiving.journaling import RECEIVED, SENT, archive_journal_into
from archiving.models import Archive, ArchiveImport, ArchivePlan
from archiving.retention import expiry_cutoff
from core.audit import audit_record
from domains.models import Mailbox
from mailstore.errors import MailstoreError, NotFound
from mailstore.imap import LiveMailbox
from mailstore.reader import mail_session

logger = logging.getLogger(__name__)

IGNORE = "ignore"
TARGETS = [
    (RECEIVED, gettext_lazy("Received")),
    (SENT, gettext_lazy("Sent")),
    (IGNORE, gettext_lazy("Ignore")),
]
# Pre-mapped: the special folders by their special use; any other folder is received mail.
DEFAULT_TARGETS = {"INBOX": RECEIVED, "Sent": SENT, "Drafts": IGNORE, "Junk": IGNORE, "Trash": IGNORE}
IMPORT_STALE_SECONDS = 120
_LOCK_CLASS = 0x4172_6349  # pg advisory lock namespace of the imports ("ArcI")


@dataclass(frozen=True)
class ImportFolder:
    name: str
    label: str
    depth: int
    messages: int
    target: str


def _source(address: str) -> LiveMailbox:
    return LiveMailbox(address, client_name="mailsuite-archive-import")


def import_folders(mailbox: Mailbox) -> list[ImportFolder]:
    """The live mailbox's selectable folders with their message counts and pre-mapped targets.
    Raises mailstore.errors.MailstoreError when the store cannot be reached."""
    with mail_session(_source(mailbox.address)) as mail:
        tree = mail.folder_tree(counts=True)
    return [
        ImportFolder(
            name=f.name,
            label=f.label,
            depth=f.depth,
            messages=f.messages,
            target=DEFAULT_TARGETS.get(f.special, RECEIVED),
        )
        for f in tree
        if f.selectable
    ]


def active_import(archive: Archive) -> ArchiveImport | None:
    return archive.imports.filter(state__in=[ArchiveImport.State.QUEUED, ArchiveImport.State.RUNNING]).first()


def import_start(
    *, mailbox: Mailbox, mapping: dict[str, str], actor: Any | None = None, notify: list[str] | None = None
) -> ArchiveImport:
    """Queue an import of the mapped folders into the mailbox's archive. `mapping` maps folder
    names (from import_folders) to "received", "sent" or "ignore"; unknown names are refused."""
    plan = (
        ArchivePlan.objects.filter(mailbox=mailbox, archive__isnull=False).select_related("archive").first()
    )
    if plan is None:
        raise ValidationError({"__all__": [_("This mailbox has no archive.")]})
    folders = {f.name: f for f in import_folders(mailbox)}
    chosen = []
    for name, target in mapping.items():
        if name not in folders:
            raise ValidationError({"__all__": [_("The folder %(name)s does not exist.") % {"name": name}]})
        if target not in (RECEIVED, SENT, IGNORE):
            raise ValidationError({"__all__": [_("Choose Received, Sent or Ignore for each folder.")]})
        if target != IGNORE:
            chosen.append(folders[name])
    if not chosen:
        raise ValidationError({"__all__": [_("Choose at least one folder to import.")]})
    progress = [
        {
            "name": f.name,
            "label": f.label,
            "target": mapping[f.name],
            "total": f.messages,
            "done": 0,
            "last_uid": 0,
            "imported": 0,
            "duplicates": 0,
            "too_old": 0,
        }
        for f in folders.values()
        if f in chosen
    ]
    recipients = sorted({a for a in (notify or []) if a})
    try:
        with transaction.atomic():
            job = ArchiveImport.objects.create(
                archive=plan.archive,
                mailbox=mailbox,
                created_by=actor if getattr(actor, "pk", None) else None,
                notify=recipients,
                progress=progress,
            )
            audit_record(
                actor=actor,
                action="archive.import",
                domain=mailbox.domain,
                target=mailbox.address,
                after={f["name"]: f["target"] for f in progress},
            )
            transaction.on_commit(lambda: enqueue(job.pk))
    except IntegrityError as exc:
        raise ValidationError({"__all__": [_("An import of this archive is already running.")]}) from exc
    return job


def enqueue(job_id: int) -> None:
    from archiving.tasks import archive_import_run

    archive_import_run.apply_async((job_id,), queue=settings.ARCHIVE_IMPORT_QUEUE)


def _try_lock(job_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_CLASS, job_id])
        return bool(cursor.fetchone()[0])


def _unlock(job_id: int) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_CLASS, job_id])
    except Exception:  # noqa: BLE001 - the session is gone, and the lock with it
        logger.warning("archive import %s: could not release its lock", job_id)


def import_run(job_id: int) -> str:
    """Run (or resume) the import `job_id` to its end. Idempotent: a finished job, or one
    another worker is running, returns at once."""
    if not _try_lock(job_id):
        return "busy"
    try:
        job = ArchiveImport.objects.select_related("archive").filter(pk=job_id).first()
        if job is None or job.state in (ArchiveImport.State.DONE, ArchiveImport.State.FAILED):
            return "finished"
        if job.archive.removed_at is not None:
            _finish(job, ArchiveImport.State.FAILED, _("The archive was removed."))
            return "failed"
        job.state = ArchiveImport.State.RUNNING
        job.save(update_fields=["state", "updated_at"])
        try:
            for index in range(len(job.progress)):
                _import_folder(job, index)
        except MailstoreError as exc:
            logger.warning("archive import %s: %s", job_id, exc)
            _finish(
                job,
                ArchiveImport.State.FAILED,
                _("The mailbox could not be read: %(error)s") % {"error": exc},
            )
            return "failed"
        _finish(job, ArchiveImport.State.DONE, "")
        return "done"
    finally:
        _unlock(job_id)


def _import_folder(job: ArchiveImport, index: int) -> None:
    batch = settings.ARCHIVE_IMPORT_BATCH
    pause = settings.ARCHIVE_IMPORT_PAUSE
    entry = job.progress[index]
    address = job.archive.address
    with mail_session(_source(address)) as mail:
        try:
            uids = mail.uids_after(entry["name"], entry["last_uid"])
        except NotFound:  # the folder was deleted since the wizard: nothing left to import
            uids = []
        entry["total"] = entry["done"] + len(uids)
        for start in range(0, len(uids), batch):
            chunk = uids[start : start + batch]
            messages = mail.messages_raw(entry["name"], chunk)
            cutoff = expiry_cutoff(now=timezone.now(), retention_years=job.archive.retention_years)
            with transaction.atomic():
                for message in messages:
                    if _arrived(message) < cutoff:
                        entry["too_old"] += 1
                        continue
                    written = archive_journal_into(
                        archive_id=job.archive_id,
                        folder=entry["target"],
                        data=message.raw,
                        fingerprint=hashlib.sha256(message.raw).hexdigest(),
                    )
                    entry["imported" if written.entries else "duplicates"] += 1
                entry["done"] += len(chunk)  # expunged meanwhile: done too
                entry["last_uid"] = chunk[-1]
                job.save(update_fields=["progress", "updated_at"])
            if pause:
                time.sleep(pause)
    job.save(update_fields=["progress", "updated_at"])


def _arrived(message) -> dt.datetime:
    when = message.internal_date
    if when is None:
        return timezone.now()
    if timezone.is_naive(when):  # imapclient gives local time without a zone unless told
        when = timezone.make_aware(when)
    return when


def _finish(job: ArchiveImport, state: str, error: str) -> None:
    job.state = state
    job.error = error
    job.finished_at = timezone.now()
    job.save(update_fields=["state", "error", "finished_at", "updated_at"])
    if job.notify:
        t = job.totals()
        subject = _("Archive import of %(address)s: finished") % {"address": job.archive.address}
        if state == ArchiveImport.State.FAILED:
            subject = _("Archive import of %(address)s: stopped") % {"address": job.archive.address}
        body = (
            _(
                "Messages imported: %(imported)d\n"
                "Already in the archive: %(duplicates)d\n"
                "Skipped, older than the retention: %(too_old)d\n"
                "Messages read: %(done)d of %(total)d"
            )
            % t
        )
        if error:
            body += "\n\n" + error
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, job.notify)
        except OSError:
            logger.exception("archive import %s: the email with the counts was not sent", job.pk)


def stale_imports(*, now: dt.datetime | None = None, all_unfinished: bool = False) -> list[int]:
    """Unfinished jobs to (re)queue: every one at a worker's start, the idle ones otherwise."""
    jobs = ArchiveImport.objects.filter(state__in=[ArchiveImport.State.QUEUED, ArchiveImport.State.RUNNING])
    if not all_unfinished:
        now = now or timezone.now()
        jobs = jobs.filter(updated_at__lt=now - dt.timedelta(seconds=IMPORT_STALE_SECONDS))
    return list(jobs.order_by("pk").values_list("pk", flat=True))


def import_status(job: ArchiveImport) -> dict[str, Any]:
    """What the progress page polls (JSON)."""
    totals = job.totals()
    return {
        "state": job.state,
        "state_label": str(job.get_state_display()),
        "percent": job.percent,
        "finished": job.state in (ArchiveImport.State.DONE, ArchiveImport.State.FAILED),
        "error": job.error,
        **totals,
        "folders": [
            {
                k: f.get(k, 0)
                for k in ("label", "target", "total", "done", "imported", "duplicates", "too_old")
            }
            for f in job.progress
        ],
    }
