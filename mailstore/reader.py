"""The user's mail on Dovecot, through the IMAP connection of the request: folders with unread
counts, sorted and searched message lists (IMAP SORT/SEARCH on the server), messages, flags,
moves, appends. The only webmail module that speaks IMAP; its one error is StoreError.

Every call works on the IMAP login of the session's own mailbox (master user, see
mailstore.imap), so a UID, a folder or a part of another mailbox simply does not exist here:
the views turn "not found" into 404."""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from email.header import decode_header, make_header
from typing import Any

import imapclient
import imapclient.imap_utf7
import imapclient.response_parser
from django.http import Http404
from django.utils.translation import pgettext_lazy
from imapclient.exceptions import IMAPClientError

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

SORT_KEYS = {"date": "ARRIVAL", "from": "FROM", "subject": "SUBJECT", "size": "SIZE"}
LIST_ITEMS = [b"UID", b"FLAGS", b"ENVELOPE", b"RFC822.SIZE", b"BODY.PEEK[HEADER.FIELDS (CONTENT-TYPE)]"]
CT_KEY = b"BODY[HEADER.FIELDS (CONTENT-TYPE)]"


class StoreError(RuntimeError):
    """The IMAP server refused or failed an operation (the message is for the log)."""


# Folders --------------------------------------------------------------------------------------


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
        raise StoreError(f"LIST-STATUS refused: {dat}")
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


def folder_names(client: imapclient.IMAPClient) -> set[str]:
    return {name for _flags, _sep, name in client.list_folders()}


def is_protected(name: str) -> bool:
    return name.upper() == "INBOX" or name in SPECIAL_NAMES


def select(conn, folder: str, *, readonly: bool = False) -> dict:
    """Select `folder` on the pooled connection (404 when the mailbox has no such folder)."""
    try:
        info = conn.client.select_folder(folder, readonly=readonly)
    except IMAPClientError as exc:
        conn.selected = None
        raise Http404 from exc
    conn.selected = folder
    return info


# Lists ------------------------------------------------------------------------------------


_OLDEST = date(1900, 1, 1)
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass
class Search:
    text: str = ""  # looked up in the field chosen by `where`
    where: str = "all"  # all (from, to, subject, body), from, to, subject, body
    since: date | None = None
    before: date | None = None  # inclusive: the user means "until this day"
    unseen: bool = False
    flagged: bool = False

    def criteria(self) -> list:
        crit: list[Any] = []
        # imapclient sends a search string as a quoted string (or bare) when it is ASCII: a CR
        # or LF in it would end the command line and start a new IMAP command (a GET link
        # could delete the user's folders). No header or body search needs control characters.
        text = _CONTROL_CHARS.sub(" ", self.text).strip()
        if text:
            if self.where in ("from", "to", "subject", "body"):
                crit += [self.where.upper(), text]
            else:
                crit += ["OR", "OR", "FROM", text, "TO", text, "OR", "SUBJECT", text, "BODY", text]
        # imapclient writes the year without leading zeros (1-Jan-1) and Dovecot answers BAD: a
        # date before 1900 is no lower bound, or an upper bound nothing is older than.
        if self.since and self.since >= _OLDEST:
            crit += ["SINCE", self.since]
        if self.before and self.before < date.max:  # "until 9999-12-31" is no limit (and would overflow)
            from datetime import timedelta

            crit += ["BEFORE", max(self.before + timedelta(days=1), _OLDEST)]
        if self.unseen:
            crit.append("UNSEEN")
        if self.flagged:
            crit.append("FLAGGED")
        return crit or ["ALL"]

    @property
    def active(self) -> bool:
        return bool(
            _CONTROL_CHARS.sub(" ", self.text).strip()
            or self.since
            or self.before
            or self.unseen
            or self.flagged
        )


@dataclass
class Address:
    name: str
    email: str

    def __str__(self) -> str:
        return email.utils.formataddr((self.name, self.email)) if self.name else self.email

    @property
    def display(self) -> str:
        return self.name or self.email


