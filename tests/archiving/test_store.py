"""The blob store (content-addressed, zstd, durable writes, one copy shared), the metadata and
the full-text search of archived messages."""

import hashlib
import os

import pytest
import zstandard

from archiving.blobstore import BlobStoreError, blob_store
from archiving.extract import document_of
from archiving.indexing import archive_index_pending
from archiving.journaling import archive_journal
from archiving.models import ArchiveBlob, ArchivedMessage
from archiving.search import SearchFilters, search_backend
from tests.archiving.conftest import raw_message

pytestmark = pytest.mark.django_db

HTML_WITH_ATTACHMENT = (
    b"From: =?utf-8?q?Caf=C3=A8?= <cafe@far.example>\r\nTo: bob@acme.test\r\nCc: carla@acme.test\r\n"
    b"Subject: =?utf-8?q?Fattura_di_gennaio?=\r\nMessage-ID: <inv-1@far.example>\r\n"
    b"Date: Mon, 05 Jan 2026 09:30:00 +0100\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n'
    b"--B\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    b"<html><style>.x{color:red}</style><body><p>Le <b>fatture</b> dei contratti</p>"
    b"<script>var hidden='zzzsecret'</script></body></html>\r\n"
    b"--B\r\nContent-Type: application/pdf\r\n"
    b'Content-Disposition: attachment; filename="preventivo-2026.pdf"\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--B--\r\n"
)


def test_a_blob_is_stored_once_by_its_sha256_zstd_compressed_and_read_back():
    # given a message
    raw = raw_message("blob", body="lorem ipsum " * 500)
    store = blob_store()

    # when it is stored twice
    first = store.put(raw)
    second = store.put(raw)

    # then one object, named by the SHA-256 of the raw bytes, zstd inside, smaller, same bytes back
    sha256 = hashlib.sha256(raw).hexdigest()
    assert first == second and first[0] == sha256
    files = [p for p in store.root.rglob("*") if p.is_file()]
    assert [p.name for p in files] == [f"{sha256}.zst"]
    assert files[0].parent.relative_to(store.root).as_posix() == sha256[:2]
    assert zstandard.ZstdDecompressor().decompress(files[0].read_bytes()) == raw
    assert files[0].stat().st_size < len(raw) / 5
    assert store.get(sha256) == raw


def test_a_store_that_cannot_be_written_raises_its_own_error(settings, tmp_path):
    # given a blob directory that cannot exist (a regular file in its path: even root cannot)
    (tmp_path / "file").write_text("x")
    settings.ARCHIVE_BLOB_DIR = tmp_path / "file" / "archive"

    # when a blob is written, then BlobStoreError, and no temporary file is left anywhere
    with pytest.raises(BlobStoreError):
        blob_store().put(b"Subject: x\r\n\r\nbody\r\n")
    assert os.listdir(tmp_path) == ["file"]


def test_the_metadata_covers_headers_html_text_and_attachment_names():
    doc = document_of(HTML_WITH_ATTACHMENT)
    assert doc.sender == "Cafè <cafe@far.example>"
    assert doc.recipients == "bob@acme.test, carla@acme.test"
    assert doc.subject == "Fattura di gennaio"
    assert doc.message_id == "<inv-1@far.example>"
    assert doc.message_date.isoformat() == "2026-01-05T09:30:00+01:00"
    assert doc.attachment_names == ["preventivo-2026.pdf"]
    assert doc.body_text == "Le fatture dei contratti"  # no tags, no style, no script


def test_a_message_for_two_archives_is_one_blob_and_two_searchable_entries(archived_mailbox):
    # given two archived mailboxes
    bob, bob_archive = archived_mailbox()
    carla, carla_archive = archived_mailbox()

    # when one message is journaled for both
    result = archive_journal(data=HTML_WITH_ATTACHMENT, fingerprint="f" * 64, received_by=[bob.pk, carla.pk])

    # then one blob, two entries with the metadata
    assert result.entries == 2
    assert ArchiveBlob.objects.count() == 1
    entries = ArchivedMessage.objects.order_by("archive_id")
    assert [(e.archive_id, e.folder, e.seq, e.blob_id) for e in entries] == [
        (bob_archive.pk, "received", 1, result.blob_sha256),
        (carla_archive.pk, "received", 1, result.blob_sha256),
    ]
    entry = entries[0]
    assert (entry.subject, entry.size, entry.attachment_names) == (
        "Fattura di gennaio",
        len(HTML_WITH_ATTACHMENT),
        ["preventivo-2026.pdf"],
    )

    # and headers and attachment names are searchable at once, the body once indexed (beat,
    # every minute); then the search finds it by an Italian stem, an attachment name, the text of
    # the HTML part; not by what sat in a script; only in the archives asked for
    search = search_backend()

    def hits(text, archives=(bob_archive.pk,), **filters):
        return [
            e.subject
            for e in search.search(archive_ids=list(archives), text=text, filters=SearchFilters(**filters))
        ]

    assert hits("preventivo") == ["Fattura di gennaio"]
    assert hits("contratto") == []  # only in the body: not indexed yet
    assert archive_index_pending() == 2
    assert archive_index_pending() == 0
    assert hits("fattura") == ["Fattura di gennaio"]  # "fatture" in the body, "Fattura" in the subject
    assert hits("contratto") == ["Fattura di gennaio"]  # Italian stem of "contratti"
    assert hits("preventivo") == ["Fattura di gennaio"]
    assert hits("zzzsecret") == []
    assert hits("fattura", archives=()) == []
    assert hits("fattura", has_attachment=False) == []
    assert hits("fattura", folder="sent") == []
    assert hits("fattura", sender="cafe@") == ["Fattura di gennaio"]


def test_english_stemming_finds_plural_and_verb_forms(archived_mailbox):
    bob, archive = archived_mailbox()
    archive_journal(
        data=raw_message("eng", body="The shipments were delivered yesterday"),
        fingerprint="e" * 64,
        received_by=[bob.pk],
    )
    archive_index_pending()
    found = search_backend().search(archive_ids=[archive.pk], text="shipment deliver")
    assert [e.subject for e in found] == ["eng"]


def test_the_raw_sql_names_the_models_tables():
    # archiving.journaling and archiving.retention write SQL by hand with these names
    from archiving.models import Archive, ArchiveDayHead, ArchivePlan

    assert [
        m._meta.db_table for m in (Archive, ArchiveBlob, ArchivedMessage, ArchiveDayHead, ArchivePlan)
    ] == [
        "archive_archive",
        "archive_archiveblob",
        "archive_archivedmessage",
        "archive_archivedayhead",
        "archive_archiveplan",
    ]
    assert ArchivedMessage._meta.get_field("blob").column == "blob_sha256"
