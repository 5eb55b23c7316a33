"""One canonical login through the real servers (issue 9, item 7): SMTP AUTH on our SMTP server
and IMAP/POP3 logins through Dovecot and the auth-policy endpoint, under several spellings of
one address, share one brute-force budget.

What Dovecot itself does with such spellings (Dovecot 2.3, our rendered config):
- ASCII spellings (upper case, a trailing dot after the domain) pass its default
  auth_username_chars; auth_username_format %Lu lower-cases before the passdb, so a trailing dot
  makes an unknown user, and the policy request carries the spelling as typed.
- Non-ASCII spellings (full-width letters, soft hyphen, ideographic full stop) are refused by
  auth_username_chars before any passdb lookup: they never reach the mailbox over IMAP/POP3.
  Dovecot still reports them to the policy endpoint, which counts them under the canonical login.
"""

import base64
import imaplib
import time

import pytest

from accounts.models import AccessLogEntry
from tests.factories import MAILBOX_PASSWORD, MailboxFactory
from tests.protocol.helpers import imap_login, pop3_login

pytestmark = pytest.mark.protocol


def imap_authenticate_plain(plane, login: str, password: str) -> tuple[bool, str]:
    """AUTHENTICATE PLAIN with UTF-8 bytes (imaplib's LOGIN only speaks ASCII)."""
    imap = imaplib.IMAP4_SSL(plane.host, plane.ports["imaps"], ssl_context=plane.ssl_context(), timeout=15)
    try:
        typ, data = imap.authenticate("PLAIN", lambda _challenge: b"\0" + login.encode() + b"\0"
                                      + password.encode())
        imap.logout()
        return typ == "OK", data[0].decode()
    except imaplib.IMAP4.error as exc:
        imap.shutdown()
        return False, str(exc)


def rows_for(address: str, count: int, timeout: float = 5.0) -> list:
    deadline = time.monotonic() + timeout
    while True:
        rows = list(AccessLogEntry.objects.filter(login=address).order_by("id"))
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def test_ten_failures_under_several_spellings_block_the_login_on_imap_and_pop3(
    running_mailplane, mailbox_factory
):
    # given ten wrong passwords over IMAP and POP3, under spellings Dovecot lets through
    address, password = mailbox_factory()
    spellings = [address, f"{address}.", f"{address.upper()}.", f"{address.title()}.", address.upper()]
    for n in range(10):
        login = imap_login if n % 2 else pop3_login
        assert login(running_mailplane, spellings[n % len(spellings)], f"wrong-password-{n}")[0] is False
    rows_for(address, 10)
    # when the right password comes under the plain spelling
    ok_imap, _ = imap_login(running_mailplane, address, password)
    ok_pop3, _ = pop3_login(running_mailplane, f"{address}.", password)
    # then both are refused by the policy, and every row names the canonical login
    assert (ok_imap, ok_pop3) == (False, False)
    rows = rows_for(address, 12)
    assert [r.result for r in rows] == ["failure"] * 10 + ["blocked", "blocked"]
    assert AccessLogEntry.objects.exclude(login=address).count() == 0


def test_a_non_ascii_spelling_never_reaches_the_mailbox_over_imap(running_mailplane, mailbox_factory):
    # given a mailbox and a full-width spelling of its address with the right password
    address, password = mailbox_factory()
    local, domain = address.split("@")
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in local) + "@" + domain
    # when it is tried over IMAP (AUTHENTICATE PLAIN, UTF-8)
    ok, text = imap_authenticate_plain(running_mailplane, full_width, password)
    # then Dovecot refuses it itself (auth_username_chars), before any passdb or policy request
    assert (ok, "AUTHENTICATIONFAILED" in text) == (False, True)
    assert imap_login(running_mailplane, address, password)[0] is True
    assert [r.result for r in rows_for(address, 1)] == ["success"]


def smtp_auth_plain(smtpd, login: str, password: str) -> tuple[int, bytes]:
    """AUTH PLAIN on 465 with UTF-8 bytes (smtplib.login() encodes the login as ASCII)."""
    with smtpd.smtps() as client:
        client.ehlo("client.test")
        token = base64.b64encode(b"\0" + login.encode() + b"\0" + password.encode()).decode()
        return client.docmd("AUTH", f"PLAIN {token}")


def test_smtp_auth_under_ten_spellings_blocks_the_login_and_any_spelling_reaches_the_mailbox(
    smtpd, transactional_db
):
    mailbox = MailboxFactory(local_part="mario", domain__name="acme.test")
    # given: a full-width spelling with the right password reaches the mailbox
    assert smtp_auth_plain(smtpd, "ｍａｒｉｏ＠ａｃｍｅ。ｔｅｓｔ", MAILBOX_PASSWORD)[0] == 235
    spellings = [
        "ｍａｒｉｏ@acme.test", "ma\u00adrio@acme.test", "mario@acme\u3002test", "mario@acme\uff0etest",
        "mario@acme\uff61test", "mar\u200bio@acme.test", "MARIO@ACME.TEST.", "Mario@Ac\u00adme.Test",
        "\u2060mario@acme.test", "mario@ａｃｍｅ.ｔｅｓｔ."]
    # when ten wrong passwords come under ten spellings
    for n, spelling in enumerate(spellings):
        assert smtp_auth_plain(smtpd, spelling, f"wrong-password-{n}")[0] == 535, spelling
    # then the right password under the plain spelling is refused too ("too many failed logins")
    assert smtp_auth_plain(smtpd, "mario@acme.test", MAILBOX_PASSWORD) == (
        454, b"4.7.0 Too many failed logins, please try again later")
    rows = AccessLogEntry.objects.order_by("id")
    assert [(r.login, r.result) for r in rows] == (
        [("mario@acme.test", "success")] + [("mario@acme.test", "failure")] * 10
        + [("mario@acme.test", "blocked")])
    assert {r.user_id for r in rows} == {mailbox.user_id}
