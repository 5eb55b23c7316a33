"""The errors of the mail store: the only exceptions mailstore's IMAP and ManageSieve code lets
out (imapclient's, imaplib's, socket and TLS errors never leave mailstore). They say what
happened in the store's words; each portal decides what its user sees (the webmail turns
NotFound into 404 and the others into its "mail server unavailable" page, in one decorator:
webmail.views.common.webmail_view). The message of an error is for the log, not for users."""

from __future__ import annotations


class MailstoreError(RuntimeError):
    """Base of every mail-store error."""


class NotFound(MailstoreError):
    """No such folder, message (UID) or part in what was opened: another mailbox's UID or folder
    looks exactly like one that does not exist."""


class Unavailable(MailstoreError):
    """The store could not be reached or the session could not be opened or was lost: Dovecot
    down or restarting, a refused login (mailbox disabled, auth backend down), a dropped
    connection. Nothing was done, or the caller cannot tell (treat as temporary)."""


class Refused(MailstoreError):
    """The server answered NO/BAD to a change: a folder with subfolders, a name too long once
    encoded, a parent that exists only as a path, a Sieve script it did not accept."""


class OverQuota(Refused):
    """The mailbox is full: the message was not stored (IMAP [OVERQUOTA])."""


class ReadOnly(MailstoreError):
    """A change was asked of something opened read-only (a Time Machine day, a read-only look
    at a live mailbox): refused before anything reached the server."""
