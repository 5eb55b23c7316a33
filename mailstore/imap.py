"""Opening an IMAP session on the mail store: the one place that does it.

What to open is a small value object, a *source*:

- `LiveMailbox(address, client_ip)`: the user's live mailbox on our Dovecot. The project's own
  services (webmail, panel, MX checks) log in as the mailbox through the master user
  ("<address>*<master user>", allowed from loopback only) and pass the real client's address
  with IMAP ID (x-originating-ip): Dovecot trusts it from login_trusted_networks, so its
  failed-login delay and the access log apply to the person, not to the web server's address.

- `SnapshotDay(mailbox_id, day)` (Time Machine): the same master login, as the snapshot user
  "<mailbox id>@<YYYY-MM-DD>": Dovecot's second userdb (mailstore.dovecot_config) gives it the
  Maildir copy of that day (mailstore.snapshots), indexes in memory, and a global ACL of lookup
  and read only, so STORE, EXPUNGE, APPEND, COPY into it, CREATE, RENAME and DELETE are refused
  by Dovecot itself (and the day's directories are not writable by the mail user either). It
  never opens the live mailbox's files, so it cannot touch their indexes. `read_only = True`
  also makes the reader EXAMINE instead of SELECT, never set \\Seen, and refuse changes with
  ReadOnly before they reach the server.

The seam for the source to come (a frozen dataclass with the three members of `Source`;
everything above it, mailstore.reader and mailstore.pool, works unchanged):
- `ImportSource(host, port, tls, login, password)` (Archive import): a remote IMAP server
  with the user's own credentials, `read_only = True`; its pool key must include the login
  (and never the password).

Every failure leaves this module as a mailstore.errors exception (`imap_errors`), never as an
imapclient, imaplib, socket or TLS one."""

from __future__ import annotations

import datetime
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import imapclient
from django.conf import settings
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, IMAPClientReadOnlyError

from mailstore.errors import NotFound, OverQuota, ReadOnly, Refused, Unavailable


class Source(Protocol):
    """What a reader session opens (see the module docstring for the sources to come)."""

    @property
    def read_only(self) -> bool:
        """True: no change reaches the server (mailstore.errors.ReadOnly), no \\Seen is set."""
        ...

    def pool_key(self) -> tuple:
        """Identifies what a pooled connection is logged in to: a connection is reused only for
        the same key (and the same owner, see mailstore.pool)."""
        ...

    def open(self, *, timeout: float) -> imapclient.IMAPClient:
        """A logged-in client. Raises Unavailable (unreachable, login refused)."""
        ...


def master_login_name(address: str) -> str:
    return f"{address.strip().lower()}*{settings.MAILSTORE_MASTER_USER}"


@dataclass(frozen=True)
class LiveMailbox:
    """The live mailbox `address`, opened through the master user on behalf of `client_ip`."""

    address: str
    client_ip: str | None = None
    client_name: str = "mailsuite"  # IMAP ID name: tells the services apart in Dovecot's log

    @property
    def read_only(self) -> bool:
        return False

    def pool_key(self) -> tuple:
        # The server is part of the key: tests (and a moved Dovecot) change it under a process.
        return ("live", self.address.strip().lower(), settings.MAIL_BIND, settings.MAIL_PORTS["imap"])

    def open(self, *, timeout: float = 30) -> imapclient.IMAPClient:
        return _master_login(
            self.address, client_ip=self.client_ip, client_name=self.client_name, timeout=timeout
        )


def snapshot_login_name(mailbox_id: int, day: datetime.date) -> str:
    return f"{int(mailbox_id)}@{day.isoformat()}"


@dataclass(frozen=True)
class SnapshotDay:
    """Mailbox `mailbox_id` as it was in the snapshot of `day`, read-only (see the module
    docstring). Who may see it is the caller's question (the portal checks before it opens)."""

    mailbox_id: int
    day: datetime.date
    client_ip: str | None = None
    client_name: str = "mailsuite-timemachine"

    @property
    def read_only(self) -> bool:
        return True

    def pool_key(self) -> tuple:
        return (
            "snapshot",
            int(self.mailbox_id),
            self.day.isoformat(),
            settings.MAIL_BIND,
            settings.MAIL_PORTS["imap"],
        )

    def open(self, *, timeout: float = 30) -> imapclient.IMAPClient:
        return _master_login(
            snapshot_login_name(self.mailbox_id, self.day),
            client_ip=self.client_ip,
            client_name=self.client_name,
            timeout=timeout,
        )


