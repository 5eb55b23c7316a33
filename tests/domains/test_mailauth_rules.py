"""authenticate_mail (SMTP AUTH), issue 9 items 9 and 13: the first-login password change, one
Argon2 verification on every refusal path (no timing oracle), the verified-credential cache
shared with Dovecot, and app passwords revoked by a password change or a 2FA reset."""

import hashlib
from unittest import mock

import pytest
from django.contrib.auth.hashers import check_password
from django.db import connection
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AppPassword
from accounts.services import app_password_create, app_password_revoke
from domains import mailauth, twofactor
from domains.mailauth import authenticate_mail
from domains.models import Domain
from domains.services import domain_set_require_2fa, mailbox_set_password, mailbox_update, own_password_change
from tests.factories import MAILBOX_PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Nuova-Password-2024!"  # noqa: S105 - test data


def auth(login, password):
    return authenticate_mail(login, password, protocol="submission", remote_ip="198.51.100.7", tls=True)


def cache_rows():
    with connection.cursor() as cursor:
        cursor.execute("SELECT login, user_id, mac, expires_at FROM mailstore_authcache ORDER BY login")
        return cursor.fetchall()


@pytest.fixture
def hasher_calls():
    with mock.patch("domains.mailauth.check_password", wraps=check_password) as spy:
        yield spy


# Item 9: first-login change ------------------------------------------------------------------


def test_must_change_password_is_refused_after_the_right_password_with_its_own_reason(mailbox):
    mailbox_set_password(mailbox=mailbox, password=MAILBOX_PASSWORD, must_change=True)
    right, wrong = auth("mario@example.test", MAILBOX_PASSWORD), auth("mario@example.test", "nope-nope-1")
    assert (right.ok, right.reason) == (False, mailauth.MUST_CHANGE_PASSWORD)
    assert (wrong.ok, wrong.reason) == (False, mailauth.BAD_PASSWORD)
    assert cache_rows() == []


# Item 9: every refusal spends exactly one Argon2 verification ---------------------------------


def _unknown(mailbox):
    return "nobody@example.test", MAILBOX_PASSWORD


def _inactive(mailbox):
    mailbox_update(mailbox=mailbox, is_active=False)
    return mailbox.address, MAILBOX_PASSWORD


def _inactive_domain(mailbox):
    Domain.objects.filter(pk=mailbox.domain_id).update(is_active=False)
    return mailbox.address, MAILBOX_PASSWORD


def _must_change(mailbox):
    mailbox_set_password(mailbox=mailbox, password=MAILBOX_PASSWORD, must_change=True)
    return mailbox.address, MAILBOX_PASSWORD


def _two_factor(mailbox):
    domain_set_require_2fa(domain=mailbox.domain, required=True)
    return mailbox.address, MAILBOX_PASSWORD


def _wrong(mailbox):
    return mailbox.address, "wrong-password-123"


def _revoked_app_password(mailbox):
    app, token = app_password_create(user=mailbox.user, name="Phone")
    app_password_revoke(app_password=app, actor=mailbox.user)
    return mailbox.address, token


@pytest.mark.parametrize(
    "given",
    [_unknown, _inactive, _inactive_domain, _must_change, _two_factor, _wrong, _revoked_app_password],
    ids=lambda f: f.__name__.strip("_"),
)
def test_every_refusal_spends_exactly_one_argon2_verification(mailbox, hasher_calls, given):
    login, password = given(mailbox)
    hasher_calls.reset_mock()
    result = auth(login, password)
    assert result.ok is False
    assert hasher_calls.call_count == 1, result.reason


# Item 13: the verified-credential cache on the SMTP path -------------------------------------


def test_second_login_with_the_same_password_skips_argon2_and_does_not_extend(mailbox, hasher_calls):
    assert auth(mailbox.address, MAILBOX_PASSWORD).ok is True
    assert hasher_calls.call_count == 1
    [row] = cache_rows()
    hasher_calls.reset_mock()
    result = auth(mailbox.address, MAILBOX_PASSWORD)
    assert (result.ok, result.reason, hasher_calls.call_count) == (True, mailauth.OK_PASSWORD, 0)
    assert cache_rows() == [row]


def test_wrong_password_after_a_cached_one_is_refused_with_argon2_and_changes_nothing(mailbox, hasher_calls):
    auth(mailbox.address, MAILBOX_PASSWORD)
    [row] = cache_rows()
    hasher_calls.reset_mock()
    result = auth(mailbox.address, MAILBOX_PASSWORD + "x")
    assert (result.ok, result.reason, hasher_calls.call_count) == (False, mailauth.BAD_PASSWORD, 1)
    assert cache_rows() == [row]


def test_cache_off_verifies_every_time(mailbox, hasher_calls, settings):
    settings.MAIL_AUTH_CACHE_SECONDS = 0
    auth(mailbox.address, MAILBOX_PASSWORD)
    auth(mailbox.address, MAILBOX_PASSWORD)
    assert (hasher_calls.call_count, cache_rows()) == (2, [])


