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


@shared_task(name="domains.tasks.dkim_keys_check")
def dkim_keys_check(batch: int = 50) -> dict:
    """Every few minutes: a new DKIM key whose record is now in the DNS starts signing, replaced
    keys past their grace period retire, and domains without a key get one (a batch per run:
    the domains registered before DKIM, or with keys made on first need)."""
    from domains.models import DkimKey, Domain
    from domains.services.dkim import dkim_key_first, dkim_keys_retire, domain_dns_check

    pending = Domain.objects.filter(is_active=True, dkim_keys__state=DkimKey.State.PENDING).distinct()
    checked = 0
    for domain in pending.order_by("?")[:batch]:
        domain_dns_check(domain=domain, refresh=True)
        checked += 1
    made = 0
    for domain in Domain.objects.filter(is_active=True, dkim_keys__isnull=True)[:batch]:
        made += dkim_key_first(domain=domain) is not None
    return {"checked": checked, "made": made, "retired": dkim_keys_retire()}
