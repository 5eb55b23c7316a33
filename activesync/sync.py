"""Sync (MS-ASCMD 2.2.1.21) for mail folders, and GetItemEstimate.

What a device holds of a folder is its SyncState (devices.models): the UIDVALIDITY, and the UID
and read/flag bits of every message it was sent. A Sync with the current key applies the
device's changes (read, flag, delete) to IMAP, then sends what differs between that and the
folder now: deletions, read/flag changes, then new messages newest first, at most WindowSize
of them (MoreAvailable when more remain), under the next key. What differs is worked out from
what changed in IMAP since the last Sync (CONDSTORE/QRESYNC), not from a listing of the folder
(activesync.changes). The answer is kept: a request
with the previous key (the device never got the answer) gets it again. Key 0 starts over; a
changed UIDVALIDITY answers Status 3 (invalid key), so the device starts over too.

A message's EAS ServerId is "<folder id>:<UID>": stable for as long as the UIDVALIDITY is."""

from __future__ import annotations

import copy
from xml.etree.ElementTree import Element

from django.db import transaction

from activesync import drafts
from activesync.changes import known_items, pending_now
from activesync.commands import BadRequest, expect
from activesync.context import Context, element
from activesync.message import (
    FLAGGED,
    READ,
    BodyPreference,
    application_data,
    application_data_encoded,
    body_preference,
    change_data,
    flag_bits,
    within_page_bytes,
)
from activesync.numbers import number
from activesync.wbxml import decode, encode, encoded
from activesync.window import filter_type, window_since
from devices.models import DeviceFolder, SyncState
from devices.selectors import device_folder, sync_state, sync_state_locked
from devices.services import (
    device_sync_remember,
    device_synced,
    sync_state_advance,
    sync_state_options_set,
    sync_state_reset,
)
from devices.uidsets import items_pack
from mailstore.errors import NotFound
from mailstore.reader import FolderStatus, MailSession, mail_session

A, E, M = "{AirSync}", "{GetItemEstimate}", "{Email}"

STATUS_OK = 1
STATUS_INVALID_KEY = 3
STATUS_CONVERSION = 6  # the device tried to add a message: not supported for mail
STATUS_NOT_FOUND = 8
STATUS_HIERARCHY_CHANGED = 12
STATUS_EMPTY_REQUEST = 13

DEFAULT_WINDOW = 100
MAX_WINDOW = 512
MAX_COLLECTIONS = 300  # folders in one Sync or GetItemEstimate
STATUS_PROTOCOL_ERROR = 4


def _uid_of(folder: DeviceFolder, server_id: str | None) -> int | None:
    prefix, _, uid = (server_id or "").partition(":")
    return number(uid) if prefix == str(folder.server_id) else None


def _collection(key, collection_id, status, *children: Element | None) -> Element:
    return element(
        f"{A}Collection",
        None,
        element(f"{A}SyncKey", key),
        element(f"{A}CollectionId", collection_id),
        element(f"{A}Status", status),
        *children,
    )


def _window(text: str | None, default: int) -> int:
    value = number(text)
    return default if value is None else max(1, min(value, MAX_WINDOW))


def _remembered(context: Context) -> Element | None:
    """The device's last Sync request with collections, each with its folder's current sync key
    (the device took the answers that followed it); None when there is none to repeat."""
    if not context.device.sync_request:
        return None
    request = decode(bytes(context.device.sync_request))
    for collection in request.findall(f"{A}Collections/{A}Collection"):
        folder = device_folder(device=context.device, server_id=collection.findtext(f"{A}CollectionId") or "")
        state = sync_state(folder=folder) if folder is not None else None
        key = collection.find(f"{A}SyncKey")
        if state is not None and key is not None:
            key.text = str(state.sync_key)
    return request


def _remember(context: Context, request: Element) -> None:
    template = copy.deepcopy(request)
    for collection in template.findall(f"{A}Collections/{A}Collection"):
        for commands in collection.findall(f"{A}Commands"):
            collection.remove(commands)
    device_sync_remember(device=context.device, request=encode(template))


