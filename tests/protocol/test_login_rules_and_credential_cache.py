"""Issue 9, items 9 and 13 against the real Dovecot and the real SMTP server:
- the first-login password change holds on IMAP, POP3, ManageSieve and SMTP AUTH, with a
  message saying where to change it;
- the verified-credential cache: a repeated right password is cheap, a wrong one is refused
  and never extends it, and a password change, 2FA and a deactivation end it at once on IMAP
  and SMTP alike."""

import smtplib
import statistics
import time

import pytest
from django.db import connection
from django_otp.plugins.otp_totp.models import TOTPDevice

from domains import twofactor
from domains.models import Mailbox
from domains.services import mailbox_set_password, mailbox_update
from tests.factories import DomainFactory
from tests.protocol.helpers import imap_login, pop3_login
from tests.protocol.test_managesieve import ManageSieve

pytestmark = [pytest.mark.protocol, pytest.mark.usefixtures("smtp_isolation")]

CHANGE_TEXT = "change it on the web"  # where the user is sent, in every protocol's refusal
NEW_PASSWORD = "Nuova-Password-2024!"  # noqa: S105 - test data


def mailbox_of(address: str) -> Mailbox:
    local_part, _, domain = address.partition("@")
    return Mailbox.objects.select_related("user", "domain").get(local_part=local_part, domain__name=domain)


def smtp_login(smtpd, login: str, password: str) -> tuple[int, str]:
    client = smtplib.SMTP_SSL(smtpd.host, smtpd.ports["smtps"], context=smtpd.client_context(), timeout=30)
    try:
        code, text = client.login(login, password)
        return code, text.decode()
    except smtplib.SMTPAuthenticationError as exc:
        return exc.smtp_code, exc.smtp_error.decode()
    finally:
        client.close()


def sieve_login(plane, login: str, password: str) -> bytes:
    sieve = ManageSieve(plane.host, plane.ports["sieve"])
    try:
        return sieve.authenticate(login, password)
    finally:
        sieve.sock.close()


def cache_rows(address: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT login, mac, expires_at FROM mailstore_authcache WHERE login = %s", [address]
        )
        return cursor.fetchall()


# Item 9 --------------------------------------------------------------------------------------


def test_temporary_password_is_refused_on_every_protocol_with_where_to_change_it(
    running_mailplane, smtpd, mailbox_factory
):
    # given a Postmaster-like mailbox whose temporary password must be changed on the web
    address, password = mailbox_factory()
    mailbox = mailbox_set_password(mailbox=mailbox_of(address), password=password, must_change=True)
    # when it logs in with that (right) password on every mail protocol
    imap_ok, imap_text = imap_login(running_mailplane, address, password)
    pop_ok, pop_text = pop3_login(running_mailplane, address, password)
    sieve_reply = sieve_login(running_mailplane, address, password)
    smtp_code, smtp_text = smtp_login(smtpd, address, password)
    # then every one refuses it and says where to change it
    assert (imap_ok, pop_ok) == (False, False)
    assert CHANGE_TEXT in imap_text, imap_text
    assert CHANGE_TEXT in pop_text, pop_text
    assert sieve_reply.startswith(b"NO") and CHANGE_TEXT.encode() in sieve_reply, sieve_reply
    assert smtp_code == 535 and smtp_text.startswith("5.7.8 ") and CHANGE_TEXT in smtp_text, smtp_text
    # and nothing entered the credential cache
    assert cache_rows(address) == []
    # and once the password is changed on the web, the new one works everywhere
    mailbox_set_password(mailbox=mailbox, password=NEW_PASSWORD, actor=mailbox.user, must_change=False)
    assert imap_login(running_mailplane, address, NEW_PASSWORD)[0] is True
    assert pop3_login(running_mailplane, address, NEW_PASSWORD)[0] is True
    assert sieve_login(running_mailplane, address, NEW_PASSWORD).startswith(b"OK")
    assert smtp_login(smtpd, address, NEW_PASSWORD)[0] == 235


def test_wrong_password_of_a_must_change_mailbox_does_not_tell_where_to_change_it(
    running_mailplane, smtpd, mailbox_factory
):
    address, password = mailbox_factory()
    mailbox_set_password(mailbox=mailbox_of(address), password=password, must_change=True)
    ok, text = imap_login(running_mailplane, address, password + "x")
    code, smtp_text = smtp_login(smtpd, address, password + "x")
    assert (ok, CHANGE_TEXT in text) == (False, False)
    assert (code, CHANGE_TEXT in smtp_text) == (535, False)


# Item 13 -------------------------------------------------------------------------------------


