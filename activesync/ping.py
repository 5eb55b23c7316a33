"""Ping (MS-ASCMD 2.2.1.13): wait until a watched folder changes or the heartbeat ends.

For now the request polls IMAP STATUS (UIDVALIDITY, UIDNEXT, MESSAGES, HIGHESTMODSEQ) of each
watched folder every ACTIVESYNC_PING_POLL_SECONDS and compares it with what the device's last
Sync of that folder saw, holding this worker thread for the heartbeat. The direction
(docs/architecture.md): an ASGI process, woken through Redis by new mail."""

from __future__ import annotations

import time
from xml.etree.ElementTree import Element

from django.conf import settings

from activesync.commands import expect
from activesync.context import Context, element
from devices.selectors import device_folder, sync_state
from devices.services import device_ping_remember
from mailstore.errors import NotFound
from mailstore.reader import mail_session

P = "{Ping}"

STATUS_EXPIRED = 1  # the heartbeat ended, nothing changed
STATUS_CHANGES = 2
STATUS_MISSING = 3  # the request did not say what to watch
STATUS_BAD_HEARTBEAT = 5
STATUS_TOO_MANY = 6
STATUS_HIERARCHY = 7  # a folder is unknown: FolderSync first
MAX_FOLDERS = 100


def _limits() -> tuple[int, int]:
    return int(settings.ACTIVESYNC_HEARTBEAT_MIN), int(settings.ACTIVESYNC_HEARTBEAT_MAX)


def ping(context: Context, document: Element | None) -> Element:
    heartbeat_text, ids = "", []
    if document is not None:  # a Ping without a body repeats the previous one
        request = expect(document, f"{P}Ping")
        heartbeat_text = (request.findtext(f"{P}HeartbeatInterval") or "").strip()
        ids = [(f.findtext(f"{P}Id") or "").strip() for f in request.findall(f"{P}Folders/{P}Folder")]
    device = context.device
    # What the request leaves out is what the previous Ping said.
    heartbeat = int(heartbeat_text) if heartbeat_text.isdigit() else device.ping_heartbeat
    ids = ids or list(device.ping_folders or [])
    if not heartbeat or not ids:
        return element(f"{P}Ping", None, element(f"{P}Status", STATUS_MISSING))
    low, high = _limits()
    if heartbeat < low or heartbeat > high:
        return element(
            f"{P}Ping",
            None,
            element(f"{P}Status", STATUS_BAD_HEARTBEAT),
            element(f"{P}HeartbeatInterval", low if heartbeat < low else high),
        )
    if len(ids) > MAX_FOLDERS:
        return element(
            f"{P}Ping", None, element(f"{P}Status", STATUS_TOO_MANY), element(f"{P}MaxFolders", MAX_FOLDERS)
        )
    device_ping_remember(device=device, heartbeat=heartbeat, folders=ids)
    watched = []
    for server_id in ids:
        folder = device_folder(device=context.device, server_id=server_id)
        if folder is None:
            return element(f"{P}Ping", None, element(f"{P}Status", STATUS_HIERARCHY))
        watched.append((folder, sync_state(folder=folder)))

    deadline = time.monotonic() + heartbeat
    poll = float(settings.ACTIVESYNC_PING_POLL_SECONDS)
    while True:
        changed = []
        with mail_session(context.source, owner=context.owner) as mail:
            for folder, state in watched:
                try:
                    now = mail.folder_status(folder.name)
                except NotFound:
                    return element(f"{P}Ping", None, element(f"{P}Status", STATUS_HIERARCHY))
                seen = (
                    (state.uidvalidity, state.uidnext, state.messages, state.highestmodseq)
                    if state is not None
                    else None
                )
                if seen != (now.uidvalidity, now.uidnext, now.messages, now.highestmodseq):
                    changed.append(folder.server_id)
        if changed:
            return element(
                f"{P}Ping",
                None,
                element(f"{P}Status", STATUS_CHANGES),
                element(f"{P}Folders", None, *(element(f"{P}Folder", server_id) for server_id in changed)),
            )
        left = deadline - time.monotonic()
        if left <= 0:
            return element(f"{P}Ping", None, element(f"{P}Status", STATUS_EXPIRED))
        time.sleep(min(poll, left))
