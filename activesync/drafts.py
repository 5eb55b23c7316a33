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

import email.utils
import hashlib
import logging
from email import policy
from email.parser import BytesParser
from xml.etree.ElementTree import Element

from activesync.context import Context, current, element
from activesync.draft_message import CONTENT, Draft, Unconvertible
from activesync.message import FOLDER_TYPE_DRAFTS, READ
from activesync.numbers import number
from activesync.sendmail import STATUS_RETRY_LATER, prepare, submission_status
from devices.models import DeviceFolder
from mailstore.errors import MailstoreError, NotFound, OverQuota
from mailstore.reader import MailSession

logger = logging.getLogger(__name__)

A, B, M, M2 = "{AirSync}", "{AirSyncBase}", "{Email}", "{Email2}"

STATUS_OK = 1
STATUS_CONVERSION = 6
STATUS_NOT_FOUND = 8
STATUS_MAILBOX_FULL = 9
STATUS_RETRY = 16

DRAFT_FLAGS = (b"\\Draft", b"\\Seen")


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


def _fingerprint(prefix: str, data: Element | None) -> str:
    digest = hashlib.sha256(prefix.encode())
    for node in data.iter() if data is not None else ():
        text = node.text if isinstance(node.text, bytes) else (node.text or "").encode()
        digest.update(b"\0" + node.tag.encode() + b"\0" + text)
    return digest.hexdigest()[:32]


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
    # The same Add (device, ClientId and what it wrote) makes the same Message-ID: a retried
    # Add+Send is recognised in Sent, and a ClientId a device uses again for another draft is not.
    digest = _fingerprint(f"{context.device.pk}:{client_id}", command.find(f"{A}ApplicationData"))
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
    except (Unconvertible, RecursionError) as exc:  # RecursionError: a MIME bomb attached
        logger.info("ActiveSync draft from %s refused: %r", context.device.device_id, exc)
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

    uid = number(uid_text)
    if prefix != str(folder.server_id) or uid is None or uid not in known:
        return answer(STATUS_NOT_FOUND)
    try:
        current_version = mail.message_raw(folder.name, uid)
    except NotFound:
        return answer(STATUS_NOT_FOUND)
    data = command.find(f"{A}ApplicationData")
    raw, references = current_version.raw, None
    if data is not None and any(data.find(tag) is not None for tag in CONTENT):
        try:
            draft = Draft.parse(current_version.raw)
            draft.update(data, server_id=server_id)
            draft.headers["Date"] = email.utils.formatdate(localtime=True)
            draft.headers.setdefault("From", context.mailbox.address)
            if "Message-ID" not in draft.headers:
                draft.headers["Message-ID"] = email.utils.make_msgid(
                    domain=context.mailbox.address.rpartition("@")[2]
                )
            raw = draft.build()
        except (Unconvertible, RecursionError) as exc:
            # RecursionError: a MIME bomb in Drafts (the parser and the generator recurse once
            # per nesting level); the draft stays as it is.
            logger.info("ActiveSync draft change from %s refused: %r", context.device.device_id, exc)
            return answer(STATUS_CONVERSION)
        flags = _flags(current_version.flags, data)
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


def _flags(flags: set, data: Element) -> tuple:
    """The new version's flags: the old one's, \\Draft, and the Read and Flag the device sent."""
    out = {f for f in flags if f != b"\\Recent"} | set(DRAFT_FLAGS)
    if data.findtext(f"{M}Read") == "0":
        out.discard(b"\\Seen")
    flag = data.find(f"{M}Flag")
    if flag is not None:
        if flag.findtext(f"{M}FlagStatus") == "2":
            out.add(b"\\Flagged")
        else:
            out.discard(b"\\Flagged")
    return tuple(sorted(out))


def _send(context: Context, mail: MailSession, folder: DeviceFolder, uid: int, raw: bytes) -> int:
    """Send the draft `uid` (`raw`) as SendMail would, copy it to Sent, remove it from Drafts."""
    data, kept, recipients = prepare(raw, context.mailbox.address)
    if not recipients:
        return STATUS_CONVERSION
    head = BytesParser(policy=policy.compat32).parsebytes(kept, headersonly=True)  # a bomb too
    message_id = str(head["Message-ID"] or "")
    try:
        already_sent = mail.has_message("Sent", message_id=message_id, size=None)
    except NotFound:
        already_sent = False  # no Sent folder: the copy below fails and is only logged
    if not already_sent:
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