@dataclass
class ListItem:
    uid: int
    subject: str
    sender: list[Address]
    to: list[Address]
    date: datetime | None
    size: int
    seen: bool
    flagged: bool
    answered: bool
    draft: bool
    has_attachment: bool


@dataclass
class Page:
    items: list[ListItem]
    total: int
    number: int
    pages: int
    per_page: int
    uids: list[int] = field(default_factory=list)

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def decode_text(raw: bytes | str | None) -> str:
    """A header value (RFC 2047 encoded words, unknown charsets survive as replacement chars)."""
    if raw is None:
        return ""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        return str(make_header(decode_header(raw)))
    except (LookupError, UnicodeError, ValueError, AssertionError):
        return raw


def _addresses(items) -> list[Address]:
    out = []
    for a in items or ():
        if a.mailbox is None or a.host is None:
            continue  # group syntax markers
        mailbox = a.mailbox.decode("utf-8", "replace")
        host = a.host.decode("utf-8", "replace")
        out.append(Address(name=decode_text(a.name), email=f"{mailbox}@{host}"))
    return out


def _list_item(uid: int, data: dict) -> ListItem:
    env = data.get(b"ENVELOPE")
    flags = set(data.get(b"FLAGS", ()))
    ctype = (data.get(CT_KEY) or b"").lower()
    return ListItem(
        uid=uid,
        subject=decode_text(env.subject) if env else "",
        sender=_addresses(env.from_) if env else [],
        to=_addresses(env.to) if env else [],
        date=env.date if env else None,
        size=data.get(b"RFC822.SIZE", 0),
        seen=b"\\Seen" in flags,
        flagged=b"\\Flagged" in flags,
        answered=b"\\Answered" in flags,
        draft=b"\\Draft" in flags,
        has_attachment=b"multipart/mixed" in ctype,
    )


