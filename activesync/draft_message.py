"""A draft as ActiveSync 16.x writes it (MS-ASEMAIL, MS-ASAIRS) and as IMAP stores it (MIME):
parsed from the stored version, updated with the properties a Sync Add or Change carries,
written back as a new version (activesync.drafts decides when)."""

from __future__ import annotations

import base64
import binascii
import email.utils
import mimetypes
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from urllib.parse import unquote
from xml.etree.ElementTree import Element

from activesync.numbers import number
from portalkit.rendering import html_to_text

B, M, M2 = "{AirSyncBase}", "{Email}", "{Email2}"

BODY_PLAIN, BODY_HTML = 1, 2
# What a device may write in a draft (MS-ASEMAIL 2.2.2: the properties not marked read-only).
CONTENT = (f"{M}To", f"{M}Cc", f"{M2}Bcc", f"{M}Subject", f"{M}Importance", f"{B}Body", f"{B}Attachments")
# The headers a draft keeps from one version to the next, in the order they are written.
HEADERS = ("From", "To", "Cc", "Bcc", "Subject", "Date", "Message-ID", "In-Reply-To", "References")
IMPORTANCE = {"0": ("low", "5"), "1": ("normal", "3"), "2": ("high", "1")}


class Unconvertible(ValueError):
    """The device's draft cannot be written as MIME (Status 6)."""


@dataclass
class Part:
    filename: str
    content_type: str
    data: bytes
    content_id: str = ""
    inline: bool = False
    index: int = -1  # its position in the MIME walk of the version it comes from (FileReference)
    span: int = 0  # the walk positions after `index` it holds too (an attached message's parts)
    client_id: str = ""  # the device's id of an attachment added by this request