def _master_login(
    address: str, *, client_ip: str | None, client_name: str, timeout: float
) -> imapclient.IMAPClient:
    host, port = settings.MAIL_BIND, settings.MAIL_PORTS["imap"]
    try:
        client = imapclient.IMAPClient(host, port=port, ssl=False, timeout=timeout)
    except OSError as exc:
        raise Unavailable(f"IMAP {host}:{port} unreachable: {exc}") from exc
    try:
        fields = {"name": client_name}
        if client_ip:
            fields["x-originating-ip"] = client_ip
        client.id_(fields)
        client.login(master_login_name(address), settings.MAILSTORE_MASTER_PASSWORD)
    except (IMAPClientError, OSError) as exc:
        try:
            client.shutdown()
        except OSError:
            pass
        raise Unavailable(f"IMAP login for {address} refused: {exc}") from exc
    return client


@contextmanager
def imap_errors(doing: str) -> Iterator[None]:
    """Turn what imapclient, imaplib and the socket raise into mailstore.errors: a lost
    connection is Unavailable, a NO/BAD answer NotFound ([NONEXISTENT]), OverQuota
    ([OVERQUOTA]) or Refused."""
    try:
        yield
    except IMAPClientReadOnlyError as exc:
        raise ReadOnly(f"{doing}: {exc}") from exc
    except IMAPClientAbortError as exc:
        raise Unavailable(f"{doing}: {exc}") from exc
    except IMAPClientError as exc:
        text = str(exc).upper()
        if "NONEXISTENT" in text:
            raise NotFound(f"{doing}: {exc}") from exc
        if "OVERQUOTA" in text:
            raise OverQuota(f"{doing}: {exc}") from exc
        raise Refused(f"{doing}: {exc}") from exc
    except (OSError, socket.timeout, ssl.SSLError) as exc:
        raise Unavailable(f"{doing}: {exc}") from exc


def close_client(client: imapclient.IMAPClient, *, logout: bool = True) -> None:
    """LOGOUT (or just close the socket); never raises: the session is over either way."""
    try:
        if logout:
            client.logout()
        else:
            client.shutdown()
    except (OSError, IMAPClientError):
        try:
            client.shutdown()
        except (OSError, IMAPClientError):
            pass


def is_alive(client: imapclient.IMAPClient) -> bool:
    return view_changes(client) is not None


# Untagged responses that say the selected folder's messages (or their flags) changed.
_VIEW_CHANGES = ("EXISTS", "EXPUNGE", "RECENT", "FETCH", "VANISHED")


def view_changes(client: imapclient.IMAPClient) -> bool | None:
    """NOOP: whether the server reported a change of the selected folder since the last look
    (in the NOOP's answer, or left over from earlier commands: a server may report new mail
    after any command, and imaplib keeps what no command consumed); None when the connection
    is dead."""
    try:
        _text, untagged = client.noop()
    except (OSError, IMAPClientError):
        return None
    pending = client._imap.untagged_responses
    changed = bool(untagged) or any(key in pending for key in _VIEW_CHANGES)
    for key in _VIEW_CHANGES:
        pending.pop(key, None)
    return changed


@contextmanager
def imap_session(
    address: str, *, client_ip: str | None = None, client_name: str = "mailsuite", timeout: float = 30
) -> Iterator[imapclient.IMAPClient]:
    """A raw client on the live mailbox `address` for mailstore's own code (and tests), logged
    out at the end. Everyone else reads through mailstore.reader.mail_session."""
    client = LiveMailbox(address, client_ip=client_ip, client_name=client_name).open(timeout=timeout)
    try:
        yield client
    finally:
        close_client(client)


def mailbox_has_header(
    address: str, *, name: str, value: str, since: datetime.date | None = None, timeout: float = 15
) -> bool:
    """True when a message in any folder of `address` (Sieve may have filed it anywhere) has a
    header `name` containing `value` (IMAP SEARCH HEADER), delivered on or after `since`.
    Raises a mailstore.errors.MailstoreError when the mailbox cannot be searched: the caller
    cannot tell."""
    criteria: list = ["HEADER", name, value]
    if since is not None:
        criteria = ["SINCE", since, *criteria]
    with imap_session(address, client_name="mailsuite-mx", timeout=timeout) as imap:
        with imap_errors(f"IMAP search in {address}"):
            for flags, _delimiter, folder in imap.list_folders():
                if {flag.lower() for flag in flags} & {b"\\noselect", b"\\nonexistent"}:
                    continue
                imap.select_folder(folder, readonly=True)
                if imap.search(criteria):
                    return True
    return False
