"""The Archive's periodic work is scheduled (Europe/Rome): the purge daily after midnight, the
body indexing every minute."""

from django.conf import settings


def test_the_purge_runs_daily_after_midnight_and_the_indexing_every_minute():
    schedule = settings.CELERY_BEAT_SCHEDULE
    purge, index = schedule["archive-purge"], schedule["archive-index"]
    assert purge["task"] == "archiving.tasks.archive_purge_daily"
    assert (purge["schedule"].hour, purge["schedule"].minute) == ({0}, {20})
    assert index["task"] == "archiving.tasks.archive_index"
    assert len(index["schedule"].minute) == 60
    assert settings.CELERY_TIMEZONE == "Europe/Rome"


def test_the_tasks_call_the_purge_and_the_indexing(db, archived_mailbox):
    from archiving.journaling import archive_journal
    from archiving.tasks import archive_index, archive_purge_daily
    from tests.archiving.conftest import raw_message

    mailbox, _ = archived_mailbox()
    archive_journal(data=raw_message("task"), fingerprint="t" * 64, received_by=[mailbox.pk])
    assert archive_index() == 1
    assert archive_purge_daily() == {"entries": 0, "blobs": 0, "archives": 0}
