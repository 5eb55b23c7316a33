"""SendMail (MS-ASCMD 2.2.1.17, protocol 14.0 and later: a WBXML body with the MIME).

The message goes through the suite's submission server with the credential the phone
authenticated with (mta.submission_client), so the send limit, the header From rule, Tracemail
and the archive apply as to any mail client; Bcc recipients are taken from the header, which
is removed from what is sent. With SaveInSentItems a copy (Bcc kept, \\Seen) goes to Sent. A
ClientId seen before from the same device is not sent again (Status 118): a phone retries a
send whose answer it lost."""

from __future__ import annotations

import email.utils
import logging
from email import message_from_bytes, policy
from email.message import Message
from email.parser import BytesParser
from xml.etree.ElementTree import Element

from activesync import smart
from activesync.commands import BadRequest, expect
from activesync.context import Context, element
from activesync.numbers import number
from devices.selectors import device_folder
from devices.services import sent_message_claim, sent_message_release
from mailstore.errors import MailstoreError, NotFound
from mailstore.reader import mail_session
from mta.submission_client import SubmissionRefused, submit

logger = logging.getLogger(__name__)

C = "{ComposeMail}"

STATUS_SERVER_ERROR = 110
STATUS_RETRY_LATER = 111
STATUS_SEND_QUOTA = 115  # the daily send limit
STATUS_PREVIOUSLY_SENT = 118
STATUS_NO_RECIPIENTS = 119
STATUS_SUBMISSION_FAILED = 120
STATUS_ITEM_NOT_FOUND = 150  # the Source of a SmartReply/SmartForward


def _status(status: int, command: str = "SendMail") -> Element:
    return element(f"{C}{command}", None, element(f"{C}Status", status))


def prepare(raw: bytes, sender: str) -> tuple[bytes, bytes, list[str]]:
    """(what is sent, what is kept in Sent, the envelope recipients)."""
    try:
        return _prepared(message_from_bytes(raw, policy=policy.compat32), sender)
    except RecursionError:
        # A MIME bomb: the parser and the generator recurse once per nesting level. Only the
        # headers change here: the body goes as the bytes it is.
        return _prepared(BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True), sender)


def _prepared(message: Message, sender: str) -> tuple[bytes, bytes, list[str]]:
    recipients = [
        address
        for _name, address in email.utils.getaddresses(
            [str(v) for header in ("To", "Cc", "Bcc") for v in message.get_all(header, [])]
        )
        if address and "@" in address
    ]
    if message["From"] is None:
        message["From"] = sender
    if message["Date"] is None:
        message["Date"] = email.utils.formatdate(localtime=True)
    if message["Message-ID"] is None:
        message["Message-ID"] = email.utils.make_msgid(domain=sender.rpartition("@")[2])
    kept = message.as_bytes()
    del message["Bcc"]
    return message.as_bytes(), kept, list(dict.fromkeys(recipients))


def _refusal_status(exc: SubmissionRefused) -> int:
    if exc.temporary:
        return STATUS_RETRY_LATER
    reply = exc.reply.lower()
    if exc.enhanced.startswith("5.7") and ("limit" in reply or "limite" in reply):
        return STATUS_SEND_QUOTA
    return STATUS_SUBMISSION_FAILED


def send_mail(context: Context, document: Element | None) -> Element | None:
    return _send(context, expect(document, f"{C}SendMail"), "SendMail")


def smart_reply(context: Context, document: Element | None) -> Element | None:
    return _send(context, expect(document, f"{C}SmartReply"), "SmartReply")


def smart_forward(context: Context, document: Element | None) -> Element | None:
    return _send(context, expect(document, f"{C}SmartForward"), "SmartForward")


def _send(context: Context, request: Element, command: str) -> Element | None:
    mime = request.find(f"{C}Mime")
    if mime is None or not mime.text:
        raise BadRequest(f"{command} without Mime")
    raw = mime.text if isinstance(mime.text, bytes) else mime.text.encode("utf-8")
    client_id = (request.findtext(f"{C}ClientId") or "").strip()[:128]
    sender = context.mailbox.address
    original = None
    if command != "SendMail":
        original = _original(context, request)
        if original is None:
            return _status(STATUS_ITEM_NOT_FOUND, command)
        if request.find(f"{C}ReplaceMime") is None:
            raw = (smart.reply if command == "SmartReply" else smart.forward)(raw, original[2].raw)
        elif command == "SmartReply":
            raw = smart.reply(raw, original[2].raw, quote=False)
    data, kept, recipients = prepare(raw, sender)
    if not recipients:
        return _status(STATUS_NO_RECIPIENTS, command)
    if client_id and not sent_message_claim(device=context.device, client_id=client_id):
        return _status(STATUS_PREVIOUSLY_SENT, command)
    refused = submission_status(context, data, recipients)
    if refused is not None:
        if client_id:
            sent_message_release(device=context.device, client_id=client_id)
        return _status(refused, command)
    try:
        with mail_session(context.source, owner=context.owner) as mail:
            if request.find(f"{C}SaveInSentItems") is not None:
                mail.append("Sent", kept, flags=(b"\\Seen",))
            if original is not None:
                folder_name, uid, _message = original
                mail.flag_add(folder_name, uid, b"\\Answered" if command == "SmartReply" else b"$Forwarded")
    except MailstoreError:
        # Sent and accepted: the copy (or the mark) is what is lost, not the message. Success
        # all the same: an error would make the phone send it twice.
        logger.warning("ActiveSync %s: no copy in Sent for %s", command, sender, exc_info=True)
    return None  # success: an empty answer (MS-ASCMD)


def submission_status(context: Context, data: bytes, recipients: list[str]) -> int | None:
    """Submit `data` (from prepare) as the device's user: None when accepted, else the
    ComposeMail status of the refusal. SendMail, SmartReply/SmartForward and a draft sent from
    Sync (activesync.drafts) all go this way."""
    try:
        submit(
            login=context.login,
            secret=context.password,
            sender=context.mailbox.address,
            recipients=recipients,
            data=data,
        )
    except SubmissionRefused as exc:
        return _refusal_status(exc)
    return None


def _original(context: Context, request: Element):
    """(IMAP folder, UID, message) of the message replied to or forwarded (Source)."""
    source = request.find(f"{C}Source")
    if source is None:
        return None
    folder_id = (source.findtext(f"{C}FolderId") or "").strip()
    item_id = (source.findtext(f"{C}ItemId") or "").strip()
    folder = device_folder(device=context.device, server_id=folder_id)
    prefix, _, uid_text = item_id.partition(":")
    uid = number(uid_text)
    if folder is None or prefix != folder_id or uid is None:
        return None
    with mail_session(context.source, owner=context.owner) as mail:
        try:
            found = mail.messages_raw(folder.name, [uid])
        except NotFound:
            return None
    return (folder.name, uid, found[0]) if found else None