def sync(context: Context, document: Element | None) -> Element:
    request = expect(document, f"{A}Sync") if document is not None else None
    if request is not None and len(request.findall(f"{A}Collections/{A}Collection")) > MAX_COLLECTIONS:
        # More folders than any phone syncs at once: each costs a listing (protocol error, and
        # not remembered for the next empty Sync).
        return element(f"{A}Sync", None, element(f"{A}Status", STATUS_PROTOCOL_ERROR))
    if request is None or not request.findall(f"{A}Collections/{A}Collection"):
        # A Sync without a body (or without collections) repeats the previous one (MS-ASCMD
        # 2.2.3.x Sync: phones send it after a Ping named changes), with its WindowSize if given.
        remembered = _remembered(context)
        if remembered is None:
            return element(f"{A}Sync", None, element(f"{A}Status", STATUS_EMPTY_REQUEST))
        window = request.find(f"{A}WindowSize") if request is not None else None
        if window is not None:
            for old in remembered.findall(f"{A}WindowSize"):
                remembered.remove(old)
            remembered.append(window)
        request = remembered
    else:
        _remember(context, request)
    collections = request.findall(f"{A}Collections/{A}Collection")
    window = _window(request.findtext(f"{A}WindowSize"), DEFAULT_WINDOW)
    answers = [_sync_collection(context, collection, window) for collection in collections]
    device_synced(device=context.device)
    return element(f"{A}Sync", None, element(f"{A}Collections", None, *answers))


def _sync_collection(context: Context, request: Element, window: int) -> Element:
    key = (request.findtext(f"{A}SyncKey") or "").strip()
    collection_id = (request.findtext(f"{A}CollectionId") or "").strip()
    if not key or not collection_id:
        raise BadRequest("Collection without SyncKey or CollectionId")
    folder = device_folder(device=context.device, server_id=collection_id)
    if folder is None:
        return _collection(key, collection_id, STATUS_HIERARCHY_CHANGED)
    window = _window(request.findtext(f"{A}WindowSize"), window)
    options = request.find(f"{A}Options")
    preference = body_preference(options)
    kind = filter_type(options)

    with transaction.atomic(), mail_session(context.source, owner=context.owner) as mail:
        state = sync_state_locked(folder=folder)
        try:
            if key == "0":
                status = mail.folder_status(folder.name)
                state = sync_state_reset(folder=folder, uidvalidity=status.uidvalidity)
                if options is not None:
                    sync_state_options_set(
                        state=state,
                        body_preference={"type": preference.body_type, "truncation": preference.truncation},
                        filter_type=kind,
                    )
                return _collection(state.sync_key, collection_id, STATUS_OK)
            if state is None or key not in (str(state.sync_key), str(state.sync_key - 1)):
                return _collection(key, collection_id, STATUS_INVALID_KEY)
            if key == str(state.sync_key - 1):
                if state.last_response:
                    return decode(bytes(state.last_response))
                return _collection(key, collection_id, STATUS_INVALID_KEY)
            if options is not None:
                # A FilterType other than the one held is taken as it comes (no Status 3, which
                # MS-ASCMD allows): the device keeps what is inside the new window, is sent
                # what the wider one adds, and loses by SoftDelete what the narrower one drops.
                sync_state_options_set(
                    state=state,
                    body_preference={"type": preference.body_type, "truncation": preference.truncation},
                    filter_type=kind,
                )
            elif state.body_preference:
                preference = BodyPreference(
                    int(state.body_preference.get("type", 1)), state.body_preference.get("truncation")
                )
            return _sync_current(mail, folder, state, request, window, preference)
        except NotFound:
            return _collection(key, collection_id, STATUS_HIERARCHY_CHANGED)


