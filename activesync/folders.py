"""FolderSync (MS-ASCMD 2.2.1.5): the mailbox's folders, each with a stable id per device."""

from __future__ import annotations

from xml.etree.ElementTree import Element

from activesync.commands import expect
from activesync.context import Context, element
from devices.services import MailFolder, device_folders_sync
from mailstore.folders import SEPARATOR
from mailstore.reader import mail_session

F = "{FolderHierarchy}"

# MS-ASCMD FolderHierarchy Type
TYPE_USER_MAIL = 12
SPECIAL_TYPES = {"INBOX": 2, "Drafts": 3, "Trash": 4, "Sent": 5}
STATUS_OK = 1
STATUS_INVALID_KEY = 9


def mailbox_folders(context: Context) -> list[MailFolder]:
    with mail_session(context.source, owner=context.owner) as mail:
        tree = mail.folder_tree(counts=False)
    out = []
    for folder in tree:
        if not folder.selectable:
            continue
        parent = (
            folder.name.rsplit(SEPARATOR, 1)[0] if SEPARATOR in folder.name and not folder.special else ""
        )
        out.append(
            MailFolder(
                name=folder.name,
                display_name=folder.label,
                parent_name=parent,
                folder_type=SPECIAL_TYPES.get(folder.special, TYPE_USER_MAIL),
            )
        )
    names = {f.name for f in out}
    # A parent that is not selectable (\Noselect) is not sent: its children go to the top level.
    return [f if not f.parent_name or f.parent_name in names else _top(f) for f in out]


def _top(folder: MailFolder) -> MailFolder:
    return MailFolder(folder.name, folder.display_name, "", folder.folder_type)


def folder_sync(context: Context, document: Element | None) -> Element:
    request = expect(document, f"{F}FolderSync")
    key = (request.findtext(f"{F}SyncKey") or "").strip()
    device = context.device
    if key != "0" and key != str(device.folder_sync_key):
        return element(f"{F}FolderSync", None, element(f"{F}Status", STATUS_INVALID_KEY))
    changes = device_folders_sync(device=device, folders=mailbox_folders(context), reset=key == "0")
    items = [
        element(f"{F}Delete", None, element(f"{F}ServerId", row.server_id)) for row in changes.deleted
    ] + [
        element(
            f"{F}Add",
            None,
            element(f"{F}ServerId", row.server_id),
            element(f"{F}ParentId", row.parent_server_id),
            element(f"{F}DisplayName", changes.display_names.get(row.server_id, row.name)),
            element(f"{F}Type", row.folder_type),
        )
        for row in changes.added
    ]
    return element(
        f"{F}FolderSync",
        None,
        element(f"{F}Status", STATUS_OK),
        element(f"{F}SyncKey", changes.sync_key),
        element(f"{F}Changes", None, element(f"{F}Count", len(items)), *items),
    )
