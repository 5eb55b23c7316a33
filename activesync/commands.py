"""The commands (MS-ASCMD) and what every one of them checks first: the device's policy key
and a requested remote wipe."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from xml.etree.ElementTree import Element

from activesync.context import Context, element, running
from mailstore.errors import Unavailable

logger = logging.getLogger(__name__)

SUPPORTED = (
    "Provision",
    "FolderSync",
    "Sync",
    "GetItemEstimate",
    "Ping",
    "SendMail",
    "MoveItems",
    "ItemOperations",
    "FolderCreate",
    "FolderUpdate",
    "FolderDelete",
    "SmartReply",
    "SmartForward",
    "Settings",
    "Search",
    "ResolveRecipients",
)
# Commands that may run twice with the same effect (flags set again, a message already moved
# is not found): retried once when the IMAP connection is lost. Not SendMail.
RETRIED = frozenset(
    {"FolderSync", "Sync", "GetItemEstimate", "Ping", "ItemOperations", "Search", "ResolveRecipients"}
)


class BadRequest(ValueError):
    """The request is not a well-formed command (HTTP 400)."""


# The namespace of each command's root element and status.
NAMESPACE = {
    "Provision": "Provision",
    "FolderSync": "FolderHierarchy",
    "Sync": "AirSync",
    "GetItemEstimate": "GetItemEstimate",
    "Ping": "Ping",
    "SendMail": "ComposeMail",
    "MoveItems": "Move",
    "ItemOperations": "ItemOperations",
    "FolderCreate": "FolderHierarchy",
    "FolderUpdate": "FolderHierarchy",
    "FolderDelete": "FolderHierarchy",
    "SmartReply": "ComposeMail",
    "SmartForward": "ComposeMail",
    "Settings": "Settings",
    "Search": "Search",
    "ResolveRecipients": "ResolveRecipients",
}
STATUS_PROVISION_REQUIRED = 142  # MS-ASCMD common status: DeviceNotProvisioned
STATUS_POLICY_REFRESH = 143  # PolicyRefresh: the key is not the current one
STATUS_REMOTE_WIPE = 140  # RemoteWipeRequested


def _status_only(command: str, status: int) -> Element:
    ns = NAMESPACE[command]
    return element(f"{{{ns}}}{command}", None, element(f"{{{ns}}}Status", status))


def _policy_status(context: Context) -> int | None:
    """None when the device may run the command; else the status that sends it to Provision."""
    from devices.models import Device

    device = context.device
    if device.state == Device.State.WIPE_REQUESTED:
        return STATUS_REMOTE_WIPE
    if device.state == Device.State.WIPED or device.policy_key is None:
        return STATUS_PROVISION_REQUIRED
    if context.policy_key != str(device.policy_key):
        return STATUS_POLICY_REFRESH if context.policy_key not in ("", "0") else STATUS_PROVISION_REQUIRED
    return None


def run(command: str, context: Context, document: Element | None) -> Any:
    """The command's answer: an Element, None (an empty 200), or a ping.Waiting the async
    endpoint awaits."""
    from activesync import (
        folders,
        itemoperations,
        moveitems,
        ping,
        provision,
        search,
        sendmail,
        settings_command,
        sync,
    )

    handlers: dict[str, Callable[[Context, Element | None], Any]] = {
        "Provision": provision.provision,
        "FolderSync": folders.folder_sync,
        "Sync": sync.sync,
        "GetItemEstimate": sync.get_item_estimate,
        "Ping": ping.ping,
        "SendMail": sendmail.send_mail,
        "MoveItems": moveitems.move_items,
        "ItemOperations": itemoperations.item_operations,
        "FolderCreate": folders.folder_create,
        "FolderUpdate": folders.folder_update,
        "FolderDelete": folders.folder_delete,
        "SmartReply": sendmail.smart_reply,
        "SmartForward": sendmail.smart_forward,
        "Settings": settings_command.settings,
        "Search": search.search,
        "ResolveRecipients": search.resolve_recipients,
    }
    if command != "Provision":
        status = _policy_status(context)
        if status is not None:
            return _status_only(command, status)
    handler = handlers[command]
    with running(context):
        if command in RETRIED:
            try:
                return handler(context, document)
            except Unavailable:
                # The device's pooled IMAP connection died under it (Dovecot closes a session
                # whose selected folder was deleted and made again elsewhere); the pool dropped
                # it, and the command is idempotent: once more on a new connection.
                logger.info("ActiveSync %s: IMAP connection lost, retrying once", command)
        return handler(context, document)


def expect(document: Element | None, tag: str) -> Element:
    if document is None or document.tag != tag:
        raise BadRequest(f"expected {tag}, got {document.tag if document is not None else 'no body'}")
    return document
