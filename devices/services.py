"""Every change of a device and of its sync state (see devices.models).

The ActiveSync endpoint calls these after it has authenticated the mailbox; the device
management pages (webmail settings, control panel) will call device_block / device_wipe_request
with the acting user."""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from core.audit import audit_record
from devices.models import Device, DeviceFolder, SentMessage, SyncState
from devices.uidsets import items_pack, items_unpack

_FIELD_LIMITS = {"device_type": 64, "model": 200, "os": 200, "user_agent": 200, "friendly_name": 200}


def _clip(name: str, value: str) -> str:
    return (value or "").strip()[: _FIELD_LIMITS[name]]


def device_seen(
    *, mailbox: Any, device_id: str, device_type: str, user_agent: str, protocol_version: str
) -> Device:
    """The device `device_id` of `mailbox`, created at its first request; its type, user agent
    and protocol version as it last sent them."""
    device, created = Device.objects.get_or_create(
        mailbox=mailbox,
        device_id=device_id[:64],
        defaults={
            "device_type": _clip("device_type", device_type),
            "user_agent": _clip("user_agent", user_agent),
            "protocol_version": protocol_version[:8],
        },
    )
    if not created:
        changed = {
            "device_type": _clip("device_type", device_type) or device.device_type,
            "user_agent": _clip("user_agent", user_agent) or device.user_agent,
            "protocol_version": protocol_version[:8] or device.protocol_version,
        }
        if any(getattr(device, k) != v for k, v in changed.items()):
            Device.objects.filter(pk=device.pk).update(**changed)
            for k, v in changed.items():
                setattr(device, k, v)
    return device


def device_information_set(
    *, device: Device, model: str = "", os: str = "", friendly_name: str = "", user_agent: str = ""
) -> None:
    """What the device says of itself (Provision or Settings DeviceInformation)."""
    values = {
        "model": _clip("model", model),
        "os": _clip("os", os),
        "friendly_name": _clip("friendly_name", friendly_name),
        "user_agent": _clip("user_agent", user_agent),
    }
    values = {k: v for k, v in values.items() if v}
    if values:
        Device.objects.filter(pk=device.pk).update(**values)
        for k, v in values.items():
            setattr(device, k, v)


def _new_policy_key() -> int:
    return secrets.randbelow(2**31 - 2) + 1  # a positive 32-bit number: some devices parse it as one


def device_provision_offer(*, device: Device) -> int:
    """Step 1 of Provision: a temporary policy key the device acknowledges in step 2."""
    key = _new_policy_key()
    Device.objects.filter(pk=device.pk).update(pending_policy_key=key)
    device.pending_policy_key = key
    return key


def device_provision_accept(*, device: Device, temporary_key: int) -> int | None:
    """Step 2: the device acknowledged the policy under `temporary_key`; its final key, or None
    when the temporary key is not the one offered."""
    with transaction.atomic():
        locked = Device.objects.select_for_update().get(pk=device.pk)
        if locked.pending_policy_key is None or locked.pending_policy_key != temporary_key:
            return None
        key = _new_policy_key()
        locked.policy_key, locked.pending_policy_key = key, None
        locked.save(update_fields=["policy_key", "pending_policy_key"])
    device.policy_key, device.pending_policy_key = key, None
    return key


def _device_change(*, device: Device, actor: Any, action: str, state: str, **fields: Any) -> Device:
    """Change a device's state with its audit row, in one transaction."""
    with transaction.atomic():
        locked = Device.objects.select_for_update().select_related("mailbox__domain").get(pk=device.pk)
        before = locked.state
        locked.state = state
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.save(update_fields=["state", *fields])
        audit_record(
            actor=actor,
            action=action,
            domain=locked.mailbox.domain,
            target=f"{locked.mailbox.address} {locked.device_id}",
            before={"state": before},
            after={"state": state},
        )
    for name in ("state", *fields):
        setattr(device, name, getattr(locked, name))
    return device


def device_block(*, device: Device, actor: Any) -> Device:
    """The device is refused (HTTP 403) until it is allowed again."""
    return _device_change(device=device, actor=actor, action="device.block", state=Device.State.BLOCKED)


def device_allow(*, device: Device, actor: Any) -> Device:
    """A blocked or wiped device may sync again, after a new Provision (its policy key is gone)."""
    return _device_change(
        device=device, actor=actor, action="device.allow", state=Device.State.ALLOWED, policy_key=None
    )


def device_wipe_request(*, device: Device, actor: Any) -> Device:
    """The device is told to wipe itself at its next Provision (every other command answers
    that it must provision first)."""
    return _device_change(
        device=device,
        actor=actor,
        action="device.wipe_request",
        state=Device.State.WIPE_REQUESTED,
        wipe_requested_at=timezone.now(),
    )


