"""Services of the snapshots app: take one mailbox's day, purge the old days.

Decisions (issue 12 is silent on them):
- A snapshot is labelled with the local day (Europe/Rome) during which it was taken. Midnight's
  run takes "today"; a run after the day has ended does nothing (the next day's run covers the
  mailbox): a copy made on the 2nd is never shown as the 1st.
- Late: taken more than settings.SNAPSHOT_LATE_AFTER after the day's midnight (a night missed
  while the worker or beat was down, caught up by the hourly check of snapshots.tasks); the row
  keeps the real time.
- Kept SNAPSHOT_RETENTION_DAYS (15) days: today and the 14 before. The newest taken one is
  never purged, however old.
"""

from __future__ import annotations

import datetime
import logging
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.days import local_midnight
from mailstore.layout import home_path
from mailstore.snapshots import SnapshotError, backend
from snapshots.models import Snapshot, SnapshotStatus

logger = logging.getLogger(__name__)


def snapshot_take(
    *, mailbox_id: int, day: datetime.date, now: datetime.datetime | None = None
) -> Snapshot | None:
    """Take `day`'s snapshot of a mailbox unless it is there. Idempotent and safe to kill: the
    row is locked for the whole copy and written in the same transaction, and the files appear
    by one rename (mailstore.snapshots). Returns the row, or None when there is nothing to do
    (the day is over, another worker holds the row)."""
    now = now or timezone.now()
    if timezone.localdate(now) != day:
        logger.info("snapshot of mailbox %s for %s skipped: the day is over", mailbox_id, day)
        return None
    Snapshot.objects.bulk_create([Snapshot(mailbox_id=mailbox_id, day=day)], ignore_conflicts=True)
    with transaction.atomic():
        row = (
            Snapshot.objects.select_for_update(skip_locked=True)
            .filter(mailbox_id=mailbox_id, day=day)
            .first()
        )
        if row is None or row.is_taken:
            return row
        started = time.monotonic()
        try:
            result = backend().take(mailbox_id=mailbox_id, day=day, home=home_path(mailbox_id), now=now)
        except (SnapshotError, OSError) as exc:
            row.status = SnapshotStatus.FAILED
            row.attempts += 1
            row.error = str(exc)[:2000]
            row.save(update_fields=["status", "attempts", "error"])
            logger.error("snapshot of mailbox %s for %s failed: %s", mailbox_id, day, exc)
            return row
        late = result.taken_at > local_midnight(day) + settings.SNAPSHOT_LATE_AFTER
        row.status = SnapshotStatus.LATE if late else SnapshotStatus.TAKEN
        row.taken_at = result.taken_at
        row.messages, row.bytes = result.messages, result.bytes
        row.duration = round(time.monotonic() - started, 3) if result.created else row.duration
        row.attempts += 1
        row.error = ""
        row.save()
    return row


def snapshot_purge(*, mailbox_id: int, today: datetime.date | None = None) -> list[datetime.date]:
    """Remove the days older than the retention, files and rows, except the newest taken one.
    Days on disk without a row (a crash between the rename and the commit) follow the same rule."""
    today = today or timezone.localdate()
    oldest_kept = today - datetime.timedelta(days=settings.SNAPSHOT_RETENTION_DAYS - 1)
    newest = (
        Snapshot.objects.filter(mailbox_id=mailbox_id, status__in=[SnapshotStatus.TAKEN, SnapshotStatus.LATE])
        .order_by("-day")
        .values_list("day", flat=True)
        .first()
    )
    files = backend()
    on_disk = set(files.days(mailbox_id=mailbox_id))
    if newest is None and on_disk:
        newest = max(on_disk)
    rows = set(
        Snapshot.objects.filter(mailbox_id=mailbox_id, day__lt=oldest_kept).values_list("day", flat=True)
    )
    purged = []
    for day in sorted(rows | {d for d in on_disk if d < oldest_kept}):
        if day == newest:
            continue
        files.remove(mailbox_id=mailbox_id, day=day)
        Snapshot.objects.filter(mailbox_id=mailbox_id, day=day).delete()
        purged.append(day)
    return purged


def snapshot_rows_recover(*, mailbox_id: int) -> int:
    """Rows for the days on disk of a mailbox brought back after its deletion (its rows went
    with it; its files were set aside and came back, domains.services.mailbox_undelete).
    Returns how many rows were written."""
    files = backend()
    rows = []
    for day in files.days(mailbox_id=mailbox_id):
        result = files.result(mailbox_id=mailbox_id, day=day) if hasattr(files, "result") else None
        if result is None:
            continue
        rows.append(
            Snapshot(
                mailbox_id=mailbox_id,
                day=day,
                status=SnapshotStatus.TAKEN,
                taken_at=result.taken_at,
                messages=result.messages,
                bytes=result.bytes,
                attempts=1,
            )
        )
    return len(Snapshot.objects.bulk_create(rows, ignore_conflicts=True))
