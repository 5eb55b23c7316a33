"""Celery beat schedule (times in Europe/Rome, the Celery timezone)."""

from celery.schedules import crontab

CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "heartbeat": {
        "task": "mailsuite.tasks.heartbeat",
        "schedule": crontab(minute="*/5"),
    },
    "accounts-purge-access-log": {
        "task": "accounts.tasks.purge_access_log",
        "schedule": crontab(hour=3, minute=30),
    },
}