def test_right_password_fills_the_cache_once_and_a_wrong_one_neither_enters_nor_extends_it(
    running_mailplane, smtpd, mailbox_factory
):
    # given a mailbox that logged in once over IMAP
    address, password = mailbox_factory()
    assert imap_login(running_mailplane, address, password)[0] is True
    [(login, mac, expires_at)] = cache_rows(address)
    # then the row holds a 32-byte keyed MAC, never the password or a plain hash of it
    assert login == address and len(bytes(mac)) == 32
    # when the same password logs in again on IMAP, POP3 and SMTP
    assert imap_login(running_mailplane, address, password)[0] is True
    assert pop3_login(running_mailplane, address, password)[0] is True
    assert smtp_login(smtpd, address, password)[0] == 235
    # then the hit did not extend the row
    assert cache_rows(address) == [(login, mac, expires_at)]
    # and a wrong password after the cached right one is refused everywhere and changes nothing
    assert imap_login(running_mailplane, address, password + "x")[0] is False
    assert pop3_login(running_mailplane, address, password + "x")[0] is False
    assert smtp_login(smtpd, address, password + "x")[0] == 535
    assert cache_rows(address) == [(login, mac, expires_at)]


def test_smtp_login_fills_the_cache_dovecot_reads(running_mailplane, smtpd, mailbox_factory):
    address, password = mailbox_factory()
    assert smtp_login(smtpd, address, password)[0] == 235
    [row] = cache_rows(address)
    assert imap_login(running_mailplane, address, password)[0] is True
    assert cache_rows(address) == [row]  # a hit: the row was not rewritten


def invalidate_by_password_change(mailbox):
    mailbox_set_password(mailbox=mailbox, password=NEW_PASSWORD, actor=mailbox.user)


def invalidate_by_2fa(mailbox):
    device = TOTPDevice.objects.create(user=mailbox.user, name="authenticator", confirmed=False)
    from django_otp.oath import totp

    twofactor.totp_enrol_confirm(device, f"{totp(device.bin_key):06d}")


def invalidate_by_deactivation(mailbox):
    mailbox_update(mailbox=mailbox, is_active=False)


@pytest.mark.parametrize(
    "change", [invalidate_by_password_change, invalidate_by_2fa, invalidate_by_deactivation],
    ids=["password-change", "2fa-enable", "deactivation"],
)
def test_a_change_ends_the_cached_login_at_once_on_imap_and_smtp(
    running_mailplane, smtpd, mailbox_factory, change
):
    # given a mailbox whose password is cached (IMAP and SMTP both logged in)
    address, password = mailbox_factory(domain=DomainFactory())
    assert imap_login(running_mailplane, address, password)[0] is True
    assert smtp_login(smtpd, address, password)[0] == 235
    assert len(cache_rows(address)) == 1
    # when the password changes, 2FA is enabled or the mailbox is deactivated
    change(mailbox_of(address))
    # then its row is gone in the same transaction
    assert cache_rows(address) == []
    # and the old password is refused at once on IMAP and on SMTP
    assert imap_login(running_mailplane, address, password)[0] is False
    assert smtp_login(smtpd, address, password)[0] == 535


def test_a_cached_login_costs_far_less_than_an_argon2_verification(
    running_mailplane, mailbox_factory, settings
):
    # given a mailbox with a production-cost hash (100 MiB, t=2, p=8)
    settings.ARGON2_TIME_COST, settings.ARGON2_MEMORY_COST, settings.ARGON2_PARALLELISM = 2, 102400, 8
    address, password = mailbox_factory()

    def login_ms(secret: str) -> float:
        start = time.perf_counter()
        imap_login(running_mailplane, address, secret)
        return (time.perf_counter() - start) * 1000

    # when it logs in with a wrong password (always a full Argon2) and, once cached, the right one
    wrong = statistics.median(login_ms(password + "x") for _ in range(3))
    assert imap_login(running_mailplane, address, password)[0] is True  # fills the cache
    cached = statistics.median(login_ms(password) for _ in range(5))
    # then a cached login costs well under half a verification (measured: ~15 ms vs ~250+ ms)
    assert cached < wrong / 2, (cached, wrong)


def test_a_failing_cache_fill_never_fails_a_login(running_mailplane, mailbox_factory):
    # given the cache-fill function out of Dovecot's reach (a broken cache)
    from django.conf import settings

    address, password = mailbox_factory()
    role = connection.ops.quote_name(settings.DOVECOT_DB_USER)
    signature = "mailstore_authcache_fill(text, text, text, text, integer)"
    with connection.cursor() as cursor:
        cursor.execute(f"REVOKE EXECUTE ON FUNCTION {signature} FROM {role}")
    try:
        # then the main password still logs in (it just is not cached)
        assert imap_login(running_mailplane, address, password)[0] is True
        assert cache_rows(address) == []
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {role}")