def device_wipe_done(*, device: Device) -> Device:
    """The device acknowledged the remote wipe."""
    now = timezone.now()
    Device.objects.filter(pk=device.pk, state=Device.State.WIPE_REQUESTED).update(
        state=Device.State.WIPED, wiped_at=now, policy_key=None
    )
    device.refresh_from_db()
    return device


def device_synced(*, device: Device) -> None:
    now = timezone.now()
    Device.objects.filter(pk=device.pk).update(last_sync_at=now)
    device.last_sync_at = now


# Folder hierarchy ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MailFolder:
    """A folder of the mailbox as the device is to see it."""

    name: str  # IMAP name
    display_name: str
    parent_name: str  # "" at the top level
    folder_type: int  # MS-ASCMD FolderHierarchy Type


@dataclass
class FolderChanges:
    sync_key: int
    added: list[DeviceFolder] = field(default_factory=list)
    deleted: list[DeviceFolder] = field(default_factory=list)
    display_names: dict[int, str] = field(default_factory=dict)


def device_folders_sync(*, device: Device, folders: list[MailFolder], reset: bool) -> FolderChanges:
    """Bring the device's folder list in line with the mailbox and return what changed for it.

    `reset` (FolderSync with key 0): the device starts over, so every folder is reported as
    added and every folder's sync state is dropped; the folders keep their ids."""
    with transaction.atomic():
        locked = Device.objects.select_for_update().get(pk=device.pk)
        rows = {row.name: row for row in DeviceFolder.objects.filter(device=locked, present=True)}
        changes = FolderChanges(sync_key=locked.folder_sync_key)
        wanted = {folder.name: folder for folder in folders}
        next_id = (DeviceFolder.objects.filter(device=locked).aggregate(m=Max("server_id"))["m"] or 0) + 1
        for name, row in rows.items():
            if name not in wanted:
                row.present = False
                row.save(update_fields=["present"])
                SyncState.objects.filter(folder=row).delete()
                changes.deleted.append(row)
        # Parents before children: a child's ParentId must name a folder the device already has.
        for folder in sorted(folders, key=lambda f: f.name.count("/")):
            row = rows.get(folder.name)
            parent = rows.get(folder.parent_name) if folder.parent_name else None
            parent_id = parent.server_id if parent else 0
            if row is None:
                row = DeviceFolder.objects.create(
                    device=locked,
                    server_id=next_id,
                    name=folder.name,
                    parent_server_id=parent_id,
                    folder_type=folder.folder_type,
                )
                next_id += 1
                rows[folder.name] = row
                changes.added.append(row)
            elif reset:
                changes.added.append(row)
            changes.display_names[row.server_id] = folder.display_name
        if reset:
            SyncState.objects.filter(folder__device=locked).delete()
            changes.deleted = []
        if reset or changes.added or changes.deleted:
            locked.folder_sync_key += 1
            locked.save(update_fields=["folder_sync_key"])
        changes.sync_key = locked.folder_sync_key
    device.folder_sync_key = changes.sync_key
    return changes


# Sync state ------------------------------------------------------------------------------------


def sync_state_reset(*, folder: DeviceFolder, uidvalidity: int) -> SyncState:
    """Sync key 0: the device holds nothing of the folder. The new key continues the old count,
    so that no key from before the reset is taken for a current one."""
    state, _created = SyncState.objects.get_or_create(folder=folder)
    state.sync_key += 1
    state.uidvalidity = uidvalidity
    state.items = {}
    state.last_response = None
    state.uidnext = state.highestmodseq = state.messages = 0
    state.pending = None
    state.complete = False
    state.window_since = None
    state.save()
    return state


def sync_state_advance(
    *,
    state: SyncState,
    items: dict[str, str],
    response: bytes,
    uidnext: int,
    highestmodseq: int,
    messages: int,
    complete: bool,
    pending: dict | None,
    window_since: datetime.date | None = None,
) -> SyncState:
    """The device was sent `response` for its current key: it now holds `items` (packed:
    devices.uidsets.items_pack), and lacks
    `pending` of the folder as of `highestmodseq`, under the next key, its messages since
    `window_since` (FilterType; None: all of them). `state` must be locked
    (select_for_update) by the caller's transaction."""
    state.sync_key += 1
    state.items = items
    state.last_response = response
    state.uidnext, state.highestmodseq, state.messages = uidnext, highestmodseq, messages
    state.complete = complete
    state.pending = pending
    state.window_since = window_since
    state.save()
    return state


# SendMail ----------------------------------------------------------------------------------


def sent_message_claim(*, device: Device, client_id: str) -> bool:
    """Record that the device's message `client_id` is being sent; False when it was before."""
    try:
        with transaction.atomic():
            SentMessage.objects.create(device=device, client_id=client_id[:128])
    except IntegrityError:
        return False
    return True


def sent_message_release(*, device: Device, client_id: str) -> None:
    """The send failed: the device may try the same message again."""
    SentMessage.objects.filter(device=device, client_id=client_id[:128]).delete()


