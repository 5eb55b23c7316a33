"""Tamper evidence: `manage.py archive_verify` checks every chain and every blob and reports the
first break: a changed byte in a blob, a removed entry, two swapped entries, a rewritten field."""

import io

import pytest
import zstandard
from django.core.management import CommandError, call_command

from archiving.blobstore import blob_store
from archiving.journaling import archive_journal
from archiving.models import ArchivedMessage
from archiving.outbox import archive_outbox_drain
from archiving.retention import archive_purge
from tests.archiving.conftest import raw_message

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_messages(archived_mailbox):
    mailbox, archive = archived_mailbox()
    for n in (1, 2, 3):
        archive_journal(data=raw_message(f"m{n}"), fingerprint=f"{n}" * 64, received_by=[mailbox.pk])
    archive_outbox_drain()  # the objects in the store, where these tests change them
    return archive


def verify() -> tuple[bool, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("archive_verify", stdout=out, stderr=err)
    except CommandError:
        return False, err.getvalue()
    return True, out.getvalue()


def test_an_untouched_archive_verifies(three_messages):
    assert verify() == (True, "OK: 1 archive(s), every chain and blob verified\n")


def test_a_changed_byte_in_a_blob_is_detected(three_messages):
    # given the stored object of the second message rewritten with one byte changed
    entry = ArchivedMessage.objects.get(archive=three_messages, seq=2)
    store = blob_store()
    path = store.root / store.key_for(entry.blob_id)
    raw = bytearray(zstandard.ZstdDecompressor().decompress(path.read_bytes()))
    raw[-5] ^= 0x01
    path.write_bytes(zstandard.ZstdCompressor().compress(bytes(raw)))

    # then the blob is reported
    ok, report = verify()
    assert not ok
    assert report == f"BROKEN blob: {entry.blob_id}: content does not match its hash\n"


def test_a_corrupted_compressed_object_is_detected(three_messages):
    entry = ArchivedMessage.objects.get(archive=three_messages, seq=1)
    store = blob_store()
    path = store.root / store.key_for(entry.blob_id)
    path.write_bytes(path.read_bytes()[:-3])
    ok, report = verify()
    assert not ok and report.startswith(f"BROKEN blob: {entry.blob_id}: unreadable")


def test_a_removed_entry_is_detected(three_messages):
    ArchivedMessage.objects.filter(archive=three_messages, seq=2).delete()
    ok, report = verify()
    assert not ok
    assert report == f"BROKEN archive {three_messages.pk} entry 2: entry missing (next entry present is 3)\n"


def test_a_removed_last_entry_is_detected(three_messages):
    ArchivedMessage.objects.filter(archive=three_messages, seq=3).delete()
    ok, report = verify()
    assert not ok
    assert report == f"BROKEN archive {three_messages.pk} entry 3: chain ends at entry 2, head is 3\n"


def test_a_removed_and_renumbered_entry_is_detected(three_messages):
    # the forger also renumbers the entries after the one removed
    ArchivedMessage.objects.filter(archive=three_messages, seq=2).delete()
    ArchivedMessage.objects.filter(archive=three_messages, seq=3).update(seq=2)
    ok, report = verify()
    assert not ok
    assert report == f"BROKEN archive {three_messages.pk} entry 2: does not link to the previous entry\n"


def test_two_swapped_entries_are_detected(three_messages):
    # given entries 1 and 2 swapped in the sequence
    first = ArchivedMessage.objects.get(archive=three_messages, seq=1)
    second = ArchivedMessage.objects.get(archive=three_messages, seq=2)
    ArchivedMessage.objects.filter(pk=first.pk).update(seq=-1)
    ArchivedMessage.objects.filter(pk=second.pk).update(seq=1)
    ArchivedMessage.objects.filter(pk=first.pk).update(seq=2)

    ok, report = verify()
    assert not ok
    assert report == f"BROKEN archive {three_messages.pk} entry 1: does not link to the previous entry\n"


def test_two_swapped_blobs_are_detected(three_messages):
    # the entries stay in place, their message bodies are exchanged
    first = ArchivedMessage.objects.get(archive=three_messages, seq=1)
    second = ArchivedMessage.objects.get(archive=three_messages, seq=2)
    ArchivedMessage.objects.filter(pk=first.pk).update(blob_id=second.blob_id)
    ArchivedMessage.objects.filter(pk=second.pk).update(blob_id=first.blob_id)
    ok, report = verify()
    assert not ok
    assert (
        report == f"BROKEN archive {three_messages.pk} entry 1: hash does not match its metadata and blob\n"
    )


def test_a_rewritten_subject_is_detected(three_messages):
    ArchivedMessage.objects.filter(archive=three_messages, seq=3).update(subject="nothing to see")
    ok, report = verify()
    assert (
        report == f"BROKEN archive {three_messages.pk} entry 3: hash does not match its metadata and blob\n"
    )


def test_a_chain_rebuilt_after_a_removal_contradicts_the_recorded_day_head(three_messages):
    # given a forger who removes entry 3 and rewrites the archive's head to entry 2
    from archiving.models import Archive

    second = ArchivedMessage.objects.get(archive=three_messages, seq=2)
    ArchivedMessage.objects.filter(archive=three_messages, seq=3).delete()
    Archive.objects.filter(pk=three_messages.pk).update(head_seq=2, head_hash=second.entry_hash)

    # then the day's recorded head (entry 3) gives it away
    ok, report = verify()
    assert not ok
    assert "chain head recorded for" in report and "is missing" in report


def test_a_purged_archive_still_verifies(archived_mailbox, settings):
    import datetime as dt

    from django.utils import timezone

    mailbox, archive = archived_mailbox(retention_years=1)
    long_ago = timezone.now() - dt.timedelta(days=800)
    archive_journal(data=raw_message("old"), fingerprint="o" * 64, received_by=[mailbox.pk], at=long_ago)
    archive_journal(data=raw_message("new"), fingerprint="n" * 64, received_by=[mailbox.pk])
    assert archive_purge().entries == 1
    assert verify()[0] is True
