"""SmartReply and SmartForward: the phone sends only what the user wrote; the server adds the
original (MS-ASCMD 2.2.1.18/19). A reply gets the thread headers (In-Reply-To, References) and,
unless the phone replaced the whole MIME, the original's text quoted below a plain-text answer;
a forward gets the original attached as message/rfc822."""

from __future__ import annotations

import email.utils
from email import message_from_bytes, policy
from email.message import Message
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.parser import BytesParser

from portalkit.rendering import render

_COPIED_HEADERS = (
    "From",
    "To",
    "Cc",
    "Bcc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Reply-To",
)


def _thread_headers(message: Message, original: Message) -> None:
    message_id = (original.get("Message-ID") or "").strip()
    if not message_id:
        return
    if message.get("In-Reply-To") is None:
        message["In-Reply-To"] = message_id
    references = (message.get("References") or "").split()
    if message_id not in references:
        older = (original.get("References") or "").split() or (original.get("In-Reply-To") or "").split()
        del message["References"]
        message["References"] = " ".join(dict.fromkeys([*older, *references, message_id]))


def _parsed(raw: bytes, *, whole: bool) -> Message:
    if whole:
        return message_from_bytes(raw, policy=policy.compat32)
    return BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)


def reply(raw: bytes, original_raw: bytes, *, quote: bool = True) -> bytes:
    try:
        return _reply(raw, original_raw, quote=quote, whole=True)
    except RecursionError:
        # A MIME bomb (the phone's or the original): the parser and the generator recurse once
        # per nesting level. Parsed as headers and a body left as the bytes it is.
        return _reply(raw, original_raw, quote=quote, whole=False)


def _reply(raw: bytes, original_raw: bytes, *, quote: bool, whole: bool) -> bytes:
    message = _parsed(raw, whole=whole)
    original = _parsed(original_raw, whole=False)  # only its headers are read
    _thread_headers(message, original)
    if quote and not message.is_multipart() and message.get_content_type() == "text/plain":
        rendered = render(original_raw)
        sender = ", ".join(str(a) for a in rendered.sender)
        when = email.utils.format_datetime(rendered.date) if rendered.date else ""
        quoted = "\n".join(f"> {line}" if line else ">" for line in rendered.text.splitlines())
        payload = message.get_payload(decode=True) or b""
        try:
            text = payload.decode(message.get_content_charset() or "utf-8", "replace")
        except LookupError:  # a charset Python does not know
            text = payload.decode("utf-8", "replace")
        body = f"{text.rstrip()}\n\n{when} {sender}:\n{quoted}\n".replace("\n", "\r\n")
        del message["Content-Transfer-Encoding"]
        message.set_payload(body.encode("utf-8"), "utf-8")
    return message.as_bytes()


def forward(raw: bytes, original_raw: bytes) -> bytes:
    try:
        return _forward(raw, original_raw, whole=True)
    except RecursionError:
        return _forward(raw, original_raw, whole=False)  # a MIME bomb, as in reply()


def _forward(raw: bytes, original_raw: bytes, *, whole: bool) -> bytes:
    message = _parsed(raw, whole=whole)
    original = _parsed(original_raw, whole=whole)
    outer = MIMEMultipart("mixed")
    for name in _COPIED_HEADERS:
        for value in message.get_all(name, []):
            outer[name] = value
    body = _parsed(raw, whole=whole)
    for name in _COPIED_HEADERS + ("MIME-Version",):
        del body[name]
    outer.attach(body)
    outer.attach(MIMEMessage(original))
    return outer.as_bytes()
