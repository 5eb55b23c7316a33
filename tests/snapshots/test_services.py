"""snapshots.services and tasks: one row per mailbox and day, idempotent, late catch-up, the
15-day purge that never removes the newest."""

import datetime

import pytest
from django.utils import timezone

from core.days import local_midnight
from domains.models import Mailbox
from domains.services import mailbox_update
from mailstore.layout import maildir_path
from mailstore.snapshots import HardlinkSnapshots
from mailsuite.celery import app
from snapshots import services, tasks
from snapshots.models import Snapshot, SnapshotStatus
from tests.factories import MailboxFactory

pytestmark = pytest.mark.django_db

DAY = datetime.date(2026, 11, 30)


@pytest.fixture(autouse=True)
def dirs(settings, tmp_path):
    settings.MAIL_STORE_DIR = tmp_path / "mail"
    settings.SNAPSHOT_DIR = tmp_path / "snapshots"
    return settings


def with_mail(mailbox, count=2):
    root = maildir_path(mailbox.pk)
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (root / "cur" / f"{i}.M{i}P1.h,S=5:2,").write_bytes(b"hello")
    return root


def at(hour, minute=0, day=DAY):
    return local_midnight(day) + datetime.timedelta(hours=hour, minutes=minute)


def test_midnight_snapshot_is_taken_and_recorded():
    mailbox = MailboxFactory()
    with_mail(mailbox, 3)
    row = services.snapshot_take(mailbox_id=mailbox.pk, day=DAY, now=at(0, 0))
    assert (row.status, row.messages, row.bytes, row.attempts) == (SnapshotStatus.TAKEN, 3, 15, 1)
    assert row.taken_at is not None and row.duration >= 0
    assert HardlinkSnapshots().days(mailbox_id=mailbox.pk) == [DAY]


def test_taking_the_same_day_twice_changes_nothing():
    mailbox = MailboxFactory()
    root = with_mail(mailbox, 2)
    first = services.snapshot_take(mailbox_id=mailbox.pk, day=DAY, now=at(0, 0))
    (root / "cur" / "9.M9P1.h,S=5:2,").write_bytes(b"later")
    second = services.snapshot_take(mailbox_id=mailbox.pk, day=DAY, now=at(0, 5))
    assert Snapshot.objects.filter(mailbox=mailbox).count() == 1
    assert (second.pk, second.messages, second.taken_at, second.attempts) == (
        first.pk,
        2,
        first.taken_at,
        1,
    )


def test_a_snapshot_taken_hours_after_midnight_is_late_with_its_real_time():
    mailbox = MailboxFactory()
    with_mail(mailbox)
    now = timezone.now()
    row = services.snapshot_take(mailbox_id=mailbox.pk, day=timezone.localdate(now), now=now)
    expected = SnapshotStatus.LATE if now > at(1, 0, timezone.localdate(now)) else SnapshotStatus.TAKEN
    assert row.status == expected
    assert abs((row.taken_at - now).total_seconds()) < 30


def test_a_run_after_the_day_is_over_does_nothing():
    mailbox = MailboxFactory()
    with_mail(mailbox)
    assert services.snapshot_take(mailbox_id=mailbox.pk, day=DAY, now=at(25)) is None
    assert not Snapshot.objects.filter(mailbox=mailbox).exists()


def test_a_killed_run_leaves_no_row_marked_taken_and_the_next_one_finishes(monkeypatch):
    # given a worker killed while it copied (simulated: the backend dies with the process)
    mailbox = MailboxFactory()
    with_mail(mailbox, 2)

    class Killed(BaseException):
        pass

    def die(*args, **kwargs):
        raise Killed

    monkeypatch.setattr(HardlinkSnapshots, "take", die)
    with pytest.raises(Killed):
        services.snapshot_take(mailbox_id=mailbox.pk, day=DAY, now=at(0))
    row = Snapshot.objects.get(mailbox=mailbox, day=DAY)
    assert (row.status, row.taken_at) == (SnapshotStatus.PENDING, None)
    monkeypatch.undo()
    # when the task runs again
    row = services.snapshot_take(mailbox_id=mailbox.pk, day=DAY, now=at(0, 10))
    # then it is taken once
    assert (row.status, row.messages) == (SnapshotStatus.TAKEN, 2)


def test_purge_keeps_15_days_and_never_the_newest():
    mailbox = MailboxFactory()
    with_mail(mailbox)
    today = DAY
    files = HardlinkSnapshots()
    for back in range(0, 18):
        day = today - datetime.timedelta(days=back)
        services.snapshot_take(mailbox_id=mailbox.pk, day=day, now=at(0, 0, day))
    purged = services.snapshot_purge(mailbox_id=mailbox.pk, today=today)
    oldest_kept = today - datetime.timedelta(days=14)
    assert purged == [today - datetime.timedelta(days=b) for b in (17, 16, 15)]
    assert files.days(mailbox_id=mailbox.pk)[0] == oldest_kept
    assert Snapshot.objects.filter(mailbox=mailbox).count() == 15


def test_purge_never_removes_the_newest_even_when_it_is_old():
    # given a mailbox whose only snapshots are 20 and 30 days old (it was inactive since)
    mailbox = MailboxFactory()
    with_mail(mailbox)
    for back in (30, 20):
        day = DAY - datetime.timedelta(days=back)
        services.snapshot_take(mailbox_id=mailbox.pk, day=day, now=at(0, 0, day))
    # when the purge runs
    purged = services.snapshot_purge(mailbox_id=mailbox.pk, today=DAY)
    # then the older goes, the newest stays
    assert purged == [DAY - datetime.timedelta(days=30)]
    assert HardlinkSnapshots().days(mailbox_id=mailbox.pk) == [DAY - datetime.timedelta(days=20)]


@pytest.fixture
def eager():
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


def test_a_missed_night_is_caught_up_by_the_next_check_and_marked_late(eager, monkeypatch):
    # given two active mailboxes and one inactive, no snapshot at midnight (worker down)
    a, b = MailboxFactory(), MailboxFactory()
    off = MailboxFactory()
    mailbox_update(mailbox=off, is_active=False)
    for mailbox in (a, b, off):
        with_mail(mailbox)
    today = timezone.localdate()
    late_now = max(timezone.now(), at(1, 30, today))
    monkeypatch.setattr(timezone, "now", lambda: late_now)
    monkeypatch.setattr(timezone, "localdate", lambda value=None: today)
    active = set(Mailbox.objects.filter(is_active=True).values_list("pk", flat=True))
    assert {a.pk, b.pk} <= active and off.pk not in active
    # when the hourly check runs
    assert tasks.snapshots_night() == len(active)
    # then every active mailbox has today's snapshot, late, and a second check does nothing
    rows = Snapshot.objects.filter(day=today)
    assert {(r.mailbox_id, r.status) for r in rows} == {(pk, "late") for pk in active}
    assert tasks.snapshots_night() == 0


def test_the_night_is_scheduled_at_midnight_on_the_snapshots_queue(settings):
    night = settings.CELERY_BEAT_SCHEDULE["snapshots-night"]
    assert night["task"] == "snapshots.tasks.snapshots_night"
    assert (night["schedule"].hour, night["schedule"].minute) == ({0}, {0})
    assert settings.CELERY_BEAT_SCHEDULE["snapshots-catch-up"]["task"] == "snapshots.tasks.snapshots_night"
    assert app.amqp.router.route({}, "snapshots.tasks.snapshot_mailbox")["queue"].name == "snapshots"
    assert settings.CELERY_TIMEZONE == "Europe/Rome"
