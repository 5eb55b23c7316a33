"""A folder as one download, written while it is read: a .zip of .eml files or an mbox.

Both take an iterator of messages (mailstore.reader.MailSession.messages_stream reads a folder
in batches) and yield the file's bytes message by message, so a StreamingHttpResponse sends a
10 GB folder holding one batch in memory. The zip and the mbox framing are core.streaming's
(shared with the Archive's exports): nothing written is ever rewritten."""

from __future__ import annotations

import datetime
import email.parser
import email.policy
import re
from collections.abc import Iterable, Iterator

from core.streaming import StreamingZip, mbox_message_chunks
from mailstore.reader import RawMessage, decode_text

_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')
_HEADERS = email.parser.BytesHeaderParser(policy=email.policy.compat32)


def _subject(raw: bytes) -> str:
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    return decode_text(_HEADERS.parsebytes(head).get("Subject", "")).strip()


def eml_name(message: RawMessage) -> str:
    """`<uid> <subject>.eml`: unique in the folder, readable, safe on every file system."""
    subject = _UNSAFE.sub("_", _subject(message.raw))[:60].strip(" ._")
    return f"{message.uid:06d} {subject}.eml" if subject else f"{message.uid:06d}.eml"


def zip_stream(messages: Iterable[RawMessage], *, folder: str = "") -> Iterator[bytes]:
    """A .zip with one .eml per message (under `folder`/), yielded a message at a time."""
    out = StreamingZip()
    prefix = (_UNSAFE.sub("_", folder).replace("/", "_").strip(" .") or "mail") + "/"
    for message in messages:
        name = prefix + eml_name(message)
        with out.member(name, when=message.internal_date, zip64=len(message.raw) > 2**31) as entry:
            entry.write(message.raw)
        chunk = out.take()
        if chunk:
            yield chunk
    tail = out.close()  # the central directory
    if tail:
        yield tail


def mbox_stream(messages: Iterable[RawMessage]) -> Iterator[bytes]:
    """An mbox (mboxrd, core.streaming.mbox_message_chunks), LF line ends, each message after
    its "From " separator line; yielded in slices of about 1 MB."""
    for message in messages:
        when = message.internal_date or datetime.datetime(1970, 1, 1)  # noqa: DTZ001 - asctime has no zone
        raw = message.raw
        del message  # the next message is fetched while this loop variable would still hold it
        yield from mbox_message_chunks(raw, when=when, lf_line_ends=True)
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

    out = StreamingZip()
    with mail_session(source, timeout=timeout) as mail:
        selectable = [f.name for f in mail.folder_tree(counts=False) if f.selectable]  # not \Noselect parents
        folders = sorted(selectable, key=lambda name: (name != "INBOX", name.lower()))
        for folder in folders:
            with out.member(_folder_entry_name(folder), when=timezone.localtime()) as entry:
                for chunk in mbox_stream(mail.messages_stream(folder)):
                    entry.write(chunk)
                    data = out.take()
                    if data:
                        yield data
            data = out.take()
            if data:
                yield data
    tail = out.close()  # the central directory
    if tail:
        yield tail


def mailbox_export_response(source, *, address: str):
    """The whole mailbox `source` as a streamed .zip download named after the address and today."""
    from django.utils import timezone

    from portalkit.reading import streamed_download

    filename = f"{address} {timezone.localdate().isoformat()}.zip"
    return streamed_download(mailbox_zip_stream(source), filename=filename, content_type="application/zip")
