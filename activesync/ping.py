"""Ping (MS-ASCMD 2.2.1.13): wait until a watched folder changes or the heartbeat ends.

The request is checked synchronously (`ping`), which returns a `Waiting`; the async endpoint
awaits it (`wait`): subscribed to the mailbox's new-mail channel (activesync.push), it compares
the watched folders' IMAP STATUS (UIDVALIDITY, UIDNEXT, MESSAGES, HIGHESTMODSEQ) with what the
device's last Sync of each saw (Status 2 when one differs), then waits holding no thread and no
IMAP connection, looks again each time the suite's delivery path announces mail for the mailbox,
and ends with Status 1 at the heartbeat. Changes that are not announced (another client moving
mail, a Sieve redirect) are seen by the phone's next Ping, at most one heartbeat later."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from asgiref.sync import sync_to_async
from django.conf import settings

from activesync.commands import expect
from activesync.context import Context, element
from activesync.numbers import number
from activesync.push import new_mail_events
from devices.models import DeviceFolder
from devices.selectors import device_folder, sync_state
from devices.services import device_ping_remember
from mailstore.errors import NotFound
from mailstore.pool import POOL
from mailstore.reader import mail_session

P = "{Ping}"

STATUS_EXPIRED = 1  # the heartbeat ended, nothing changed
STATUS_CHANGES = 2
STATUS_MISSING = 3  # the request did not say what to watch
STATUS_BAD_HEARTBEAT = 5
STATUS_TOO_MANY = 6
STATUS_HIERARCHY = 7  # a folder is unknown: FolderSync first
MAX_FOLDERS = 100


@dataclass
class Waiting:
    """A Ping that found nothing changed: what `wait` needs to go on without the request."""

    context: Context
    watched: list[tuple[DeviceFolder, object]]
    deadline: float  # time.monotonic()


def _limits() -> tuple[int, int]:
    return int(settings.ACTIVESYNC_HEARTBEAT_MIN), int(settings.ACTIVESYNC_HEARTBEAT_MAX)


def ping(context: Context, document: Element | None) -> Element | Waiting:
    heartbeat_text, ids = "", []
    if document is not None:  # a Ping without a body repeats the previous one
        request = expect(document, f"{P}Ping")
        heartbeat_text = (request.findtext(f"{P}HeartbeatInterval") or "").strip()
        ids = [(f.findtext(f"{P}Id") or "").strip() for f in request.findall(f"{P}Folders/{P}Folder")]
    device = context.device
    # What the request leaves out is what the previous Ping said.
    heartbeat = number(heartbeat_text)
    heartbeat = device.ping_heartbeat if heartbeat is None else heartbeat
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
    if any(len(i) > 20 for i in ids):
        # no folder id is that long: FolderSync (and nothing stored for the next empty Ping)
        return element(f"{P}Ping", None, element(f"{P}Status", STATUS_HIERARCHY))
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
    return Waiting(context=context, watched=watched, deadline=time.monotonic() + heartbeat)


def _look(waiting: Waiting) -> Element | None:
    """The answer when a watched folder changed (or vanished), else None. Looks through the
    device's pooled IMAP connection (the first look of a Ping right after a Sync finds the one
    that Sync left: no new login) and logs it out before returning: a waiting phone holds none."""
    changed = []
    owner = waiting.context.owner
    try:
        with mail_session(waiting.context.source, owner=owner) as mail:
            for folder, state in waiting.watched:
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
    finally:
        POOL.close_session(owner)
    if not changed:
        return None
    return element(
        f"{P}Ping",
        None,
        element(f"{P}Status", STATUS_CHANGES),
        element(f"{P}Folders", None, *(element(f"{P}Folder", server_id) for server_id in changed)),
    )


async def wait(waiting: Waiting) -> Element:
    async with new_mail_events(mailbox_id=waiting.context.mailbox.pk) as event:
        # Subscribed before the first look, so mail delivered meanwhile is not missed. _look
        # touches no database row: any thread of the executor will do.
        look = sync_to_async(_look, thread_sensitive=False)
        answer = await look(waiting)
        while answer is None:
            left = waiting.deadline - time.monotonic()
            if left <= 0:
                return element(f"{P}Ping", None, element(f"{P}Status", STATUS_EXPIRED))
            try:
                await asyncio.wait_for(event.wait(), timeout=left)
            except TimeoutError:
                continue
            event.clear()
            answer = await look(waiting)
        return answer
