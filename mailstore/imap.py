"""IMAP sessions of the project's own services (webmail, time machine, panel) on Dovecot.

They log in as the mailbox through the master user ("<address>*<master user>", allowed from
loopback only) and pass the real client's address with IMAP ID (x-originating-ip): Dovecot
trusts it from login_trusted_networks, so its failed-login delay and the access log apply to
the person, not to the web server's address."""

from __future__ import annotations

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