@dataclass
class Draft:
    headers: dict[str, str] = field(default_factory=dict)
    importance: str = ""
    text: str = ""
    html: str = ""
    parts: list[Part] = field(default_factory=list)

    @classmethod
    def parse(cls, raw: bytes) -> Draft:
        """A stored draft, with its body and attachments as the renderer sees them (the first
        text and HTML parts that are not attachments are the body, every other leaf a part)."""
        message = message_from_bytes(raw, policy=policy.default)
        draft = cls(headers={name: str(message[name]) for name in HEADERS if message[name] is not None})
        importance = str(message["Importance"] or "").strip().lower()
        draft.importance = {label: key for key, (label, _) in IMPORTANCE.items()}.get(importance, "")
        bodies: set[str] = set()  # the body's text and HTML are the first of each, even when empty
        inside_until = -1  # the walk index of the last part of an attached message being skipped
        for index, part in enumerate(message.walk()):
            if index <= inside_until:
                continue
            if part.get_content_type() == "message/rfc822":
                # Kept whole; the renderer lists its leaves, so a FileReference may name any.
                span = sum(1 for _ in part.walk()) - 1
                inside_until = index + span
                draft.parts.append(
                    Part(
                        filename=part.get_filename() or "",
                        content_type="message/rfc822",
                        data=part.get_payload(0).as_bytes() if part.get_payload() else b"",
                        inline=part.get_content_disposition() == "inline",
                        index=index,
                        span=span,
                    )
                )
                continue
            if part.is_multipart():
                continue
            ctype = part.get_content_type()
            disposition = part.get_content_disposition()
            filename = part.get_filename() or ""
            if disposition != "attachment" and not filename and ctype in ("text/plain", "text/html"):
                if ctype not in bodies:
                    bodies.add(ctype)
                    if ctype == "text/plain":
                        draft.text = _text_of(part)
                    else:
                        draft.html = _text_of(part)
                    continue
            data = part.get_payload(decode=True) or b""
            draft.parts.append(
                Part(
                    filename=filename,
                    content_type=ctype,
                    data=data,
                    content_id=str(part["Content-ID"] or "").strip().strip("<>"),
                    inline=disposition == "inline",
                    index=index,
                )
            )
        return draft

    def update(self, data: Element | None, *, server_id: str = "") -> None:
        """The properties the device sent replace the draft's; the others are kept (MS-ASCMD
        Change). `server_id`: the draft's, to tell whose FileReferences a Delete names."""
        if data is None:
            return
        for tag, name in ((f"{M}To", "To"), (f"{M}Cc", "Cc"), (f"{M2}Bcc", "Bcc")):
            found = data.find(tag)
            if found is not None:
                self._set(name, _addresses(found.text))
        subject = data.find(f"{M}Subject")
        if subject is not None:
            self._set("Subject", _string(subject.text).replace("\r", " ").replace("\n", " "))
        importance = data.findtext(f"{M}Importance")
        if importance is not None:
            self.importance = importance.strip() if importance.strip() in IMPORTANCE else ""
        body = data.find(f"{B}Body")
        if body is not None:
            kind = (body.findtext(f"{B}Type") or "").strip()
            content = _string(body.find(f"{B}Data").text if body.find(f"{B}Data") is not None else "")
            if kind == str(BODY_PLAIN):
                self.text, self.html = content, ""
            elif kind == str(BODY_HTML):
                self.text, self.html = html_to_text(content), content
            else:
                raise Unconvertible(f"draft body of type {kind!r}")
        attachments = data.find(f"{B}Attachments")
        for change in attachments if attachments is not None else ():
            if change.tag == f"{B}Delete":
                self._delete_part(change.findtext(f"{B}FileReference") or "", server_id)
            elif change.tag == f"{B}Add":
                self.parts.append(_added_part(change))

    def _set(self, name: str, value: str) -> None:
        if value:
            self.headers[name] = value
        else:
            self.headers.pop(name, None)

    def _delete_part(self, reference: str, server_id: str) -> None:
        owner, _, index = unquote(reference).rpartition(":")
        position = number(index)
        if owner != server_id or position is None:
            return  # another item's attachment, or none: nothing of this draft to remove
        self.parts = [p for p in self.parts if p.client_id or not p.index <= position <= p.index + p.span]

    def build(self) -> bytes:
        message = EmailMessage()
        for name in HEADERS:
            if self.headers.get(name):
                message[name] = self.headers[name]
        if self.importance in IMPORTANCE:
            label, priority = IMPORTANCE[self.importance]
            message["Importance"] = label
            message["X-Priority"] = priority
        if self.html:
            message.set_content(self.text or html_to_text(self.html))
            message.add_alternative(self.html, subtype="html")
        else:
            message.set_content(self.text)
        for part in self.parts:
            maintype, _, subtype = part.content_type.partition("/")
            options = {
                "filename": part.filename or None,
                "disposition": "inline" if part.inline else "attachment",
                "cid": f"<{part.content_id}>" if part.content_id else None,
            }
            if part.content_type == "message/rfc822":
                message.add_attachment(message_from_bytes(part.data, policy=policy.default), **options)
            else:
                message.add_attachment(
                    part.data, maintype=maintype, subtype=subtype or "octet-stream", **options
                )
        return message.as_bytes(policy=policy.SMTP)


def _text_of(part) -> str:
    """A body part's text with \\n line ends (the stored MIME has CRLF)."""
    try:
        text = part.get_content()
    except (LookupError, ValueError):
        text = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
    return text.replace("\r\n", "\n")


def _string(value: str | bytes | None) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value or ""


def _addresses(value: str | bytes | None) -> str:
    """An EAS address list ("A" <a@x>, b@y; some devices separate with ;) as a header value."""
    pairs = email.utils.getaddresses([_string(value).replace(";", ",")])
    return ", ".join(email.utils.formataddr((name, address)) for name, address in pairs if "@" in address)


def _added_part(add: Element) -> Part:
    content = add.find(f"{B}Content")
    raw = content.text if content is not None else b""
    if isinstance(raw, str):
        # Content is opaque data in WBXML; as a string it can only be base64 (the XML form).
        try:
            raw = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise Unconvertible("attachment Content that is neither opaque nor base64") from exc
    filename = _string(add.findtext(f"{B}DisplayName")).strip()
    ctype = (add.findtext(f"{B}ContentType") or "").strip().lower()
    if "/" not in ctype:
        ctype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return Part(
        filename=filename,
        content_type=ctype,
        data=raw or b"",
        content_id=(add.findtext(f"{B}ContentId") or "").strip().strip("<>"),
        inline=(add.findtext(f"{B}IsInline") or "").strip() == "1",
        client_id=(add.findtext(f"{B}ClientId") or "").strip(),
    )
