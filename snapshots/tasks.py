"""Celery tasks of the snapshots app (queue `snapshots`, settings.CELERY_TASK_ROUTES)."""

import datetime

from celery import shared_task
from django.utils import timezone

from snapshots import selectors, services


@shared_task
def snapshots_night(day: str | None = None) -> int:
    """Fan out one task per active mailbox still without today's snapshot. Beat runs it at
    00:00 Europe/Rome and every hour (the catch-up of a missed night); each run is harmless."""
    when = datetime.date.fromisoformat(day) if day else timezone.localdate()
    due = selectors.mailboxes_due(day=when)
    for mailbox_id in due:
        snapshot_mailbox.delay(mailbox_id, when.isoformat())
    return len(due)


@shared_task
def snapshot_mailbox(mailbox_id: int, day: str) -> str:
    """Take one mailbox's snapshot of `day`, then purge its old days."""
    row = services.snapshot_take(mailbox_id=mailbox_id, day=datetime.date.fromisoformat(day))
    services.snapshot_purge(mailbox_id=mailbox_id)
    return row.status if row is not None else "skipped"


@shared_task(acks_late=True, reject_on_worker_lost=True)
def restore_run_task(request_id: int) -> str:
    """Run (or resume) one restore request (snapshots.restore; queue `restores`)."""
    from snapshots.restore import restore_run

    request = restore_run(request_id=request_id)
    return request.state if request is not None else "skipped"


@shared_task
def restores_resume() -> int:
    """Queue every restore still queued or running. Beat runs it every minute and each worker
    runs it when it starts: a run killed with its worker (kill -9) goes on from where it was;
    one that is alive holds its lock and the extra task leaves at once."""
    from snapshots.restore import restores_pending

    pending = restores_pending()
    for pk in pending:
        restore_run_task.delay(pk)
    return len(pending)