def _apply_device_changes(
    mail: MailSession,
    folder: DeviceFolder,
    commands: Element | None,
    known: dict[int, int],
    preference: BodyPreference,
) -> list[Element]:
    """The device's own changes, applied to IMAP and to what it is known to hold (so they are
    not sent back to it). Returns the Responses the device needs (fetches, refusals)."""
    responses: list[Element] = []
    if commands is None:
        return responses
    for command in commands:
        if drafts.takes(folder, command):  # protocol 16.x: a draft written or sent in Drafts
            responses.extend(drafts.apply(mail, folder, command, known))
            continue
        name = command.tag
        server_id = command.findtext(f"{A}ServerId")
        uid = _uid_of(folder, server_id)
        if name == f"{A}Add":
            responses.append(
                element(
                    f"{A}Add",
                    None,
                    element(f"{A}ClientId", command.findtext(f"{A}ClientId") or ""),
                    element(f"{A}Status", STATUS_CONVERSION),
                )
            )
            continue
        if uid is None or uid not in known:
            if name in (f"{A}Change", f"{A}Fetch"):
                responses.append(
                    element(
                        name,
                        None,
                        element(f"{A}ServerId", server_id or ""),
                        element(f"{A}Status", STATUS_NOT_FOUND),
                    )
                )
            continue
        if name == f"{A}Change":
            data = command.find(f"{A}ApplicationData")
            if data is None:
                continue
            bits = known[uid]
            read = data.findtext(f"{M}Read")
            if read in ("0", "1"):
                mail.flags_change(folder.name, [uid], "read" if read == "1" else "unread")
                bits = (bits | READ) if read == "1" else (bits & ~READ)
            flag = data.find(f"{M}Flag")
            if flag is not None:
                flagged = flag.findtext(f"{M}FlagStatus") == "2"
                mail.flags_change(folder.name, [uid], "flag" if flagged else "unflag")
                bits = (bits | FLAGGED) if flagged else (bits & ~FLAGGED)
            known[uid] = bits
        elif name == f"{A}Delete":
            mail.messages_delete(folder.name, [uid])
            known.pop(uid, None)
        elif name == f"{A}Fetch":
            found = mail.messages_raw(folder.name, [uid])
            if not found:
                responses.append(
                    element(
                        f"{A}Fetch",
                        None,
                        element(f"{A}ServerId", server_id),
                        element(f"{A}Status", STATUS_NOT_FOUND),
                    )
                )
                continue
            responses.append(
                element(
                    f"{A}Fetch",
                    None,
                    element(f"{A}ServerId", server_id),
                    element(f"{A}Status", STATUS_OK),
                    application_data(found[0], server_id, preference),
                )
            )
    return responses


def _sync_current(
    mail: MailSession,
    folder: DeviceFolder,
    state: SyncState,
    request: Element,
    window: int,
    preference: BodyPreference,
) -> Element:
    known = known_items(state)
    collection_id = str(folder.server_id)
    get_changes = request.find(f"{A}GetChanges")
    wanted = get_changes is None or (get_changes.text or "1") != "0"
    device_commands = request.find(f"{A}Commands")
    # The next page of a folder being sent (MoreAvailable), with nothing from the device: no
    # STATUS first. It could not show the folder unchanged (the state is not complete), and the
    # listing below checks the UIDVALIDITY itself (and NotFound) in its own SELECT.
    before = None
    if state.complete or device_commands is not None or not wanted:
        before = mail.folder_status(folder.name)
        if before.uidvalidity != state.uidvalidity:
            return _collection(state.sync_key, collection_id, STATUS_INVALID_KEY)
    responses = _apply_device_changes(mail, folder, device_commands, known, preference)

    commands: list[Element] = []
    more = False
    # Nothing changed in the folder since the device was sent all of it: no listing at all (the
    # common case of a phone syncing every few minutes costs one STATUS, not the folder's size).
    # The device's own changes of this request moved HIGHESTMODSEQ, so they are listed.
    # With a FilterType the window must also be the one the device was given messages of (not
    # moved by a day, nor another FilterType since).
    since = window_since(state.filter_type)
    unchanged = (
        before is not None
        and state.complete
        and not responses_changed_folder(request)
        and (before.highestmodseq, before.uidnext, before.messages)
        == (state.highestmodseq, state.uidnext, state.messages)
        and before.highestmodseq > 0
        and since == state.window_since
    )
    # Without a listing the state stays as of its last one (the device's own changes are in
    # `known`; they come back from IMAP as changes equal to what it holds, and are not sent).
    status, left = (
        FolderStatus(state.uidvalidity, state.uidnext, state.messages, state.highestmodseq),
        state.pending,
    )
    if wanted and not unchanged:
        found = pending_now(mail, folder, state, known, since)
        if found is None:
            return _collection(state.sync_key, collection_id, STATUS_INVALID_KEY)
        pending, status = found
        budget = window
        while pending.deleted and budget:
            uid = pending.deleted.pop(0)
            commands.append(element(f"{A}Delete", None, element(f"{A}ServerId", f"{collection_id}:{uid}")))
            known.pop(uid, None)
            budget -= 1
        # Out of the window but still in the folder: SoftDelete, and back among what the device
        # lacks (sent again should the window widen).
        for uid in pending.soft_deleted(known)[:budget]:
            commands.append(
                element(f"{A}SoftDelete", None, element(f"{A}ServerId", f"{collection_id}:{uid}"))
            )
            known.pop(uid, None)
            pending.changed.pop(uid, None)
            pending.added.append(uid)
            budget -= 1
        for uid in [uid for uid in pending.changed if pending.inside(uid)][:budget]:
            bits = pending.changed.pop(uid)
            commands.append(
                element(
                    f"{A}Change",
                    None,
                    element(f"{A}ServerId", f"{collection_id}:{uid}"),
                    change_data(bits),
                )
            )
            known[uid] = bits
            budget -= 1
        if budget and pending.added:
            if pending.window is None:
                wanted_uids = pending.added[:budget]
            else:
                wanted_uids = [uid for uid in pending.added if uid in pending.window][:budget]
            wanted_uids = within_page_bytes(mail, [(folder.name, uid) for uid in wanted_uids])
            taken = set(wanted_uids)
            pending.added = [uid for uid in pending.added if uid not in taken]
            for message in mail.messages_raw(folder.name, wanted_uids):
                server_id = f"{collection_id}:{message.uid}"
                commands.append(
                    element(
                        f"{A}Add",
                        None,
                        element(f"{A}ServerId", server_id),
                        application_data_encoded(message, server_id, preference),
                    )
                )
                known[message.uid] = flag_bits(message.flags)
            # A message expunged between the listing and the fetch is simply not sent (nor known).
        more = pending.due(known) > 0
        left = pending.stored()
    answer = _collection(
        state.sync_key + 1,
        collection_id,
        STATUS_OK,
        element(f"{A}MoreAvailable") if more else None,
        element(f"{A}Commands", None, *commands) if commands else None,
        element(f"{A}Responses", None, *responses) if responses else None,
    )
    # Encoded once: kept for a repeated key, and copied as it is into this answer's document.
    document, answer = encoded(answer)
    sync_state_advance(
        state=state,
        items=items_pack(known),
        response=document,
        uidnext=status.uidnext,
        highestmodseq=status.highestmodseq,
        messages=status.messages,
        complete=not more and wanted,
        pending=left,
        window_since=since,
    )
    return answer