# A phone retries a send whose answer it lost within minutes (hours when it was offline): a month
# of ClientIds is plenty, and the table does not grow with every message ever sent.
SENT_MESSAGE_KEEP = datetime.timedelta(days=30)


def sent_messages_forget(*, batch: int = 5000) -> int:
    """Daily: forget the ClientIds of sends older than SENT_MESSAGE_KEEP, in batches. Returns how
    many were forgotten; idempotent."""
    cutoff = timezone.now() - SENT_MESSAGE_KEEP
    forgotten = 0
    while True:
        ids = list(SentMessage.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:batch])
        if not ids:
            return forgotten
        forgotten += SentMessage.objects.filter(pk__in=ids).delete()[0]


def sync_state_item_moved(
    *, source: DeviceFolder, uid: int, target: DeviceFolder, new_uid: int | None, bits: int
) -> None:
    """The device moved a message itself (MoveItems): it no longer holds `uid` in `source` and
    holds `new_uid` in `target`, so neither is sent back to it as a change."""
    with transaction.atomic():
        for state in SyncState.objects.select_for_update().filter(folder__in=[source, target]).order_by("pk"):
            items = items_unpack(state.items)
            if state.folder_id == source.pk:
                items.pop(uid, None)
            elif new_uid is not None:
                items[new_uid] = bits
            state.items = items_pack(items)
            state.save(update_fields=["items", "updated_at"])


def sync_state_options_set(*, state: SyncState, body_preference: dict, filter_type: int = 0) -> None:
    """The device's Sync Options, kept for its later Syncs of the folder. Another FilterType
    needs nothing more: the next Sync compares the device's messages with the new window."""
    if state.body_preference != body_preference or state.filter_type != filter_type:
        state.body_preference = body_preference
        state.filter_type = filter_type
        state.save(update_fields=["body_preference", "filter_type", "updated_at"])


# Folder changes made by the device itself (FolderCreate, FolderUpdate, FolderDelete) --------


def _bump_folder_key(device: Device) -> int:
    locked = Device.objects.select_for_update().get(pk=device.pk)
    locked.folder_sync_key += 1
    locked.save(update_fields=["folder_sync_key"])
    device.folder_sync_key = locked.folder_sync_key
    return locked.folder_sync_key


def device_folder_added(
    *, device: Device, name: str, parent_server_id: int, folder_type: int
) -> DeviceFolder:
    """The device created a folder: it knows it already (it is not sent back as an Add)."""
    with transaction.atomic():
        _bump_folder_key(device)
        next_id = (DeviceFolder.objects.filter(device=device).aggregate(m=Max("server_id"))["m"] or 0) + 1
        return DeviceFolder.objects.create(
            device=device,
            server_id=next_id,
            name=name,
            parent_server_id=parent_server_id,
            folder_type=folder_type,
        )


def device_folder_renamed(
    *, device: Device, folder: DeviceFolder, new_name: str, parent_server_id: int
) -> int:
    """The device renamed or moved a folder (and with it its subfolders); ids and sync states
    stay (IMAP RENAME keeps UIDVALIDITY). Returns the new folder sync key."""
    with transaction.atomic():
        key = _bump_folder_key(device)
        old = folder.name
        for row in DeviceFolder.objects.select_for_update().filter(device=device, present=True):
            if row.pk == folder.pk:
                row.name, row.parent_server_id = new_name, parent_server_id
            elif row.name.startswith(old + "/"):
                row.name = new_name + row.name[len(old) :]
            else:
                continue
            row.save(update_fields=["name", "parent_server_id"])
        return key


def device_folder_removed(*, device: Device, folder: DeviceFolder) -> int:
    """The device deleted a folder (and its subfolders). Returns the new folder sync key."""
    with transaction.atomic():
        key = _bump_folder_key(device)
        rows = [
            row
            for row in DeviceFolder.objects.select_for_update().filter(device=device, present=True)
            if row.pk == folder.pk or row.name.startswith(folder.name + "/")
        ]
        SyncState.objects.filter(folder__in=rows).delete()
        DeviceFolder.objects.filter(pk__in=[row.pk for row in rows]).update(present=False)
        return key


def device_ping_remember(*, device: Device, heartbeat: int, folders: list[str]) -> None:
    """The parameters a later Ping without them repeats (MS-ASCMD Ping)."""
    if (device.ping_heartbeat, device.ping_folders) != (heartbeat, folders):
        Device.objects.filter(pk=device.pk).update(ping_heartbeat=heartbeat, ping_folders=folders)
        device.ping_heartbeat, device.ping_folders = heartbeat, folders


def device_sync_remember(*, device: Device, request: bytes) -> None:
    """The Sync request (without its Commands) that a later Sync without a body repeats."""
    if device.sync_request is None or bytes(device.sync_request) != request:
        Device.objects.filter(pk=device.pk).update(sync_request=request)
        device.sync_request = request
