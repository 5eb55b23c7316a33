"""Reads of devices and their sync state, scoped to the mailbox they belong to."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from devices.models import Device, DeviceFolder, SyncState


def devices_of_mailbox(*, mailbox: Any) -> QuerySet[Device]:
    return Device.objects.filter(mailbox=mailbox).order_by("-last_sync_at", "device_id")


def device_of_mailbox(*, mailbox: Any, pk: int) -> Device | None:
    """The device `pk` when it belongs to `mailbox`; None otherwise (another mailbox's device
    does not exist for this caller)."""
    return Device.objects.filter(mailbox=mailbox, pk=pk).first()


def device_folder(*, device: Device, server_id: str) -> DeviceFolder | None:
    """The present folder `server_id` (the EAS CollectionId) of this device, or None."""
    text = str(server_id).strip()
    # ASCII digits of a value the column can hold ("²" passes isdigit() and fails int()).
    if not text.isascii() or not text.isdigit() or len(text) > 10 or int(text) > 2**31 - 1:
        return None
    return DeviceFolder.objects.filter(device=device, server_id=int(text), present=True).first()


def device_folders(*, device: Device) -> QuerySet[DeviceFolder]:
    return DeviceFolder.objects.filter(device=device, present=True).order_by("server_id")


def sync_state_locked(*, folder: DeviceFolder) -> SyncState | None:
    """The folder's sync state, locked for the caller's transaction (None before key 0). The
    last answer (a page of messages) is read only when asked for: a repeated key is rare."""
    return SyncState.objects.select_for_update().defer("last_response").filter(folder=folder).first()


def sync_state(*, folder: DeviceFolder) -> SyncState | None:
    return SyncState.objects.filter(folder=folder).first()