def responses_changed_folder(request: Element) -> bool:
    """Did the device send changes of its own (they are applied before the listing)?"""
    return request.find(f"{A}Commands") is not None


def get_item_estimate(context: Context, document: Element | None) -> Element:
    request = expect(document, f"{E}GetItemEstimate")
    if len(request.findall(f"{E}Collections/{E}Collection")) > MAX_COLLECTIONS:
        raise BadRequest(f"GetItemEstimate of more than {MAX_COLLECTIONS} collections")
    answers = []
    with mail_session(context.source, owner=context.owner) as mail:
        for collection in request.findall(f"{E}Collections/{E}Collection"):
            collection_id = (collection.findtext(f"{E}CollectionId") or "").strip()
            key = (collection.findtext(f"{A}SyncKey") or "").strip()
            folder = device_folder(device=context.device, server_id=collection_id)
            state = sync_state(folder=folder) if folder is not None else None
            if folder is None:
                status, estimate = 2, None  # invalid collection
            elif state is None or key != str(state.sync_key):
                status, estimate = 4, None  # invalid sync key: Sync with key 0 first
            else:
                # The FilterType of the request's Options (protocol 14.x), else the one the
                # device's Syncs of the folder hold.
                options = collection.find(f"{A}Options")
                kind = filter_type(options) if options is not None else state.filter_type
                known = known_items(state)
                try:
                    found = pending_now(mail, folder, state, known, window_since(kind))
                except NotFound:
                    status, estimate = 2, None
                else:
                    # Another UIDVALIDITY: the next Sync answers Status 3 (start over).
                    status, estimate = (1, found[0].due(known)) if found is not None else (4, None)
            answers.append(
                element(
                    f"{E}Response",
                    None,
                    element(f"{E}Status", status),
                    element(
                        f"{E}Collection",
                        None,
                        element(f"{E}CollectionId", collection_id),
                        element(f"{E}Estimate", estimate) if estimate is not None else None,
                    ),
                )
            )
    return element(f"{E}GetItemEstimate", None, *answers)