def message_page(
    conn,
    folder: str,
    *,
    sort: str = "date",
    reverse: bool = True,
    search: Search | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page:
    """One page of the folder, sorted (and filtered) by the server: SORT returns the ordered
    UIDs, only the page's UIDs are fetched."""
    select(conn, folder, readonly=True)
    client = conn.client
    key = SORT_KEYS.get(sort, "ARRIVAL")
    criteria = [f"REVERSE {key}" if reverse else key]
    uids = client.sort(criteria, (search or Search()).criteria(), charset="UTF-8")
    total = len(uids)
    pages = max(1, -(-total // per_page))
    number = min(max(1, page), pages)
    wanted = uids[(number - 1) * per_page : number * per_page]
    fetched = client.fetch(wanted, LIST_ITEMS) if wanted else {}
    items = [_list_item(uid, fetched[uid]) for uid in wanted if uid in fetched]
    return Page(items=items, total=total, number=number, pages=pages, per_page=per_page, uids=uids)


# Messages -----------------------------------------------------------------------------------


@dataclass
class RawMessage:
    uid: int
    raw: bytes
    flags: set
    internal_date: datetime | None


UID_MAX = 2**32 - 1  # RFC 3501: a UID is a 32-bit number; Dovecot answers BAD to a larger one


def message_raw(conn, folder: str, uid: int, *, mark_seen: bool = False) -> RawMessage:
    if not 0 < uid <= UID_MAX:
        raise Http404
    select(conn, folder)
    data = conn.client.fetch([uid], [b"BODY.PEEK[]", b"FLAGS", b"INTERNALDATE"]).get(uid)
    if not data or b"BODY[]" not in data:
        raise Http404
    flags = set(data.get(b"FLAGS", ()))
    if mark_seen and b"\\Seen" not in flags:
        conn.client.add_flags([uid], [b"\\Seen"], silent=True)
        flags.add(b"\\Seen")
    return RawMessage(uid=uid, raw=data[b"BODY[]"], flags=flags, internal_date=data.get(b"INTERNALDATE"))


def neighbours(
    conn, folder: str, uid: int, *, sort: str = "date", reverse: bool = True
) -> tuple[int | None, int | None]:
    """The previous and next UIDs in the list order (for j/k and the arrows on the message page)."""
    key = SORT_KEYS.get(sort, "ARRIVAL")
    uids = conn.client.sort([f"REVERSE {key}" if reverse else key], ["ALL"], charset="UTF-8")
    try:
        i = uids.index(uid)
    except ValueError:
        return None, None
    return (uids[i - 1] if i > 0 else None), (uids[i + 1] if i + 1 < len(uids) else None)


FLAG_ACTIONS = {
    "read": ("add", b"\\Seen"),
    "unread": ("remove", b"\\Seen"),
    "flag": ("add", b"\\Flagged"),
    "unflag": ("remove", b"\\Flagged"),
}


def existing_uids(conn, uids: list[int]) -> list[int]:
    uids = [u for u in uids if 0 < u <= UID_MAX]
    if not uids:
        return []
    return sorted(conn.client.search(["UID", ",".join(str(u) for u in uids)]))


def flags_change(conn, folder: str, uids: list[int], action: str) -> int:
    how, flag = FLAG_ACTIONS[action]
    select(conn, folder)
    uids = existing_uids(conn, uids)
    if uids:
        (conn.client.add_flags if how == "add" else conn.client.remove_flags)(uids, [flag], silent=True)
    return len(uids)


def messages_move(conn, folder: str, uids: list[int], target: str) -> int:
    if target not in folder_names(conn.client):
        raise Http404
    select(conn, folder)
    uids = existing_uids(conn, uids)
    if uids and target != folder:
        conn.client.move(uids, target)
    return len(uids)


def messages_delete(conn, folder: str, uids: list[int]) -> int:
    """To Trash; from Trash (or Junk) for good."""
    if folder in ("Trash", "Junk"):
        select(conn, folder)
        uids = existing_uids(conn, uids)
        if uids:
            conn.client.delete_messages(uids, silent=True)
            conn.client.uid_expunge(uids)
        return len(uids)
    return messages_move(conn, folder, uids, "Trash")


def folder_empty(conn, folder: str) -> int:
    if folder not in ("Trash", "Junk"):
        raise StoreError("only Trash and Junk can be emptied")
    select(conn, folder)
    uids = conn.client.search(["ALL"])
    if uids:
        conn.client.delete_messages(uids, silent=True)
        conn.client.expunge()
    return len(uids)


_APPENDUID = re.compile(rb"APPENDUID \d+ (\d+)")


def append(conn, folder: str, raw: bytes, *, flags: tuple = (), when: datetime | None = None) -> int | None:
    """APPEND a message; returns its UID (UIDPLUS)."""
    conn.selected = None
    response = conn.client.append(folder, raw, flags=flags, msg_time=when)
    match = _APPENDUID.search(response if isinstance(response, bytes) else str(response).encode())
    return int(match.group(1)) if match else None


def message_delete_now(conn, folder: str, uid: int) -> None:
    """Remove one message for good (the previous version of a draft)."""
    select(conn, folder)
    if existing_uids(conn, [uid]):
        conn.client.delete_messages([uid], silent=True)
        conn.client.uid_expunge([uid])


def folder_create(conn, name: str) -> None:
    try:
        conn.client.create_folder(name)
        conn.client.subscribe_folder(name)
    except IMAPClientError as exc:
        raise StoreError(str(exc)) from exc


def folder_rename(conn, old: str, new: str) -> None:
    conn.selected = None
    try:
        conn.client.rename_folder(old, new)
        conn.client.subscribe_folder(new)
    except IMAPClientError as exc:
        raise StoreError(str(exc)) from exc


def folder_delete(conn, name: str) -> None:
    conn.selected = None
    try:
        conn.client.select_folder("INBOX", readonly=True)  # never delete the selected folder
        conn.client.delete_folder(name)
    except IMAPClientError as exc:
        raise StoreError(str(exc)) from exc
