"""IMAP sessions of the project's own services (webmail, time machine, panel) on Dovecot.

They log in as the mailbox through the master user ("<address>*<master user>", allowed from
loopback only) and pass the real client's address with IMAP ID (x-originating-ip): Dovecot
trusts it from login_trusted_networks, so its failed-login delay and the access log apply to
the person, not to the web server's address."""

from __future__ import annotations

import datetime
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

import imapclient
from django.conf import settings
from imapclient.exceptions import IMAPClientError


class MailstoreImapError(RuntimeError):
    """The IMAP session could not be opened or was refused."""


def master_login_name(address: str) -> str:
    return f"{address.strip().lower()}*{settings.MAILSTORE_MASTER_USER}"


def open_session(
    address: str,
    *,
    client_ip: str | None = None,
    client_name: str = "mailsuite",
    host: str | None = None,
    port: int | None = None,
    timeout: float = 30,
) -> imapclient.IMAPClient:
    """An authenticated IMAPClient for `address`; the caller logs out (or use imap_session)."""
    host = host or settings.MAIL_BIND
    port = port or settings.MAIL_PORTS["imap"]
    try:
        client = imapclient.IMAPClient(host, port=port, ssl=False, timeout=timeout)
    except (OSError, socket.timeout) as exc:
        raise MailstoreImapError(f"IMAP {host}:{port} unreachable: {exc}") from exc
    try:
        fields = {"name": client_name}
        if client_ip:
            fields["x-originating-ip"] = client_ip
        client.id_(fields)
        client.login(master_login_name(address), settings.MAILSTORE_MASTER_PASSWORD)
    except (IMAPClientError, OSError, ssl.SSLError) as exc:
        try:
            client.shutdown()
        except OSError:
            pass
        raise MailstoreImapError(f"IMAP login for {address} refused: {exc}") from exc
    return client


@contextmanager
def imap_session(address: str, **kwargs) -> Iterator[imapclient.IMAPClient]:
    """`with imap_session(address, client_ip=request_ip) as imap: ...` logs out at the end."""
    client = open_session(address, **kwargs)
    try:
        yield client
    finally:
        try:
            client.logout()
        except (IMAPClientError, OSError):
            pass


def mailbox_has_header(
    address: str, *, name: str, value: str, since: datetime.date | None = None, timeout: float = 15
) -> bool:
    """True when a message in any folder of `address` (Sieve may have filed it anywhere) has a
    header `name` containing `value` (IMAP SEARCH HEADER), delivered on or after `since`.
    Raises MailstoreImapError when the mailbox cannot be searched: the caller cannot tell."""
    criteria: list = ["HEADER", name, value]
    if since is not None:
        criteria = ["SINCE", since, *criteria]
    with imap_session(address, client_name="mailsuite-mx", timeout=timeout) as imap:
        try:
            for flags, _delimiter, folder in imap.list_folders():
                if {flag.lower() for flag in flags} & {b"\\noselect", b"\\nonexistent"}:
                    continue
                imap.select_folder(folder, readonly=True)
                if imap.search(criteria):
                    return True
        except (IMAPClientError, OSError, ssl.SSLError) as exc:
            raise MailstoreImapError(f"IMAP search in {address} failed: {exc}") from exc
    return False
