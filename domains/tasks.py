"""Tasks of the domains app: the forgot-password email, and periodic work (mailsuite/beat.py)."""

import datetime
from smtplib import SMTPException

from celery import shared_task
from django.utils import timezone

from domains.models import DeletedMailbox
from domains.services.recovery import password_recovery_send
from mailstore.layout import DELETED_RETENTION_DAYS


@shared_task(
    name="domains.tasks.password_recovery_send",
    autoretry_for=(OSError, SMTPException),
    retry_backoff=True,
    max_retries=3,
)
def password_recovery_send_task(login: str, portal_name: str) -> bool:
    """Email the recovery link of a "forgot password" request, if the login has somewhere to
    send it. A retry after a mail failure sends one link (a new token; the old one, never
    delivered, dies with the timeout)."""
    return password_recovery_send(login=login, portal_name=portal_name)


@shared_task
def deleted_mailboxes_forget() -> int:
    """Drop the records (and password hashes) of mailboxes deleted more than 15 days ago: their
    files are purged by mailstore.tasks.deleted_stores_purge at the same age."""
    limit = timezone.now() - datetime.timedelta(days=DELETED_RETENTION_DAYS)
    deleted, _ = DeletedMailbox.objects.filter(deleted_at__lt=limit).delete()
    return deleted
