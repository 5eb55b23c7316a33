"""FolderSync (MS-ASCMD 2.2.1.5): the mailbox's folders, each with a stable id per device."""

from __future__ import annotations

from xml.etree.ElementTree import Element

from activesync.commands import expect
from activesync.context import Context, element
from devices.selectors import device_folder
from devices.services import (
    MailFolder,
    device_folder_added,
    device_folder_removed,
    device_folder_renamed,
    device_folders_sync,
)
from mailstore.errors import Refused
from mailstore.folders import SEPARATOR, is_protected
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


# Folder changes from the device ----------------------------------------------------------------

STATUS_EXISTS = 2
STATUS_SPECIAL = 3
STATUS_NOT_FOUND = 4
STATUS_PARENT_NOT_FOUND = 5
STATUS_SERVER_ERROR = 6
STATUS_MALFORMED = 10


def _answer(command: str, status: int, *children: Element | None) -> Element:
    return element(f"{F}{command}", None, element(f"{F}Status", status), *children)


def _check_key(context: Context, request: Element) -> bool:
    return (request.findtext(f"{F}SyncKey") or "").strip() == str(context.device.folder_sync_key)


def _target_name(context: Context, parent_id: str, display_name: str) -> tuple[int, str] | None:
    """(parent id, IMAP name) of a folder named `display_name` under `parent_id` ("0": the top)."""
    if parent_id in ("", "0"):
        return 0, display_name
    parent = device_folder(device=context.device, server_id=parent_id)
    if parent is None:
        return None
    return parent.server_id, f"{parent.name}{SEPARATOR}{display_name}"


def _valid_display_name(name: str) -> bool:
    return bool(name) and SEPARATOR not in name and len(name) <= 200 and not any(ord(c) < 32 for c in name)


def folder_create(context: Context, document: Element | None) -> Element:
    request = expect(document, f"{F}FolderCreate")
    if not _check_key(context, request):
        return _answer("FolderCreate", STATUS_INVALID_KEY)
    display_name = (request.findtext(f"{F}DisplayName") or "").strip()
    if not _valid_display_name(display_name):
        return _answer("FolderCreate", STATUS_MALFORMED)
    target = _target_name(context, (request.findtext(f"{F}ParentId") or "0").strip(), display_name)
    if target is None:
        return _answer("FolderCreate", STATUS_PARENT_NOT_FOUND)
    parent_id, name = target
    with mail_session(context.source, owner=context.owner) as mail:
        if name in mail.folder_names() or is_protected(name):
            return _answer("FolderCreate", STATUS_EXISTS)
        try:
            mail.folder_create(name)
        except Refused:
            return _answer("FolderCreate", STATUS_SERVER_ERROR)
    row = device_folder_added(
        device=context.device, name=name, parent_server_id=parent_id, folder_type=TYPE_USER_MAIL
    )
    return _answer(
        "FolderCreate",
        STATUS_OK,
        element(f"{F}SyncKey", context.device.folder_sync_key),
        element(f"{F}ServerId", row.server_id),
    )


def folder_update(context: Context, document: Element | None) -> Element:
    request = expect(document, f"{F}FolderUpdate")
    if not _check_key(context, request):
        return _answer("FolderUpdate", STATUS_INVALID_KEY)
    folder = device_folder(device=context.device, server_id=(request.findtext(f"{F}ServerId") or "").strip())
    if folder is None:
        return _answer("FolderUpdate", STATUS_NOT_FOUND)
    if folder.folder_type != TYPE_USER_MAIL:
        return _answer("FolderUpdate", STATUS_SPECIAL)
    display_name = (request.findtext(f"{F}DisplayName") or "").strip()
    if not _valid_display_name(display_name):
        return _answer("FolderUpdate", STATUS_MALFORMED)
    target = _target_name(context, (request.findtext(f"{F}ParentId") or "0").strip(), display_name)
    if target is None:
        return _answer("FolderUpdate", STATUS_PARENT_NOT_FOUND)
    parent_id, name = target
    if name != folder.name:
        with mail_session(context.source, owner=context.owner) as mail:
            if name in mail.folder_names():
                return _answer("FolderUpdate", STATUS_EXISTS)
            try:
                mail.folder_rename(folder.name, name)
            except Refused:
                return _answer("FolderUpdate", STATUS_SERVER_ERROR)
    key = device_folder_renamed(
        device=context.device, folder=folder, new_name=name, parent_server_id=parent_id
    )
    return _answer("FolderUpdate", STATUS_OK, element(f"{F}SyncKey", key))


def folder_delete(context: Context, document: Element | None) -> Element:
    request = expect(document, f"{F}FolderDelete")
    if not _check_key(context, request):
        return _answer("FolderDelete", STATUS_INVALID_KEY)
    folder = device_folder(device=context.device, server_id=(request.findtext(f"{F}ServerId") or "").strip())
    if folder is None:
        return _answer("FolderDelete", STATUS_NOT_FOUND)
    if folder.folder_type != TYPE_USER_MAIL:
        return _answer("FolderDelete", STATUS_SPECIAL)
    with mail_session(context.source, owner=context.owner) as mail:
        # Subfolders first: IMAP DELETE of a folder with subfolders only makes it \Noselect.
        inside = [n for n in mail.folder_names() if n.startswith(folder.name + SEPARATOR)]
        try:
            for name in sorted(inside, key=lambda n: n.count(SEPARATOR), reverse=True):
                mail.folder_delete(name)
            mail.folder_delete(folder.name)
        except Refused:
            return _answer("FolderDelete", STATUS_SERVER_ERROR)
    key = device_folder_removed(device=context.device, folder=folder)
    return _answer("FolderDelete", STATUS_OK, element(f"{F}SyncKey", key))
