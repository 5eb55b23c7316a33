"""What the archive keeps about a message besides its bytes: the metadata of its entry and the
text the search indexes (headers, text parts, the text of HTML parts, attachment names).

A broken message is archived all the same: whatever cannot be parsed is left empty."""

import datetime as dt
import email
import email.utils
import re
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import Message
from html.parser import HTMLParser

# What the search indexes of one message, at most (PostgreSQL's tsvector holds up to 1 MB).
MAX_TEXT_CHARS = 200_000
_NAME_PUNCTUATION = re.compile(r"[-_.,;()\[\]]+")


@dataclass
class Document:
    message_date: dt.datetime | None = None
    message_id: str = ""
    sender: str = ""
    recipients: str = ""
    subject: str = ""
    attachment_names: list[str] = field(default_factory=list)
    body_text: str = ""

    @property
    def header_text(self) -> str:
        # Attachment names also split at punctuation: PostgreSQL's parser keeps
        # "preventivo-2026.pdf" as one file-name token, and people search for "preventivo".
        names = " ".join(self.attachment_names)
        return " ".join(
            [self.sender, self.recipients, self.subject, names, _NAME_PUNCTUATION.sub(" ", names)]
        )


def _header(value) -> str:
    if value is None:
        return ""
    try:
        text = str(make_header(decode_header(str(value))))
    except Exception:
        text = str(value)
    return " ".join(text.replace("\x00", "").split())


class _HTMLText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_text(html: str) -> str:
    parser = _HTMLText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # malformed HTML: keep the text read so far
        return " ".join(" ".join(parser.parts).split())
    return " ".join(" ".join(parser.parts).split())


def _part_text(part: Message) -> str:
    try:
        payload = part.get_payload(decode=True) or b""
    except Exception:
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset, "replace")
    except LookupError:
        text = payload.decode("utf-8", "replace")
    if part.get_content_type() == "text/html":
        text = html_text(text)
    return text


def _date(value) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def document_of(raw: bytes) -> Document:
    try:
        msg = email.message_from_bytes(raw)
    except Exception:
        return Document()
    doc = Document(
        message_date=_date(msg.get("Date")),
        message_id=_header(msg.get("Message-ID"))[:998],
        sender=_header(msg.get("From"))[:998],
        recipients=", ".join(x for x in (_header(msg.get("To")), _header(msg.get("Cc"))) if x),
        subject=_header(msg.get("Subject")),
    )
    texts: list[str] = []
    size = 0
    try:
        parts = list(msg.walk())
    except Exception:
        parts = []
    for part in parts:
        if part.is_multipart():
            continue
        filename = part.get_filename()
        if filename:
            doc.attachment_names.append(_header(filename)[:255])
            continue
        if part.get_content_maintype() != "text" or size >= MAX_TEXT_CHARS:
            continue
        if part.get_content_type() not in ("text/plain", "text/html"):
            continue
        text = _part_text(part)
        texts.append(text)
        size += len(text)
    doc.body_text = " ".join(texts)[:MAX_TEXT_CHARS].replace("\x00", "")
    return doc
