"""ItemOperations (MS-ASCMD 2.2.1.10): fetch an attachment (by the FileReference Sync gave it)
or a whole message (by CollectionId and ServerId, in the body type asked), and empty a folder.

An attachment's data is sent base64-encoded in ItemOperations:Data (the inline form; the
multipart form of MS-ASAcceptMultiPart is not offered yet)."""

from __future__ import annotations

import base64
from xml.etree.ElementTree import Element

from activesync.commands import expect
from activesync.context import Context, element
from activesync.message import application_data, body_preference
from activesync.numbers import number
from devices.selectors import device_folder
from mailstore.errors import NotFound, Refused
from mailstore.reader import mail_session
from portalkit.rendering import part_bytes

IO, A, B = "{ItemOperations}", "{AirSync}", "{AirSyncBase}"

STATUS_OK = 1
STATUS_PROTOCOL_ERROR = 2
STATUS_NOT_FOUND = 6
STATUS_STORE_UNKNOWN = 9
STATUS_ATTACHMENT_INVALID = 15
MAX_OPERATIONS = 50


def item_operations(context: Context, document: Element | None) -> Element:
    request = expect(document, f"{IO}ItemOperations")
    answers = []
    with mail_session(context.source, owner=context.owner) as mail:
        for operation in list(request)[:MAX_OPERATIONS]:
            if operation.tag == f"{IO}Fetch":
                answers.append(_fetch(context, mail, operation))
            elif operation.tag == f"{IO}EmptyFolderContents":
                answers.append(_empty(context, mail, operation))
            else:
                answers.append(element(operation.tag, None, element(f"{IO}Status", STATUS_PROTOCOL_ERROR)))
    return element(
        f"{IO}ItemOperations",
        None,
        element(f"{IO}Status", STATUS_OK),
        element(f"{IO}Response", None, *answers),
    )


def _fetch(context: Context, mail, operation: Element) -> Element:
    store = (operation.findtext(f"{IO}Store") or "Mailbox").strip()
    if store.lower() != "mailbox":
        return element(f"{IO}Fetch", None, element(f"{IO}Status", STATUS_STORE_UNKNOWN))
    reference = (operation.findtext(f"{B}FileReference") or "").strip()
    if reference:
        return _fetch_attachment(context, mail, reference)
    collection_id = (operation.findtext(f"{A}CollectionId") or "").strip()
    server_id = (operation.findtext(f"{A}ServerId") or "").strip()
    folder = device_folder(device=context.device, server_id=collection_id)
    prefix, _, uid_text = server_id.partition(":")
    uid = number(uid_text)
    if folder is None or prefix != collection_id or uid is None:
        return element(f"{IO}Fetch", None, element(f"{IO}Status", STATUS_NOT_FOUND))
    try:
        found = mail.messages_raw(folder.name, [uid])
    except NotFound:
        found = []
    if not found:
        return element(f"{IO}Fetch", None, element(f"{IO}Status", STATUS_NOT_FOUND))
    data = application_data(found[0], server_id, body_preference(operation.find(f"{IO}Options")))
    return element(
        f"{IO}Fetch",
        None,
        element(f"{IO}Status", STATUS_OK),
        element(f"{A}CollectionId", collection_id),
        element(f"{A}ServerId", server_id),
        element(f"{A}Class", "Email"),
        element(f"{IO}Properties", None, *list(data)),
    )


def _fetch_attachment(context: Context, mail, reference: str) -> Element:
    """FileReference "<folder id>:<UID>:<part index>" (activesync.message)."""
    parts = [number(p) for p in reference.split(":")]
    invalid = element(
        f"{IO}Fetch",
        None,
        element(f"{IO}Status", STATUS_ATTACHMENT_INVALID),
        element(f"{B}FileReference", reference),
    )
    if len(parts) != 3 or None in parts:
        return invalid
    folder_id, uid, index = parts
    folder = device_folder(device=context.device, server_id=str(folder_id))
    if folder is None:
        return invalid
    try:
        found = mail.messages_raw(folder.name, [uid])
    except NotFound:
        found = []
    if not found:
        return invalid
    try:
        content_type, _filename, payload = part_bytes(found[0].raw, index)
    except IndexError:
        return invalid
    return element(
        f"{IO}Fetch",
        None,
        element(f"{IO}Status", STATUS_OK),
        element(f"{B}FileReference", reference),
        element(
            f"{IO}Properties",
            None,
            element(f"{B}ContentType", content_type),
            element(f"{IO}Data", base64.b64encode(payload).decode("ascii")),
        ),
    )


def _empty(context: Context, mail, operation: Element) -> Element:
    collection_id = (operation.findtext(f"{A}CollectionId") or "").strip()
    folder = device_folder(device=context.device, server_id=collection_id)
    if folder is None:
        return element(f"{IO}EmptyFolderContents", None, element(f"{IO}Status", STATUS_NOT_FOUND))
    try:
        mail.folder_empty(folder.name)
    except (Refused, NotFound):
        # Only Trash and Junk can be emptied (the webmail's rule, mailstore.reader).
        return element(
            f"{IO}EmptyFolderContents",
            None,
            element(f"{IO}Status", 3),
            element(f"{A}CollectionId", collection_id),
        )
    return element(
        f"{IO}EmptyFolderContents",
        None,
        element(f"{IO}Status", STATUS_OK),
        element(f"{A}CollectionId", collection_id),
    )
