"""Periodic work on the mail store's files (scheduled in mailsuite/beat.py)."""

from celery import shared_task

from mailstore.layout import deleted_purge


@shared_task
def deleted_stores_purge() -> int:
    """Remove the homes of mailboxes deleted more than 15 days ago (mailstore.layout)."""
    return len(deleted_purge())
