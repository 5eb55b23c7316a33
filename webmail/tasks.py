"""Celery tasks of the webmail."""

from celery import shared_task

from webmail.services import session_tokens_purge


@shared_task(name="webmail.tasks.purge_session_tokens")
def purge_session_tokens() -> int:
    """Daily: revoke the submission tokens of web sessions that expired without a logout.
    Idempotent (a revoked token is not matched again)."""
    return session_tokens_purge()
