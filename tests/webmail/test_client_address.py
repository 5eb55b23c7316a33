"""The webmail tells Dovecot the real browser's address (IMAP ID x-originating-ip), also behind a
trusted reverse proxy: Dovecot's per-IP failed-login delay and its log then see each user."""

import time

import pytest
from django.test import Client

pytestmark = pytest.mark.protocol

PROXY = "10.0.0.5"


def dovecot_login_lines(plane, address: str, timeout: float = 5.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        lines = [
            line for line in plane.log_path.read_text(errors="replace").splitlines()
            if "imap-login: Info: Login:" in line and f"user=<{address}" in line
        ]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [(PROXY, "203.0.113.77", "203.0.113.77"), ("198.51.100.8", "203.0.113.78", "198.51.100.8")],
    ids=["through-the-trusted-proxy", "forged-by-an-untrusted-peer"],
)
def test_the_address_passed_to_dovecot_is_the_real_client(
    wm, mailbox_factory, settings, peer, forwarded, expected
):
    settings.TRUSTED_PROXIES = [PROXY]
    address, password = mailbox_factory()
    browser = Client(REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded)
    assert browser.post("/webmail/login/", {"login": address, "password": password}).status_code == 302

    assert browser.get("/webmail/").status_code == 200  # opens the IMAP session

    lines = dovecot_login_lines(wm, address)
    assert lines and all(f"rip={expected}," in line for line in lines), lines
