"""A folder as one download, written while it is read: a .zip of .eml files or an mbox.

Both take an iterator of messages (mailstore.reader.MailSession.messages_stream reads a folder
in batches) and yield the file's bytes message by message, so a StreamingHttpResponse sends a
10 GB folder holding one batch in memory. The zip is written by the standard zipfile module on
an unseekable sink: without seek() it writes each entry's sizes in a data descriptor after its
data (and Zip64 records where the archive grows past 4 GB), so nothing is ever rewritten."""

from __future__ import annotations

import datetime
import email.parser
import email.policy
import re
import zipfile
from collections.abc import Iterable, Iterator

from mailstore.reader import RawMessage, decode_text

_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')
_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)
_HEADERS = email.parser.BytesHeaderParser(policy=email.policy.compat32)


class _Sink:
    """A write-only file for zipfile that keeps what was written until it is taken."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def _subject(raw: bytes) -> str:
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    return decode_text(_HEADERS.parsebytes(head).get("Subject", "")).strip()


def eml_name(message: RawMessage) -> str:
    """`<uid> <subject>.eml`: unique in the folder, readable, safe on every file system."""
    subject = _UNSAFE.sub("_", _subject(message.raw))[:60].strip(" ._")
    return f"{message.uid:06d} {subject}.eml" if subject else f"{message.uid:06d}.eml"


def _zip_time(when: datetime.datetime | None) -> tuple[int, int, int, int, int, int]:
    if when is None or when.year < 1980:
        return (1980, 1, 1, 0, 0, 0)
    return when.timetuple()[:6]


def zip_stream(messages: Iterable[RawMessage], *, folder: str = "") -> Iterator[bytes]:
    """A .zip with one .eml per message (under `folder`/), yielded a message at a time."""
    sink = _Sink()
    prefix = (_UNSAFE.sub("_", folder).replace("/", "_").strip(" .") or "mail") + "/"
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for message in messages:
            info = zipfile.ZipInfo(prefix + eml_name(message), date_time=_zip_time(message.internal_date))
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, mode="w", force_zip64=len(message.raw) > 2**31) as entry:
                entry.write(message.raw)
            chunk = sink.take()
            if chunk:
                yield chunk
    tail = sink.take()  # the central directory
    if tail:
        yield tail


_MBOX_SLICE = 1 << 20


def _mbox_body(raw: bytes) -> Iterator[bytes]:
    """`raw` with LF line ends and mboxrd quoting, in slices of about 1 MB cut after a line end:
    a 10 MB attachment is never copied whole (each whole-message copy, the LF conversion, the
    quoting and the concatenation, was one more message-sized block in the web worker)."""
    start, size = 0, len(raw)
    last = b""
    while start < size:
        end = raw.find(b"\n", start + _MBOX_SLICE)
        end = size if end == -1 else end + 1
        # A slice starts at a line start, so "^" in the quoting pattern is a real line start
        # and no CRLF pair is cut in two.
        last = _FROM_LINE.sub(rb">\1", raw[start:end].replace(b"\r\n", b"\n"))
        yield last
        start = end
    yield b"\n" if last.endswith(b"\n") else b"\n\n"


def mbox_stream(messages: Iterable[RawMessage]) -> Iterator[bytes]:
    """An mbox (mboxrd: a "From " line at the start of a body line gets one more ">", so a
    reader can undo it), LF line ends, each message after its "From " separator line and
    followed by an empty line; yielded in slices of about 1 MB."""
    for message in messages:
        when = message.internal_date or datetime.datetime(1970, 1, 1)  # noqa: DTZ001 - asctime has no zone
        yield b"From MAILER-DAEMON " + when.strftime("%a %b %d %H:%M:%S %Y").encode() + b"\n"
        raw = message.raw
        del message  # the next message is fetched while this loop variable would still hold it
        yield from _mbox_body(raw)
        del raw


def _folder_entry_name(folder: str) -> str:
    """`Archive/2024` → `Archive/2024.mbox`: the hierarchy kept as zip directories, each part
    safe on every file system (no `..`, no control or reserved characters)."""
    parts = [_UNSAFE.sub("_", part).strip(" .") or "_" for part in folder.split("/")]
    return "/".join(parts) + ".mbox"


def mailbox_zip_stream(source, *, timeout: float = 120) -> Iterator[bytes]:
    """A whole mailbox as a .zip with one mbox (mboxrd) per folder, written while it is read:
    each folder is fetched in batches (MailSession.messages_stream) on a connection of its own
    and compressed into its entry message by message, so the memory used is one batch whatever
    the mailbox's size (Zip64 entries: a folder may pass 4 GB)."""
    from django.utils import timezone

    from mailstore.reader import mail_session  # the only IMAP code: through mailstore's face

    sink = _Sink()
    with mail_session(source, timeout=timeout) as mail:
        selectable = [f.name for f in mail.folder_tree(counts=False) if f.selectable]  # not \Noselect parents
        folders = sorted(selectable, key=lambda name: (name != "INBOX", name.lower()))
        with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
            for folder in folders:
                now = timezone.localtime()
                info = zipfile.ZipInfo(_folder_entry_name(folder), date_time=_zip_time(now))
                info.compress_type = zipfile.ZIP_DEFLATED
                with archive.open(info, mode="w", force_zip64=True) as entry:
                    for chunk in mbox_stream(mail.messages_stream(folder)):
                        entry.write(chunk)
                        data = sink.take()
                        if data:
                            yield data
                data = sink.take()
                if data:
                    yield data
    tail = sink.take()  # the central directory
    if tail:
        yield tail


def mailbox_export_response(source, *, address: str):
    """The whole mailbox `source` as a streamed .zip download named after the address and today."""
    from django.utils import timezone

    from portalkit.reading import streamed_download

    filename = f"{address} {timezone.localdate().isoformat()}.zip"
    return streamed_download(mailbox_zip_stream(source), filename=filename, content_type="application/zip")
