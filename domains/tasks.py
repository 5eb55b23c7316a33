"""Periodic work of the domains app (scheduled in mailsuite/beat.py)."""

import datetime

from celery import shared_task
from django.utils import timezone

from domains.models import DeletedMailbox
from mailstore.layout import DELETED_RETENTION_DAYS


@shared_task
def deleted_mailboxes_forget() -> int:
    """Drop the records (and password hashes) of mailboxes deleted more than 15 days ago: their
    files are purged by mailstore.tasks.deleted_stores_purge at the same age."""
    limit = timezone.now() - datetime.timedelta(days=DELETED_RETENTION_DAYS)
    deleted, _ = DeletedMailbox.objects.filter(deleted_at__lt=limit).delete()
    return deleted