def test_expired_row_is_not_a_hit(mailbox, hasher_calls):
    auth(mailbox.address, MAILBOX_PASSWORD)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE mailstore_authcache SET expires_at = now() - interval '1 second'")
    hasher_calls.reset_mock()
    assert auth(mailbox.address, MAILBOX_PASSWORD).ok is True
    assert hasher_calls.call_count == 1


def test_the_table_holds_no_bare_or_unkeyed_password_hash(mailbox):
    auth(mailbox.address, MAILBOX_PASSWORD)
    [(login, user_id, mac, _expires)] = cache_rows()
    mac = bytes(mac)
    stored = mailbox.user.password
    unkeyed = {
        hashlib.new(name, data).digest()
        for name in ("md5", "sha1", "sha256", "sha512")
        for data in (MAILBOX_PASSWORD.encode(), f"{login}{MAILBOX_PASSWORD}".encode(),
                     f"{login}\n{MAILBOX_PASSWORD}".encode(), f"{login}:{MAILBOX_PASSWORD}".encode())
    }
    assert (login, user_id, len(mac)) == (mailbox.address, mailbox.user_id, 32)
    assert mac not in unkeyed and MAILBOX_PASSWORD.encode() not in mac and stored.encode() not in mac
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'mailstore_authcache'"
        )
        assert cursor.fetchone() == (4,)


def _password_change(mailbox):
    mailbox_set_password(mailbox=mailbox, password=NEW_PASSWORD, actor=mailbox.user)


def _own_password_change(mailbox):
    own_password_change(user=mailbox.user, password=NEW_PASSWORD)


def _enable_2fa(mailbox):
    device = TOTPDevice.objects.create(user=mailbox.user, name="authenticator", confirmed=False)
    twofactor.totp_enrol_confirm(device, f"{totp(device.bin_key):06d}")


def _require_2fa_mailbox(mailbox):
    mailbox_update(mailbox=mailbox, require_2fa=True)


def _require_2fa_domain(mailbox):
    domain_set_require_2fa(domain=mailbox.domain, required=True)


def _deactivate(mailbox):
    mailbox_update(mailbox=mailbox, is_active=False)


@pytest.mark.parametrize(
    "change",
    [_password_change, _own_password_change, _enable_2fa, _require_2fa_mailbox, _require_2fa_domain,
     _deactivate],
    ids=lambda f: f.__name__.strip("_"),
)
def test_a_change_deletes_the_row_and_refuses_the_old_password_at_once(mailbox, change):
    assert auth(mailbox.address, MAILBOX_PASSWORD).ok is True
    assert len(cache_rows()) == 1
    change(mailbox)
    assert cache_rows() == []
    assert auth(mailbox.address, MAILBOX_PASSWORD).ok is False


def test_a_row_of_an_old_stored_hash_never_matches_even_if_not_deleted(mailbox):
    # a change that forgot to delete the row (or raced with the fill): the MAC binds the hash
    auth(mailbox.address, MAILBOX_PASSWORD)
    user = mailbox.user
    user.set_password(MAILBOX_PASSWORD)  # same password, new salt: a new stored hash
    user.save(update_fields=["password"])
    assert len(cache_rows()) == 1
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT mailstore_authcache_match(%s, %s, %s)", [user.pk, mailbox.address, MAILBOX_PASSWORD]
        )
        assert cursor.fetchone() == (False,)


def test_fill_refuses_a_generation_that_is_no_longer_current(mailbox):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT mailstore_authcache_fill(%s, %s, %s, %s, 900)",
            ["mario", "example.test", MAILBOX_PASSWORD, hashlib.md5(b"old hash").hexdigest()],  # noqa: S324
        )
        assert cursor.fetchone() == (False,)
    assert cache_rows() == []


# Item 9: app passwords revoked by a password change or a 2FA reset ---------------------------


def _reset_2fa(mailbox):
    _enable_2fa(mailbox)
    twofactor.totp_reset(mailbox.user, actor=None)


@pytest.mark.parametrize(
    "change", [_password_change, _own_password_change, _reset_2fa], ids=lambda f: f.__name__.strip("_")
)
def test_password_change_and_2fa_reset_revoke_every_app_password(mailbox, change):
    _a, first = app_password_create(user=mailbox.user, name="Phone")
    _b, second = app_password_create(user=mailbox.user, name="Laptop")
    change(mailbox)
    assert AppPassword.objects.filter(user=mailbox.user, revoked_at__isnull=True).count() == 0
    assert [auth(mailbox.address, t).reason for t in (first, second)] == [
        mailauth.APP_PASSWORD_REVOKED, mailauth.APP_PASSWORD_REVOKED]


def test_enabling_2fa_keeps_the_app_passwords(mailbox):
    _a, token = app_password_create(user=mailbox.user, name="Phone")
    _enable_2fa(mailbox)
    assert auth(mailbox.address, token).ok is True
