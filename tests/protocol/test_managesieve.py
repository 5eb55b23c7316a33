"""ManageSieve login and a Sieve script applied on LMTP delivery."""

import base64
import imaplib
import socket

import pytest

from accounts.services import app_password_create
from domains.models import Mailbox
from domains.services import domain_set_require_2fa
from tests.factories import DomainFactory
from tests.protocol.helpers import lmtp_deliver, message

pytestmark = pytest.mark.protocol


class ManageSieve:
    """The few ManageSieve commands (RFC 5804) the tests need, over a plain loopback socket."""

    def __init__(self, host: str, port: int):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.file = self.sock.makefile("rb")
        self.greeting = self.response()

    def response(self) -> list[bytes]:
        lines = []
        while True:
            line = self.file.readline()
            if not line:
                raise ConnectionError("connection closed")
            lines.append(line.rstrip(b"\r\n"))
            if line[:2] in (b"OK", b"NO") or line[:3] == b"BYE":
                return lines

    def command(self, text: bytes) -> list[bytes]:
        self.sock.sendall(text + b"\r\n")
        return self.response()

    def authenticate(self, login: str, password: str) -> bytes:
        blob = base64.b64encode(f"\0{login}\0{password}".encode())
        return self.command(b'AUTHENTICATE "PLAIN" "' + blob + b'"')[-1]

    def putscript(self, name: str, script: str) -> bytes:
        data = script.encode()
        return self.command(f'PUTSCRIPT "{name}" {{{len(data)}+}}\r\n'.encode() + data)[-1]

    def close(self) -> None:
        try:
            self.command(b"LOGOUT")
        finally:
            self.sock.close()


def test_managesieve_login_and_script_runs_on_delivery(running_mailplane, mailbox_factory):
    # given a mailbox and a ManageSieve session
    address, password = mailbox_factory()
    sieve = ManageSieve(running_mailplane.host, running_mailplane.ports["sieve"])
    assert b'"SASL" "PLAIN LOGIN"' in sieve.greeting
    # when the user logs in and activates a filter that files everything into Junk
    assert sieve.authenticate(address, password).startswith(b"OK")
    assert sieve.putscript("main", 'require "fileinto";\r\nfileinto "Junk";\r\n').startswith(b"OK")
    assert sieve.command(b'SETACTIVE "main"')[-1].startswith(b"OK")
    sieve.close()
    # and a message arrives over LMTP
    assert lmtp_deliver(running_mailplane, address, message("a@example.net", address))[1][0] == 250
    # then it is in Junk, not in INBOX
    imap = imaplib.IMAP4_SSL(
        running_mailplane.host, running_mailplane.ports["imaps"], ssl_context=running_mailplane.ssl_context()
    )
    imap.login(address, password)
    counts = {box: imap.select(box, readonly=True)[1][0] for box in ("INBOX", "Junk")}
    imap.logout()
    assert counts == {"INBOX": b"0", "Junk": b"1"}


def test_managesieve_refuses_wrong_and_2fa_main_password(running_mailplane, mailbox_factory):
    domain = DomainFactory()
    address, password = mailbox_factory(domain=domain)
    local_part = address.split("@")[0]
    user = Mailbox.objects.get(domain=domain, local_part=local_part).user
    _app, token = app_password_create(user=user, name="Sieve editor")
    domain_set_require_2fa(domain=domain, required=True)
    results = []
    for secret in (password + "x", password, token):
        sieve = ManageSieve(running_mailplane.host, running_mailplane.ports["sieve"])
        results.append(sieve.authenticate(address, secret)[:2])
        sieve.close()
    assert results == [b"NO", b"NO", b"OK"]
