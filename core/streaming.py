"""Downloads written while they are read: a .zip whose bytes are taken out member by member,
and the framing of a message in an mbox (mboxrd). Shared by the mailbox exports
(portalkit.exports) and the Archive's exports (archiving.export); standard library only.

The zip is written by the standard zipfile module into a sink that can tell() but not seek():
zipfile then writes each member's sizes in a data descriptor after its data (and Zip64 records
where a member or the file grows past 4 GB), so nothing already written is ever rewritten and
each piece can be sent as soon as it exists."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Iterator
from typing import IO

_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip member can carry


class _Sink:
    """What zipfile writes into; the bytes written are taken out after each step."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0

    def write(self, data: bytes) -> int:
        self._buf += data
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        pass

    def pending(self) -> int:
        return len(self._buf)

    def take(self) -> bytes:
        data = bytes(self._buf)
        self._buf.clear()
        return data


def zip_date_time(when: dt.datetime | None) -> tuple[int, int, int, int, int, int]:
    """A member's time as zip stores it (local wall time, no zone; nothing before 1980)."""
    if when is None or when.year < ZIP_EPOCH[0]:
        return ZIP_EPOCH
    return tuple(when.timetuple()[:6])  # type: ignore[return-value]


class StreamingZip:
    """A .zip (deflated) built in memory one piece at a time: write a member with `member`,
    then `take()` what is ready to send; `close()` returns the end (the central directory).
    Only what was written since the last take is held."""

    def __init__(self, *, compresslevel: int = 6) -> None:
        self._sink = _Sink()
        self._zip = zipfile.ZipFile(
            self._sink, mode="w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel
        )

    def member(self, name: str, *, when: dt.datetime | None = None, zip64: bool = True) -> IO[bytes]:
        """A member to write into (a context manager). `zip64`: it may pass 2 GB (zipfile
        must know before it writes the member's header: a stream cannot go back)."""
        info = zipfile.ZipInfo(name, date_time=zip_date_time(when))
        info.compress_type = zipfile.ZIP_DEFLATED
        return self._zip.open(info, mode="w", force_zip64=zip64)

    def pending(self) -> int:
        return self._sink.pending()

    def take(self) -> bytes:
        return self._sink.take()

    def close(self) -> bytes:
        self._zip.close()
        return self._sink.take()


MBOX_SLICE = 1 << 20


def mbox_message_chunks(
    raw: bytes, *, when: dt.datetime, sender: str = "", lf_line_ends: bool = False
) -> Iterator[bytes]:
    """One message as an mboxrd entry, in slices of about 1 MB cut after a line end: the
    "From <sender> <asctime of `when`>" separator line, the message with each line that starts
    with ">*From " given one more ">" (a reader takes one away), a final line end and the blank
    line before the next separator. A 10 MB attachment is never copied whole (each whole-message
    copy, the LF conversion, the quoting, the concatenation, was one more message-sized block).
    `lf_line_ends`: CRLF becomes LF (what mail clients expect of a local mbox); otherwise the
    message's bytes stay as they are."""
    sender = (sender or "MAILER-DAEMON").replace(" ", "_")
    yield f"From {sender} {when.strftime('%a %b %d %H:%M:%S %Y')}\n".encode()
    start, size, last = 0, len(raw), b""
    while start < size:
        end = raw.find(b"\n", start + MBOX_SLICE)
        end = size if end == -1 else end + 1
        # A slice starts at a line start, so "^" in the quoting pattern is a real line start and
        # no CRLF pair is cut in two.
        piece = raw[start:end]
        if lf_line_ends:
            piece = piece.replace(b"\r\n", b"\n")
        last = _FROM_LINE.sub(rb">\1", piece)
        yield last
        start = end
    yield b"\n" if last.endswith(b"\n") else b"\n\n"


def mbox_message(raw: bytes, *, when: dt.datetime, sender: str = "", lf_line_ends: bool = False) -> bytes:
    """mbox_message_chunks as one piece (a message known to be small)."""
    return b"".join(mbox_message_chunks(raw, when=when, sender=sender, lf_line_ends=lf_line_ends))
