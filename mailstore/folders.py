"""The folder tree of a mailbox: special folders (shown first, with localized names, never
renamed or deleted) and the others by path, each with its message and unread counts."""

from __future__ import annotations

from dataclasses import dataclass

import imapclient
import imapclient.imap_utf7
import imapclient.response_parser
from django.utils.translation import pgettext_lazy

from mailstore.errors import Refused

SEPARATOR = "/"
# Special folders: shown first, with localized names, never renamed or deleted.
SPECIAL_ORDER = ["INBOX", "Drafts", "Sent", "Junk", "Trash"]
SPECIAL_NAMES = {
    "INBOX": pgettext_lazy("mail folder", "Inbox"),
    "Drafts": pgettext_lazy("mail folder", "Drafts"),
    "Sent": pgettext_lazy("mail folder", "Sent"),
    "Junk": pgettext_lazy("mail folder", "Junk"),
    "Trash": pgettext_lazy("mail folder", "Trash"),
}
SPECIAL_USE = {b"\\Drafts": "Drafts", b"\\Sent": "Sent", b"\\Junk": "Junk", b"\\Trash": "Trash"}


@dataclass
class Folder:
    name: str  # the IMAP name (decoded from modified UTF-7)
    label: str  # what the user sees: localized for special folders, last path segment otherwise
    depth: int
    special: str = ""  # INBOX, Drafts, Sent, Junk, Trash or ""
    messages: int = 0
    unseen: int = 0
    selectable: bool = True

    @property
    def protected(self) -> bool:
        return bool(self.special)


def _list_status(client: imapclient.IMAPClient) -> tuple[list, dict[str, dict]]:
    """LIST with STATUS in one round trip (RFC 5819 LIST-STATUS, Dovecot has it): the folder
    tree with counts costs one command instead of one STATUS per folder."""
    imap = client._imap
    typ, dat = imap._simple_command("LIST", '""', '"*"', "RETURN", "(SPECIAL-USE STATUS (MESSAGES UNSEEN))")
    if typ != "OK":
        raise Refused(f"LIST-STATUS refused: {dat}")
    _typ, listed = imap._untagged_response(typ, dat, "LIST")
    _typ, statuses = imap._untagged_response(typ, [None], "STATUS")
    folders = client._proc_folder_list(listed)
    counts: dict[str, dict] = {}
    for item in statuses or ():
        if not item:
            continue
        parsed = imapclient.response_parser.parse_response([item])
        name = parsed[0]
        name = imapclient.imap_utf7.decode(name) if isinstance(name, bytes) else str(name)
        counts[name] = dict(zip(parsed[-1][::2], parsed[-1][1::2], strict=False))
    return folders, counts


def folder_tree(client: imapclient.IMAPClient, *, counts: bool = True) -> list[Folder]:
    """Every folder, special ones first in a fixed order, the others sorted by path."""
    folders = []
    listed, statuses = _list_status(client) if counts else (client.list_folders(), {})
    for flags, _sep, name in listed:
        special = "INBOX" if name.upper() == "INBOX" else ""
        for flag in flags:
            if flag in SPECIAL_USE and name == SPECIAL_USE[flag]:
                special = SPECIAL_USE[flag]
        parts = name.split(SEPARATOR)
        status = statuses.get(name, {})
        folder = Folder(
            name=name,
            label=str(SPECIAL_NAMES[special]) if special else parts[-1],
            depth=0 if special else len(parts) - 1,
            special=special,
            selectable=b"\\Noselect" not in flags and b"\\NonExistent" not in flags,
            messages=status.get(b"MESSAGES", 0),
            unseen=status.get(b"UNSEEN", 0),
        )
        folders.append(folder)

    def order(f: Folder):
        if f.special:
            return (0, SPECIAL_ORDER.index(f.special), "")
        return (1, 0, f.name.casefold())

    return sorted(folders, key=order)


def is_protected(name: str) -> bool:
    return name.upper() == "INBOX" or name in SPECIAL_NAMES
