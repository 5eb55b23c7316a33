"""A folder export is streamed: its first bytes leave before the folder has been read, and the
memory it takes stays flat (one fetch batch), not the size of the folder."""

import base64
import io
import os
import tracemalloc
import zipfile

import pytest

from mailstore import reader
from mailstore.imap import imap_session
from tests.timemachine.conftest import mail

pytestmark = pytest.mark.protocol

MESSAGES = 160
BODY = 256 * 1024  # characters of base64 per message: ~40 MB for the folder


@pytest.fixture
def big_folder(tm_user):
    user = tm_user()
    with imap_session(user.address) as imap:
        imap.create_folder("Big")
        for i in range(MESSAGES):
            body = base64.encodebytes(os.urandom(BODY * 3 // 4)).decode()
            imap.append("Big", mail(subject=f"big {i}", body=body))
    user.snapshot()
    return user


@pytest.mark.parametrize("kind", ["zip", "mbox"])
def test_a_folder_export_streams_with_flat_memory(big_folder, kind, monkeypatch):
    day = big_folder.days[0]
    fetched = []
    original = reader.MailSession.messages_stream

    def counting(self, folder, **kwargs):
        for message in original(self, folder, **kwargs):
            fetched.append(message.uid)
            yield message

    monkeypatch.setattr(reader.MailSession, "messages_stream", counting)
    response = big_folder.client.get(f"/timemachine/d/{day}/export/", {"f": "Big", "format": kind})
    assert response.status_code == 200 and response.streaming
    tracemalloc.start()
    try:
        chunks = iter(response.streaming_content)
        first = next(chunks)
        # the first bytes are out after one message was handed over (one batch read, not the folder)
        read_at_first = len(fetched)
        total, kept = len(first), io.BytesIO(first) if kind == "zip" else None
        for chunk in chunks:
            total += len(chunk)
            if kept is not None:
                kept.write(chunk)
                kept.seek(0)
                kept.truncate()  # keep nothing: only the stream's own memory is measured
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        response.close()
    folder_bytes = MESSAGES * BODY
    sent, size, top = total / 1e6, folder_bytes / 1e6, peak / 1e6
    print(f"\n{kind}: {sent:.1f} MB sent for a {size:.1f} MB folder, peak {top:.1f} MB")
    assert read_at_first == 1 and len(fetched) == MESSAGES
    assert total > folder_bytes * 0.7
    # one batch (mailstore.reader.STREAM_BATCH_BYTES, 4 MB) and its copies, not the folder
    assert peak < 4 * reader.STREAM_BATCH_BYTES < folder_bytes / 2, peak


def test_the_export_is_a_valid_zip_of_every_message(big_folder):
    day = big_folder.days[0]
    response = big_folder.client.get(f"/timemachine/d/{day}/export/", {"f": "Big", "format": "zip"})
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.testzip() is None and len(archive.namelist()) == MESSAGES
