"""Celery beat schedule (times in Europe/Rome, the Celery timezone)."""

from celery.schedules import crontab

CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "heartbeat": {
        "task": "mailsuite.tasks.heartbeat",
        "schedule": crontab(minute="*/5"),
    },
    "mta-tracemail-purge": {
        "task": "mta.tasks.tracemail_purge",
        "schedule": crontab(hour=3, minute=45),
    },
    "mta-outbound-requeue-due": {
        "task": "mta.tasks.outbound_requeue_due",
        "schedule": crontab(minute="*/10"),
    },
    "accounts-purge-access-log": {
        "task": "accounts.tasks.purge_access_log",
        "schedule": crontab(hour=3, minute=30),
    },
    # SendMail ClientIds a phone could still retry with are a month old at most (devices.services).
    "devices-sent-messages-forget": {
        "task": "devices.tasks.sent_messages_forget",
        "schedule": crontab(hour=3, minute=55),
    },
    "webmail-purge-session-tokens": {
        "task": "webmail.tasks.purge_session_tokens",
        "schedule": crontab(hour=3, minute=50),
    },
    # The mail of mailboxes deleted more than 15 days ago (mailstore.layout).
    "mailstore-deleted-stores-purge": {
        "task": "mailstore.tasks.deleted_stores_purge",
        "schedule": crontab(hour=3, minute=40),
    },
    "domains-deleted-mailboxes-forget": {
        "task": "domains.tasks.deleted_mailboxes_forget",
        "schedule": crontab(hour=3, minute=41),
    },
    # DKIM: new keys whose DNS record appeared start signing; old ones retire (domains.tasks).
    "domains-dkim-keys-check": {
        "task": "domains.tasks.dkim_keys_check",
        "schedule": crontab(minute="*/10"),
    },
    # Time Machine: every active mailbox at midnight; the hourly run catches up a missed night.
    "snapshots-night": {
        "task": "snapshots.tasks.snapshots_night",
        "schedule": crontab(hour=0, minute=0),
    },
    "snapshots-catch-up": {
        "task": "snapshots.tasks.snapshots_night",
        "schedule": crontab(minute=30),
    },
    # Restores interrupted with their worker go on (snapshots.restore).
    "snapshots-restores-resume": {
        "task": "snapshots.tasks.restores_resume",
        "schedule": crontab(minute="*"),
    },
    # Blobs journaled into the outbox table go into the blob store (archiving.outbox).
    "archive-outbox": {
        "task": "archiving.tasks.archive_outbox",
        "schedule": crontab(minute="*"),
    },
    # Bodies of newly archived messages become searchable (archiving.indexing).
    "archive-index": {
        "task": "archiving.tasks.archive_index",
        "schedule": crontab(minute="*"),
    },
    # Shortly after midnight: a message whose expiry day has just ended goes now (archiving.retention).
    "archive-purge": {
        "task": "archiving.tasks.archive_purge_daily",
        "schedule": crontab(hour=0, minute=20),
    },
    # Exports whose link has expired: their files are deleted (archiving.export_jobs).
    "archive-exports-expire": {
        "task": "archiving.tasks.archive_exports_expire",
        "schedule": crontab(minute=40),
    },
    # Shortenings of an archive's retention whose 30 days have passed (archiving.services).
    "archive-retention-apply": {
        "task": "archiving.tasks.archive_retention_apply",
        "schedule": crontab(minute=10),
    },
    # Import wizard jobs no worker advanced for two minutes are queued again (archiving.importing).
    "archive-import-resume": {
        "task": "archiving.tasks.archive_import_resume",
        "schedule": crontab(minute="*/5"),
    },
    # After midnight, so the day it reports on is complete (docs/billing.md).
    "billing-daily-notices": {
        "task": "billing.tasks.send_daily_notices",
        "schedule": crontab(hour=0, minute=5),
    },
}
