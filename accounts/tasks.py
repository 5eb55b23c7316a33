from celery import shared_task

from accounts.services import access_log_purge


@shared_task(name="accounts.tasks.purge_access_log")
def purge_access_log() -> int:
    """Daily: drop access-log rows past their retention. Idempotent."""
    return access_log_purge()
