"""The vacation auto-reply, written as the user's Sieve script over ManageSieve (RFC 5804).

mailstore logs in to Dovecot's ManageSieve as the mailbox through the master user (loopback
only, like IMAP), uploads one script named SCRIPT_NAME and activates it; switching vacation
off deactivates it. Pigeonhole runs it on LMTP delivery and sends the reply through
submission_host (our SMTP server). The only module that speaks ManageSieve; it raises
mailstore.errors.Unavailable (Dovecot unreachable, connection lost) or Refused (a NO)."""

from __future__ import annotations

import base64
import socket
from datetime import date

from django.conf import settings

from mailstore.errors import Refused, Unavailable
from mailstore.imap import master_login_name

SCRIPT_NAME = "mailsuite-webmail"  # the name Dovecot already holds for every user: never renamed


def _quote(text: str) -> str:
    """A Sieve quoted string (RFC 5228 2.4.2): backslash and double quote escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def vacation_script(
    *, address: str, subject: str, body: str, until: date | None, days: int = 1, starts_on: date | None = None
) -> str:
    """The Sieve vacation script: one reply per sender per `days`, never to lists or bulk mail;
    only from `starts_on` and until `until` (days, inclusive) when given."""
    lines = ['require ["vacation", "date", "relational"];', ""]
    tests = []
    if starts_on is not None:
        tests.append(f'currentdate :value "ge" "date" {_quote(starts_on.isoformat())}')
    if until is not None:
        tests.append(f'currentdate :value "le" "date" {_quote(until.isoformat())}')
    condition = ""
    if tests:
        condition = f"if {tests[0]} " if len(tests) == 1 else f"if allof ({', '.join(tests)}) "
    action = (
        f"vacation :days {int(days)} :addresses [{_quote(address)}]"
        + (f" :subject {_quote(subject)}" if subject else "")
        + f" {_quote(body)};"
    )
    guard = 'if anyof (exists "list-id", header :contains "precedence" ["bulk", "list", "junk"]) { stop; }'
    lines.append(guard)
    lines.append(f"{condition}{{ {action} }}" if condition else action)
    return "\n".join(lines) + "\n"


class ManageSieve:
    def __init__(self, host: str, port: int, timeout: float = 15):
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise Unavailable(f"ManageSieve {host}:{port} unreachable: {exc}") from exc
        try:
            self.file = self.sock.makefile("rb")
            self._response()
        except (Refused, OSError) as exc:
            self.sock.close()
            raise Unavailable(f"ManageSieve {host}:{port} did not greet: {exc}") from exc

    def _response(self) -> list[bytes]:
        lines = []
        while True:
            line = self.file.readline()
            if not line:
                raise Unavailable("ManageSieve connection closed")
            lines.append(line.rstrip(b"\r\n"))
            if line[:2] == b"OK":
                return lines
            if line[:3] == b"BYE":
                raise Unavailable(b" ".join(lines).decode("utf-8", "replace"))
            if line[:2] == b"NO":
                raise Refused(b" ".join(lines).decode("utf-8", "replace"))

    def command(self, data: bytes) -> list[bytes]:
        try:
            self.sock.sendall(data + b"\r\n")
            return self._response()
        except OSError as exc:
            raise Unavailable(f"ManageSieve: {exc}") from exc

    def login_as(self, address: str) -> None:
        blob = base64.b64encode(
            f"\0{master_login_name(address)}\0{settings.MAILSTORE_MASTER_PASSWORD}".encode()
        )
        self.command(b'AUTHENTICATE "PLAIN" "' + blob + b'"')

    def putscript(self, name: str, script: str) -> None:
        data = script.encode("utf-8")
        self.command(f'PUTSCRIPT "{name}" {{{len(data)}+}}\r\n'.encode() + data)

    def setactive(self, name: str) -> None:
        self.command(f'SETACTIVE "{name}"'.encode())

    def close(self) -> None:
        try:
            self.sock.sendall(b"LOGOUT\r\n")
        except OSError:
            pass
        self.sock.close()


def vacation_apply(
    *, address: str, enabled: bool, subject: str, body: str, until: date | None, starts_on: date | None = None
) -> None:
    client = ManageSieve(settings.MAIL_BIND, settings.MAIL_PORTS["sieve"])
    try:
        client.login_as(address)
        if enabled:
            client.putscript(
                SCRIPT_NAME,
                vacation_script(
                    address=address, subject=subject, body=body, until=until, starts_on=starts_on
                ),
            )
            client.setactive(SCRIPT_NAME)
        else:
            client.setactive("")
    finally:
        client.close()
