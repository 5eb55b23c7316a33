"""Drafts over Sync, protocol 16.0 and 16.1 (MS-ASCMD 2.2.1.21 Sync; MS-ASEMAIL 2.2.2.42 IsDraft,
2.2.2.69 Send, Bcc; MS-ASAIRS 2.2.2.2 Add, 2.2.2.20 Delete, 2.2.2.14 ClientId, Content).

A 16.x device may Add an email to its Drafts folder, Change one there (recipients, Bcc, subject,
importance, body, attachments added with their Content or deleted by FileReference) and send it
(Send in the Add or the Change). Flags-only Changes and Deletes of a draft are Sync's ordinary
ones (activesync.sync). A draft is a MIME message in the Drafts folder with \\Draft (and \\Seen,
as the webmail saves them). IMAP cannot change a message, so an edit appends the new version
and removes the old one (MailSession.message_replace): the version has a UID, hence a ServerId,
of its own, and the device is sent the Delete of the old one and the Add of the new one in the
same Sync answer (the old UID stays in what it is known to hold, the new one is not in it yet).

Send goes through the suite's submission server like SendMail (activesync.sendmail: send limit,
header From rule, Tracemail, Bcc taken from the header and removed), puts a copy in Sent and
removes the draft, which the device then sees deleted. A draft whose Message-ID is already in
Sent is not submitted again: a Sync retried after a lost IMAP connection applies its commands
once more (the database rolled back, the mail had gone).

Statuses of an Add or Change answered here (MS-ASCMD 2.2.3.177.17): 1 done; 6 the draft cannot be
made or sent as it is (a body type other than text or HTML, no recipients, a refusal of the
submission server such as the send limit or a foreign From; the draft stays in Drafts); 8 no such
draft; 9 the mailbox is full; 16 the submission server asked to retry later.

Protocol 14.x devices, and every other folder: nothing here (an Add is refused with Status 6)."""

from __future__ import annotations

import base64
import binascii
import email.utils
import hashlib
import logging
import mimetypes
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from urllib.parse import unquote
from xml.etree.ElementTree import Element

from activesync.context import Context, current, element
from activesync.message import FOLDER_TYPE_DRAFTS, READ
from activesync.sendmail import STATUS_RETRY_LATER, prepare, submission_status
from devices.models import DeviceFolder
from mailstore.errors import MailstoreError, NotFound, OverQuota
from mailstore.reader import MailSession
from portalkit.rendering import html_to_text

logger = logging.getLogger(__name__)

A, B, M, M2 = "{AirSync}", "{AirSyncBase}", "{Email}", "{Email2}"

STATUS_OK = 1
STATUS_CONVERSION = 6
STATUS_NOT_FOUND = 8
STATUS_MAILBOX_FULL = 9
STATUS_RETRY = 16

BODY_PLAIN, BODY_HTML = 1, 2
DRAFT_FLAGS = (b"\\Draft", b"\\Seen")
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
        for index, part in enumerate(message.walk()):
            if part.is_multipart():
                continue
            ctype = part.get_content_type()
            disposition = part.get_content_disposition()
            filename = part.get_filename() or ""
            if disposition != "attachment" and not filename:
                if ctype == "text/plain" and not draft.text:
                    draft.text = _text_of(part)
                    continue
                if ctype == "text/html" and not draft.html:
                    draft.html = _text_of(part)
                    continue
            data = part.get_payload(decode=True)
            if data is None:  # message/rfc822: the parsed message inside
                inner = part.get_payload()
                data = inner[0].as_bytes() if isinstance(inner, list) and inner else b""
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
        if owner != server_id or not index.isdigit():
            return  # another item's attachment, or none: nothing of this draft to remove
        self.parts = [p for p in self.parts if p.client_id or p.index != int(index)]

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
    try:
        return part.get_content()
    except (LookupError, ValueError):
        return (part.get_payload(decode=True) or b"").decode("utf-8", "replace")


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


# The hook Sync calls -------------------------------------------------------------------------


def takes(folder: DeviceFolder, command: Element) -> bool:
    """Is this Sync command a draft's (applied by `apply`, not by Sync's own code)?"""
    context = current()
    if context is None or not context.drafts_sync or folder.folder_type != FOLDER_TYPE_DRAFTS:
        return False
    if command.tag == f"{A}Add":
        return True
    if command.tag != f"{A}Change":
        return False
    data = command.find(f"{A}ApplicationData")
    written = data is not None and any(data.find(tag) is not None for tag in CONTENT)
    return written or _send_asked(command)


def apply(mail: MailSession, folder: DeviceFolder, command: Element, known: dict[int, int]) -> list[Element]:
    """Apply a draft's Add or Change to the Drafts folder and to what the device is known to
    hold; the Responses it needs."""
    context = current()
    assert context is not None  # takes() said yes
    if command.tag == f"{A}Add":
        return [_add(context, mail, folder, command, known)]
    response = _change(context, mail, folder, command, known)
    return [response] if response is not None else []


def _send_asked(command: Element) -> bool:
    # MS-ASEMAIL places Send in the Add or Change; some clients put it in ApplicationData.
    return command.find(f"{M2}Send") is not None or command.find(f"{A}ApplicationData/{M2}Send") is not None


def _references(folder: DeviceFolder, uid: int, raw: bytes, draft: Draft) -> Element | None:
    """The FileReference of each attachment the device added, under its ClientId (MS-ASAIRS
    2.2.2.7: the device keeps them to delete one later)."""
    added = [p.client_id for p in draft.parts if p.client_id]
    if not added:
        return None
    stored = Draft.parse(raw).parts[-len(added) :]  # added ones are written last, in order
    return element(
        f"{A}ApplicationData",
        None,
        element(
            f"{B}Attachments",
            None,
            *(
                element(
                    f"{B}Attachment",
                    None,
                    element(f"{B}ClientId", client_id),
                    element(f"{B}FileReference", f"{folder.server_id}:{uid}:{part.index}"),
                )
                for client_id, part in zip(added, stored, strict=True)
            ),
        ),
    )


