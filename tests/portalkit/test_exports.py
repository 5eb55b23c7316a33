"""portalkit.exports on plain messages: the zip is valid and written while it is read, names are
safe, the mbox quotes "From " lines (mboxrd) and separates messages."""

import datetime
import io
import mailbox
import zipfile

from mailstore.reader import RawMessage
from portalkit.exports import eml_name, mbox_stream, zip_stream

WHEN = datetime.datetime(2026, 11, 30, 10, 0, tzinfo=datetime.UTC)


def raw(uid, subject="Hello", body=b"Hi\r\n"):
    head = f"Subject: {subject}\r\nFrom: a@example.test\r\n\r\n".encode()
    return RawMessage(uid=uid, raw=head + body, flags=set(), internal_date=WHEN)


def test_the_zip_is_written_message_by_message_and_is_valid():
    messages = [raw(1, "Uno"), raw(2, "=?utf-8?q?Caff=C3=A8?="), raw(3, "a/b\\c:d*?")]
    handed = []

    def source():
        for m in messages:
            handed.append(m.uid)
            yield m

    stream = zip_stream(source(), folder="Lavoro/2026")
    first = next(stream)
    assert handed == [1] and first.startswith(b"PK\x03\x04")  # out before the rest is read
    data = first + b"".join(stream)
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    assert archive.namelist() == [
        "Lavoro_2026/000001 Uno.eml",
        "Lavoro_2026/000002 Caffè.eml",
        "Lavoro_2026/000003 a_b_c_d.eml",
    ]
    assert archive.read("Lavoro_2026/000001 Uno.eml") == messages[0].raw
    assert archive.getinfo("Lavoro_2026/000001 Uno.eml").date_time == (2026, 11, 30, 10, 0, 0)


def test_an_empty_folder_is_an_empty_zip():
    archive = zipfile.ZipFile(io.BytesIO(b"".join(zip_stream(iter(()), folder="INBOX"))))
    assert archive.namelist() == []


def test_a_message_without_subject_is_named_by_its_uid():
    message = RawMessage(uid=7, raw=b"From: a@b\r\n\r\nx", flags=set(), internal_date=None)
    assert eml_name(message) == "000007.eml"


def test_the_mbox_quotes_from_lines_and_reads_back(tmp_path):
    body = b"From here\r\n>From there\r\nend"
    data = b"".join(mbox_stream(iter([raw(1, "One", body), raw(2, "Two")])))
    assert data.startswith(b"From MAILER-DAEMON Mon Nov 30 10:00:00 2026\n")
    assert b"\n>From here\n>>From there\nend\n" in data and b"\r\n" not in data
    path = tmp_path / "f.mbox"
    path.write_bytes(data)
    assert [m["Subject"] for m in mailbox.mbox(str(path))] == ["One", "Two"]


def whole_message_mbox(message: RawMessage) -> bytes:
    """The mboxrd rules applied to the whole message at once: what the sliced writer must equal."""
    import re

    body = re.sub(rb"^(>*From )", rb">\1", message.raw.replace(b"\r\n", b"\n"), flags=re.MULTILINE)
    if not body.endswith(b"\n"):
        body += b"\n"
    return b"From MAILER-DAEMON Mon Nov 30 10:00:00 2026\n" + body + b"\n"


def test_a_large_message_is_written_in_slices_with_the_same_bytes_as_whole():
    from core import streaming

    # "From " lines and CRLF pairs around every 1 MB slice boundary, and a last line without end
    line = b"x" * 70 + b"\r\n"
    lines = []
    for i in range(60_000):  # ~4.3 MB
        lines.append(b"From the line %d\r\n" % i if i % 997 in (0, 1) else line)
    big = raw(1, "Big", b"".join(lines) + b">From the end")
    small = raw(2, "Small", b"From me\r\n")
    chunks = list(mbox_stream(iter([big, small])))
    assert max(len(c) for c in chunks) <= streaming.MBOX_SLICE + len(line)  # never the whole message
    assert len(chunks) > 5
    assert b"".join(chunks) == whole_message_mbox(big) + whole_message_mbox(small)
