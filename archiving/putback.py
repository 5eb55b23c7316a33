"""Putting archived messages back into the owner's live mailbox (the Archive portal's "put back
into my mailbox"): each one is APPENDed (mailstore) to INBOX (from Received) or Sent (from
Sent), with its date, unless that folder already holds it (same Message-ID and size), so doing
it twice puts nothing back twice. The archive is only read."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied

from archiving.models import ArchivedMessage
from archiving.selectors import ArchiveAccess, blob_of, export_entries
from mailstore.imap import LiveMailbox
from mailstore.reader import mail_session

TARGET = {ArchivedMessage.Folder.RECEIVED: "INBOX", ArchivedMessage.Folder.SENT: "Sent"}


@dataclass(frozen=True)
class PutBack:
    appended: int
    already_there: int


def archive_put_back(*, access: ArchiveAccess, entry_ids: list[int]) -> PutBack:
    """Owner only (a Delegate never writes into anyone's mailbox), and only while the archive's
    mailbox exists and is active. Raises mailstore errors (the mail server down, over quota)."""
    mailbox = access.archive.mailbox
    if not access.is_owner or mailbox is None or not mailbox.is_active or mailbox.user_id != access.actor.pk:
        raise PermissionDenied
    appended = already = 0
    with mail_session(LiveMailbox(mailbox.address, client_name="mailsuite-archive")) as mail:
        folders = mail.folder_names()
        for entry in export_entries(access, ids=entry_ids):
            target = TARGET[entry.folder]
            if target not in folders:
                mail.folder_create(target)
                folders.add(target)
            if mail.has_message(target, message_id=entry.message_id, size=entry.size):
                already += 1
                continue
            mail.append(target, blob_of(access, entry), flags=(b"\\Seen",), when=entry.message_date)
            appended += 1
    return PutBack(appended=appended, already_there=already)
