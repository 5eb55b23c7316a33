"""Retention: a message archived on local day D (Europe/Rome) with N years is kept through day
D + N years and deleted by the first purge after it: never a day early, never a day late; a legal
hold suspends the purge; a removed archive goes 30 days after its removal; a blob goes when no
archive references it any more."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from archiving.blobstore import BlobStoreError, blob_store
from archiving.journaling import archive_journal
from archiving.models import Archive, ArchiveBlob, ArchivedMessage
from archiving.outbox import archive_outbox_drain
from archiving.retention import add_years, archive_purge, first_kept_day
from archiving.services import archive_legal_hold_set, archive_remove
from tests.archiving.conftest import raw_message

pytestmark = pytest.mark.django_db

ROME = ZoneInfo("Europe/Rome")


def rome(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=ROME)


def journal(mailbox, tag: str, at: dt.datetime) -> None:
    archive_journal(data=raw_message(tag), fingerprint=tag.ljust(64, "0"), received_by=[mailbox.pk], at=at)


def kept(archive) -> list[str]:
    return list(
        ArchivedMessage.objects.filter(archive=archive).order_by("seq").values_list("subject", flat=True)
    )


def test_a_message_is_kept_through_its_expiry_day_and_purged_the_day_after(archived_mailbox):
    # given messages archived either side of a Rome midnight, 1 year of retention
    mailbox, archive = archived_mailbox(retention_years=1)
    journal(mailbox, "late-on-the-9th", rome(2025, 3, 9, 23, 59, 59))
    journal(mailbox, "early-on-the-10th", rome(2025, 3, 10, 0, 0, 0))

    # when the purge runs at the last second of 2026-03-09: nothing is a day early
    assert archive_purge(now=rome(2026, 3, 9, 23, 59, 59)).entries == 0
    assert kept(archive) == ["late-on-the-9th", "early-on-the-10th"]

    # when it runs a second after midnight: the 9th's message goes, the 10th's stays
    assert archive_purge(now=rome(2026, 3, 10, 0, 0, 1)).entries == 1
    assert kept(archive) == ["early-on-the-10th"]

    # and it is not kept a day late either
    assert archive_purge(now=rome(2026, 3, 10, 23, 59, 59)).entries == 0
    assert archive_purge(now=rome(2026, 3, 11, 0, 0, 1)).entries == 1
    assert kept(archive) == []


def test_the_boundaries_hold_across_a_dst_change(archived_mailbox):
    # given a message archived on the last day of winter time (2025-03-29, UTC+1), one year,
    # whose expiry day ends at the start of 2026-03-30 (UTC+2: a 23-hour day before it)
    mailbox, archive = archived_mailbox(retention_years=1)
    journal(mailbox, "before-dst", rome(2025, 3, 29, 23, 30))
    journal(mailbox, "after-dst", rome(2025, 3, 30, 0, 30))

    assert archive_purge(now=rome(2026, 3, 29, 23, 59, 59)).entries == 0
    assert archive_purge(now=dt.datetime(2026, 3, 29, 22, 0, 1, tzinfo=dt.UTC)).entries == 1  # 00:00:01 Rome
    assert kept(archive) == ["after-dst"]


def test_a_leap_day_message_expires_on_the_first_of_march():
    assert add_years(dt.date(2028, 2, 29), 1) == dt.date(2029, 3, 1)
    assert first_kept_day(today=dt.date(2029, 3, 1), retention_years=1) == dt.date(2028, 2, 29)
    assert first_kept_day(today=dt.date(2029, 3, 2), retention_years=1) == dt.date(2028, 3, 2)
    assert first_kept_day(today=dt.date(2028, 2, 29), retention_years=1) == dt.date(2027, 3, 1)


def test_the_purge_works_in_batches_and_removes_unreferenced_blobs_only(archived_mailbox):
    # given one message in two archives with different retentions, and three older ones
    short, short_archive = archived_mailbox(retention_years=1)
    long, long_archive = archived_mailbox(retention_years=2)
    at = rome(2024, 6, 1, 12)
    shared = raw_message("shared")
    archive_journal(data=shared, fingerprint="s" * 64, received_by=[short.pk, long.pk], at=at)
    for n in range(3):
        journal(short, f"own-{n}", at)
    assert ArchiveBlob.objects.count() == 4
    assert archive_outbox_drain() == 4  # the objects in the store (the outbox's are in test_outbox)

    # when the purge runs after one year, two at a time
    result = archive_purge(now=rome(2025, 6, 2, 1), batch=2)

    # then the short archive is empty, the shared blob kept for the long one, the others deleted
    assert (result.entries, result.blobs) == (4, 3)
    assert kept(short_archive) == [] and kept(long_archive) == ["shared"]
    assert list(ArchiveBlob.objects.values_list("size", flat=True)) == [len(shared)]
    store = blob_store()
    assert [p.name for p in store.root.rglob("*.zst")] == [f"{ArchiveBlob.objects.get().sha256}.zst"]
    assert Archive.objects.get(pk=short_archive.pk).purged_seq == 4


def test_a_legal_hold_suspends_the_purge(archived_mailbox):
    # given an expired message in an archive under legal hold (set in the back office's service)
    mailbox, archive = archived_mailbox(retention_years=1)
    journal(mailbox, "held", rome(2020, 1, 1, 12))
    archive_legal_hold_set(archive=archive, legal_hold=True)

    # when the purge runs, then nothing is deleted
    assert archive_purge(now=rome(2026, 1, 1, 12)).entries == 0
    assert kept(archive) == ["held"]

    # and once the hold is lifted, the next purge deletes it
    archive_legal_hold_set(archive=archive, legal_hold=False)
    assert archive_purge(now=rome(2026, 1, 1, 12)).entries == 1


def test_a_removed_archive_is_readable_30_days_then_purged_whole(archived_mailbox, settings):
    # given an archive with a recent message (far from expiry), removed on 2026-01-10 at 15:00
    mailbox, archive = archived_mailbox(retention_years=10)
    journal(mailbox, "recent", rome(2026, 1, 5, 12))
    archive_remove(mailbox=mailbox, confirm_address=mailbox.address)
    Archive.objects.filter(pk=archive.pk).update(removed_at=rome(2026, 1, 10, 15))

    # then it is kept through the 30th day after the removal day, and purged the day after
    assert archive_purge(now=rome(2026, 2, 9, 23, 59)).archives == 0
    assert kept(archive) == ["recent"]
    result = archive_purge(now=rome(2026, 2, 10, 0, 1))
    assert (result.entries, result.archives) == (1, 1)
    assert not Archive.objects.filter(pk=archive.pk).exists()
    assert not ArchiveBlob.objects.exists()


def test_a_store_that_fails_during_the_purge_keeps_the_blob_row_for_the_next_purge(
    archived_mailbox, monkeypatch, tmp_path
):
    # given an expired message and a blob store that fails to delete
    mailbox, archive = archived_mailbox(retention_years=1)
    journal(mailbox, "old", rome(2020, 1, 1, 12))

    class Failing:
        def delete(self, sha256):
            raise BlobStoreError("store down")

    import archiving.retention as retention

    monkeypatch.setattr(retention, "blob_store", lambda: Failing())
    with pytest.raises(BlobStoreError):
        archive_purge(now=rome(2026, 1, 1, 12))
    assert kept(archive) == []  # the entries went (their own transaction)
    assert ArchiveBlob.objects.count() == 1  # the blob's row kept

    # when the store is back, the next purge deletes the blob, row and object
    monkeypatch.undo()
    assert archive_purge(now=rome(2026, 1, 2, 12)).blobs == 1
    assert not ArchiveBlob.objects.exists()
    assert list(blob_store().root.rglob("*.zst")) == []