def _add(
    context: Context, mail: MailSession, folder: DeviceFolder, command: Element, known: dict[int, int]
) -> Element:
    client_id = (command.findtext(f"{A}ClientId") or "").strip()

    def answer(status: int, server_id: str | None = None, references: Element | None = None) -> Element:
        return element(
            f"{A}Add",
            None,
            element(f"{A}ClientId", client_id),
            element(f"{A}ServerId", server_id) if server_id else None,
            element(f"{A}Status", status),
            references,
        )

    sender = context.mailbox.address
    # The same ClientId from the same device makes the same Message-ID: a retried Add+Send is
    # recognised in Sent.
    digest = hashlib.sha256(f"{context.device.pk}:{client_id}".encode()).hexdigest()[:32]
    draft = Draft(
        headers={
            "From": sender,
            "Date": email.utils.formatdate(localtime=True),
            "Message-ID": f"<eas.{digest}@{sender.rpartition('@')[2]}>",
        }
    )
    try:
        draft.update(command.find(f"{A}ApplicationData"))
        raw = draft.build()
    except Unconvertible as exc:
        logger.info("ActiveSync draft from %s refused: %s", context.device.device_id, exc)
        return answer(STATUS_CONVERSION)
    try:
        uid = mail.append(folder.name, raw, flags=DRAFT_FLAGS)
    except OverQuota:
        return answer(STATUS_MAILBOX_FULL)
    if uid is None:
        raise MailstoreError("APPEND to Drafts without APPENDUID")
    server_id = f"{folder.server_id}:{uid}"
    references = _references(folder, uid, raw, draft)
    if _send_asked(command):
        status = _send(context, mail, folder, uid, raw)
        if status != STATUS_OK:
            # Kept in Drafts and not known to the device: it gets it back as a new item.
            return answer(status)
    known[uid] = READ  # sent: removed, and the device is told so by the listing that follows
    return answer(STATUS_OK, server_id, references)


def _change(
    context: Context, mail: MailSession, folder: DeviceFolder, command: Element, known: dict[int, int]
) -> Element | None:
    server_id = (command.findtext(f"{A}ServerId") or "").strip()
    prefix, _, uid_text = server_id.partition(":")

    def answer(status: int, references: Element | None = None) -> Element:
        return element(
            f"{A}Change", None, element(f"{A}ServerId", server_id), element(f"{A}Status", status), references
        )

    if prefix != str(folder.server_id) or not uid_text.isdigit() or int(uid_text) not in known:
        return answer(STATUS_NOT_FOUND)
    uid = int(uid_text)
    try:
        current_version = mail.message_raw(folder.name, uid)
    except NotFound:
        return answer(STATUS_NOT_FOUND)
    data = command.find(f"{A}ApplicationData")
    raw, references = current_version.raw, None
    if data is not None and any(data.find(tag) is not None for tag in CONTENT):
        draft = Draft.parse(current_version.raw)
        try:
            draft.update(data, server_id=server_id)
        except Unconvertible as exc:
            logger.info("ActiveSync draft change from %s refused: %s", context.device.device_id, exc)
            return answer(STATUS_CONVERSION)
        draft.headers["Date"] = email.utils.formatdate(localtime=True)
        draft.headers.setdefault("From", context.mailbox.address)
        if "Message-ID" not in draft.headers:
            draft.headers["Message-ID"] = email.utils.make_msgid(
                domain=context.mailbox.address.rpartition("@")[2]
            )
        raw = draft.build()
        flags = tuple({*(f for f in current_version.flags if f != b"\\Recent"), *DRAFT_FLAGS})
        try:
            new_uid = mail.message_replace(folder.name, uid, raw, flags=flags)
        except OverQuota:
            return answer(STATUS_MAILBOX_FULL)
        except NotFound:
            return answer(STATUS_NOT_FOUND)
        if new_uid is None:
            raise MailstoreError("APPEND to Drafts without APPENDUID")
        # The old ServerId stays known (the device is sent its Delete), the new one is not (the
        # device is sent its Add).
        uid = new_uid
        references = _references(folder, uid, raw, draft)
    if _send_asked(command):
        status = _send(context, mail, folder, uid, raw)
        if status != STATUS_OK:
            return answer(status)
    return answer(STATUS_OK, references) if references is not None else None


def _send(context: Context, mail: MailSession, folder: DeviceFolder, uid: int, raw: bytes) -> int:
    """Send the draft `uid` (`raw`) as SendMail would, copy it to Sent, remove it from Drafts."""
    data, kept, recipients = prepare(raw, context.mailbox.address)
    if not recipients:
        return STATUS_CONVERSION
    message_id = str(message_from_bytes(kept, policy=policy.compat32)["Message-ID"] or "")
    if not mail.has_message("Sent", message_id=message_id, size=None):
        refused = submission_status(context, data, recipients)
        if refused is not None:
            return STATUS_RETRY if refused == STATUS_RETRY_LATER else STATUS_CONVERSION
        try:
            mail.append("Sent", kept, flags=(b"\\Seen",))
        except MailstoreError:
            # Sent and accepted: the copy is what is lost, not the message (as SendMail).
            logger.warning("ActiveSync draft: no copy in Sent for %s", context.mailbox.address, exc_info=True)
    mail.message_delete_now(folder.name, uid)
    return STATUS_OK
