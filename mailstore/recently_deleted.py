"""Recently deleted mail: what Dovecot's lazy_expunge plugin kept of the messages expunged in
the last DELETED_KEEP_DAYS days (mailstore.dovecot_config: a hidden namespace, prefix
".DELETED/", outside the Maildir, not counted in the quota, autoexpunged after 15 days).

A message expunged from folder F is in ".DELETED/F". A message moved elsewhere leaves a copy
there too (lazy_expunge_only_last_instance cannot be used beside hard-linked snapshots, see
mailstore.dovecot_config), so the list leaves out every message still somewhere in the
mailbox (same GUID) and shows each GUID once, its latest deletion. Its deletion date is its
save date there (Dovecot's X-SAVEDATE).
Putting one back moves it to F (re-created when it is gone since): the move out of the
namespace is a real expunge there, and the message is counted in the quota again.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from mailstore.dovecot_config import LAZY_PREFIX
from mailstore.errors import NotFound
from mailstore.imap import LiveMailbox, close_client, imap_errors
from mailstore.reader import UID_MAX, decode_text

FETCH_ITEMS = [b"ENVELOPE", b"RFC822.SIZE", b"X-SAVEDATE", b"X-GUID"]
LIMIT = 2000  # newest first; a mailbox that deleted more in 15 days shows the latest ones


@dataclass
class DeletedMessage:
    folder: str  # where it was deleted from
    uid: int  # in the hidden namespace's folder
    guid: str
    subject: str
    sender: str
    date: datetime.datetime | None
    deleted_at: datetime.datetime | None
    size: int


def _hidden_folders(client) -> list[str]:
    names = []
    for flags, _sep, name in client.list_folders(directory="", pattern=f"{LAZY_PREFIX}*"):
        if {f.lower() for f in flags} & {b"\\noselect", b"\\nonexistent"}:
            continue
        if name.startswith(LAZY_PREFIX):
            names.append(name)
    return names


def _sender(envelope) -> str:
    for address in (envelope.from_ or ()) if envelope else ():
        if address.mailbox and address.host:
            name = decode_text(address.name)
            email = f"{address.mailbox.decode('utf-8', 'replace')}@{address.host.decode('utf-8', 'replace')}"
            return f"{name} <{email}>" if name else email
    return ""


def deleted_list(source: LiveMailbox) -> list[DeletedMessage]:
    """The messages deleted in the last 15 days, newest deletion first (at most LIMIT)."""
    with imap_errors("recently deleted: login"):
        client = source.open()
    try:
        items: list[DeletedMessage] = []
        with imap_errors("recently deleted: list"):
            live = _live_guids(client)
            for hidden in _hidden_folders(client):
                client.select_folder(hidden, readonly=True)
                uids = client.search(["ALL"])
                if not uids:
                    continue
                for uid, data in client.fetch(uids[-LIMIT:], FETCH_ITEMS).items():
                    guid = (data.get(b"X-GUID") or b"").decode("ascii", "replace")
                    if guid and guid in live:
                        continue  # moved, not deleted (or put back since)
                    envelope = data.get(b"ENVELOPE")
                    items.append(
                        DeletedMessage(
                            folder=hidden[len(LAZY_PREFIX) :],
                            uid=uid,
                            guid=guid,
                            subject=decode_text(envelope.subject) if envelope else "",
                            sender=_sender(envelope),
                            date=envelope.date if envelope else None,
                            deleted_at=_aware(data.get(b"X-SAVEDATE")),
                            size=int(data.get(b"RFC822.SIZE") or 0),
                        )
                    )
    finally:
        close_client(client)
    oldest = datetime.datetime.min.replace(tzinfo=datetime.UTC)
    items.sort(key=lambda m: (m.deleted_at or oldest, m.uid), reverse=True)
    seen: set[str] = set()
    unique = []
    for item in items:
        if item.guid and item.guid in seen:
            continue
        seen.add(item.guid)
        unique.append(item)
    return unique[:LIMIT]


def _live_guids(client) -> set[str]:
    guids: set[str] = set()
    for flags, _sep, name in client.list_folders():
        if {f.lower() for f in flags} & {b"\\noselect", b"\\nonexistent"}:
            continue
        client.select_folder(name, readonly=True)
        uids = client.search(["ALL"])
        if uids:
            guids.update(
                (d.get(b"X-GUID") or b"").decode("ascii", "replace")
                for d in client.fetch(uids, [b"X-GUID"]).values()
            )
    guids.discard("")
    return guids


def _aware(value) -> datetime.datetime | None:
    if isinstance(value, bytes):
        try:
            from imapclient.datetime_util import parse_to_datetime

            value = parse_to_datetime(value, normalise=False)
        except ValueError:
            return None
    if not isinstance(value, datetime.datetime):
        return None
    if value.tzinfo is None:
        value = value.astimezone()  # imapclient's naive values are local time
    return value


def deleted_put_back(source: LiveMailbox, *, folder: str, uid: int) -> str:
    """Move one recently deleted message back into `folder` (created when missing); returns
    the folder. NotFound when there is no such message (any more)."""
    if not folder or not 0 < uid <= UID_MAX or "\r" in folder or "\n" in folder:
        raise NotFound("no such deleted message")
    hidden = f"{LAZY_PREFIX}{folder}"
    with imap_errors("recently deleted: login"):
        client = source.open()
    try:
        with imap_errors("recently deleted: put back"):
            if hidden not in _hidden_folders(client):
                raise NotFound("no such deleted message")
            client.select_folder(hidden)
            if not client.search(["UID", str(uid)]):
                raise NotFound("no such deleted message")
            live = {name for _f, _s, name in client.list_folders()}
            if folder not in live:
                client.create_folder(folder)
                client.subscribe_folder(folder)
            client.move([uid], folder)
    finally:
        close_client(client)
    return folder
