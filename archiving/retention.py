"""Retention: the daily purge (beat, Europe/Rome).

A message archived on local day D with a retention of N years is kept through the whole local
day D + N years (its expiry day; 29 February + N years is 1 March when that year has no 29
February) and deleted by the first purge on the day after: never a day early (it was kept N
full years), never a day late (the purge runs every day, shortly after midnight). A removed
archive is kept REMOVED_ARCHIVE_KEPT_DAYS after its removal, then deleted whole; the archive of a
deleted mailbox, once its last message has expired. A legal hold suspends all of it.

The purge works in batches (settings.ARCHIVE_PURGE_BATCH entries per transaction), oldest
first, advancing the archive's purge marker (`purged_seq`, `purged_hash`: the last entry
removed) so the chain of what remains still verifies. Blobs no entry references any more are
deleted after the entries, row and object in one transaction (see archiving.journaling for the
locking that makes this safe against a concurrent journaling of the same bytes)."""

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from archiving.blobstore import blob_store
from archiving.models import Archive, ArchivedMessage
from billing.services import charge_deleted_archive_removed
from core.days import local_midnight

logger = logging.getLogger(__name__)

REMOVED_ARCHIVE_KEPT_DAYS = 30


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a year without one
        return dt.date(day.year + years, 3, 1)


def first_kept_day(*, today: dt.date, retention_years: int) -> dt.date:
    """The earliest archived day still kept on local day `today`: the smallest D whose expiry
    day add_years(D, N) is today or later."""
    try:
        day = today.replace(year=today.year - retention_years)
    except ValueError:
        day = dt.date(today.year - retention_years, 3, 1)
    while add_years(day - dt.timedelta(days=1), retention_years) >= today:
        day -= dt.timedelta(days=1)
    while add_years(day, retention_years) < today:
        day += dt.timedelta(days=1)
    return day


def expiry_cutoff(*, now: dt.datetime, retention_years: int) -> dt.datetime:
    """Entries archived before this instant have expired at `now`."""
    today = timezone.localdate(now)
    return local_midnight(first_kept_day(today=today, retention_years=retention_years))


@dataclass
class PurgeResult:
    entries: int = 0
    blobs: int = 0
    archives: int = 0


def archive_purge(*, now: dt.datetime | None = None, batch: int | None = None) -> PurgeResult:
    now = now or timezone.now()
    batch = batch or settings.ARCHIVE_PURGE_BATCH
    result = PurgeResult()
    removed_before = local_midnight(timezone.localdate(now) - dt.timedelta(days=REMOVED_ARCHIVE_KEPT_DAYS))
    for archive in Archive.objects.filter(legal_hold=False).order_by("pk"):
        whole = archive.removed_at is not None and archive.removed_at < removed_before
        cutoff = None if whole else expiry_cutoff(now=now, retention_years=archive.retention_years)
        while True:
            deleted, blobs = _purge_batch(archive_id=archive.pk, cutoff=cutoff, batch=batch)
            result.entries += deleted
            result.blobs += _purge_blobs(blobs, batch=batch)
            if deleted < batch:
                break
        # An archive whose mailbox was deleted receives nothing more: once its last message has
        # expired its retention has ended, and it goes (with its Delegates' access).
        if whole or archive.mailbox_id is None:
            with transaction.atomic():
                locked = Archive.objects.select_for_update().filter(pk=archive.pk, legal_hold=False).first()
                if (
                    locked is not None
                    and (whole or locked.mailbox_id is None)
                    and not locked.messages.exists()
                ):
                    locked.delete()
                    result.archives += 1
                    # A deleted mailbox's archive, kept and billed until now: its charge stops
                    # (a removed one's stopped at its removal).
                    if locked.removed_at is None and locked.mailbox_key is not None:
                        charge_deleted_archive_removed(mailbox_key=locked.mailbox_key, actor=None)
    # Blobs left unreferenced by an earlier purge that failed half-way (store unreachable).
    while True:
        swept = _purge_blobs(None, batch=batch)
        result.blobs += swept
        if swept < batch:
            break
    if result.entries or result.archives:
        logger.info("archive purge: %s", result)
    return result


def _purge_batch(*, archive_id: int, cutoff: dt.datetime | None, batch: int) -> tuple[int, set[str]]:
    """One transaction: the oldest `batch` expired entries of the archive (all, when `cutoff` is
    None). Returns how many, and the blobs they referenced."""
    with transaction.atomic():
        archive = Archive.objects.select_for_update().get(pk=archive_id)
        if archive.legal_hold:  # set since the purge began
            return 0, set()
        # The oldest entries in chain order (the (archive, seq) index), then the leading run of
        # expired ones: an expired entry after a kept one (archived_at never goes backwards in
        # production, but clocks do) waits for the ones before it, so the chain stays whole.
        victims = list(
            ArchivedMessage.objects.filter(archive_id=archive_id, seq__gt=archive.purged_seq)
            .order_by("seq")
            .values_list("pk", "seq", "entry_hash", "blob_id", "archived_at")[:batch]
        )
        expected = archive.purged_seq + 1
        run = []
        for pk, seq, entry_hash, blob_id, archived_at in victims:
            if seq != expected or (cutoff is not None and archived_at >= cutoff):
                break
            run.append((pk, seq, entry_hash, blob_id))
            expected += 1
        if not run:
            return 0, set()
        ArchivedMessage.objects.filter(pk__in=[r[0] for r in run]).delete()
        archive.purged_seq, archive.purged_hash = run[-1][1], run[-1][2]
        archive.save(update_fields=["purged_seq", "purged_hash"])
        return len(run), {r[3] for r in run}


# The blob rows and their outbox rows (archiving.outbox: bytes not yet moved into the store).
_SWEEP_SQL = """
WITH gone AS (
    DELETE FROM archive_archiveblob WHERE sha256 IN (
        SELECT b.sha256 FROM archive_archiveblob b
        WHERE (%(all)s OR b.sha256 = ANY(%(candidates)s))
          AND NOT EXISTS (SELECT 1 FROM archive_archivedmessage m WHERE m.blob_sha256 = b.sha256)
        ORDER BY b.sha256 LIMIT %(batch)s FOR UPDATE SKIP LOCKED
    ) RETURNING sha256
), outbox AS (
    DELETE FROM archive_archiveblobpending p USING gone WHERE p.blob_sha256 = gone.sha256
)
SELECT sha256 FROM gone
"""


def _purge_blobs(candidates: set[str] | None, *, batch: int) -> int:
    """Delete unreferenced blobs, row and object: among `candidates`, or any (None). A blob row
    being journaled right now is locked, so skipped (and referenced once that commits)."""
    if candidates is not None and not candidates:
        return 0
    store = blob_store()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                _SWEEP_SQL,
                {"all": candidates is None, "candidates": sorted(candidates or ()), "batch": batch},
            )
            gone = [row[0] for row in cursor.fetchall()]
        for sha256 in gone:
            store.delete(sha256)  # raises BlobStoreError: the rows stay, the next purge retries
    return len(gone)
