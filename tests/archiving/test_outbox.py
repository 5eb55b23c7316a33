"""The journaling outbox: a new blob is durable in the database with its entry (no file fsync on
the SMTP path), readable at once, moved into the store by the drain, once; the purge removes
outbox rows with their blob; with the outbox off the blob is in the store before commit; a store
that cannot be written refuses journaling either way."""

import pytest

from archiving.blobstore import BlobStoreError, blob_store
from archiving.journaling import archive_journal
from archiving.models import ArchiveBlob, ArchiveBlobPending
from archiving.outbox import archive_outbox_drain
from archiving.retention import archive_purge
from archiving.verify import archive_verify
from tests.archiving.conftest import raw_message
from tests.archiving.test_retention import rome

pytestmark = pytest.mark.django_db


def files(store) -> list[str]:
    return sorted(p.name for p in store.root.rglob("*.zst"))


def test_a_new_blob_waits_in_the_outbox_is_readable_and_the_drain_moves_it_once(archived_mailbox):
    mailbox, _archive = archived_mailbox()
    other, _ = archived_mailbox()
    data = raw_message("outboxed")
    store = blob_store()

    archive_journal(data=data, fingerprint="o" * 64, received_by=[mailbox.pk, other.pk])

    sha256 = ArchiveBlob.objects.get().sha256
    assert files(store) == []  # nothing written on the SMTP path
    assert ArchiveBlobPending.objects.count() == 1  # one row for the two archives
    assert store.get(sha256) == data  # readable from the outbox meanwhile
    assert archive_verify()[1] == []

    assert archive_outbox_drain() == 1
    assert files(store) == [f"{sha256}.zst"] and not ArchiveBlobPending.objects.exists()
    assert store.get(sha256) == data
    assert archive_outbox_drain() == 0

    # the same bytes again: the store has them, nothing goes to the outbox
    archive_journal(data=data, fingerprint="p" * 64, received_by=[mailbox.pk])
    assert not ArchiveBlobPending.objects.exists()


def test_the_purge_deletes_an_undrained_blob_with_its_outbox_row(archived_mailbox):
    mailbox, archive = archived_mailbox(retention_years=1)
    archive_journal(
        data=raw_message("old"), fingerprint="q" * 64, received_by=[mailbox.pk], at=rome(2020, 1, 1)
    )
    assert ArchiveBlobPending.objects.count() == 1

    result = archive_purge(now=rome(2026, 1, 1, 12))

    assert (result.entries, result.blobs) == (1, 1)
    assert not ArchiveBlob.objects.exists() and not ArchiveBlobPending.objects.exists()


def test_with_the_outbox_off_the_blob_is_in_the_store_before_commit(archived_mailbox, settings):
    settings.ARCHIVE_BLOB_OUTBOX = False
    mailbox, _archive = archived_mailbox()
    archive_journal(data=raw_message("direct"), fingerprint="d" * 64, received_by=[mailbox.pk])
    assert files(blob_store()) == [f"{ArchiveBlob.objects.get().sha256}.zst"]
    assert not ArchiveBlobPending.objects.exists()


@pytest.mark.parametrize("outbox", [True, False])
def test_a_store_that_cannot_be_written_refuses_journaling(archived_mailbox, settings, tmp_path, outbox):
    settings.ARCHIVE_BLOB_OUTBOX = outbox
    mailbox, archive = archived_mailbox()
    (tmp_path / "file").write_text("x")
    settings.ARCHIVE_BLOB_DIR = tmp_path / "file" / "archive"
    with pytest.raises(BlobStoreError):
        archive_journal(data=raw_message("down"), fingerprint="e" * 64, received_by=[mailbox.pk])
    assert not ArchiveBlob.objects.exists() and not archive.messages.exists()
