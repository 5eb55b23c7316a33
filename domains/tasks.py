from smtplib import SMTPException

from celery import shared_task

from domains.services.recovery import password_recovery_send


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
