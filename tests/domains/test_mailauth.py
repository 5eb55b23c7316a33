"""authenticate_mail: the credential check of SMTP AUTH (same rules as Dovecot)."""

import pytest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AccessLogEntry
from accounts.services import app_password_create, app_password_revoke
from domains.mailauth import AuthResult, authenticate_mail
from domains.models import Domain
from domains.services import domain_set_require_2fa, mailbox_delete, mailbox_update
from tests.factories import MAILBOX_PASSWORD, MailboxFactory

pytestmark = pytest.mark.django_db

IP = "198.51.100.7"


def auth(login, password, protocol="submission", remote_ip=IP, tls=True) -> AuthResult:
    return authenticate_mail(login, password, protocol=protocol, remote_ip=remote_ip, tls=tls)


def log_rows():
    return list(AccessLogEntry.objects.order_by("id").values_list("login", "result", "reason"))


def test_main_password_of_active_mailbox_is_accepted_and_logged(mailbox):
    before = timezone.now()

    result = auth("Mario@Example.TEST", MAILBOX_PASSWORD)

    assert (result.ok, result.reason, result.temporary) == (True, "password", False)
    assert result.mailbox == mailbox and result.user == mailbox.user
    row = AccessLogEntry.objects.get()
    assert (row.login, row.protocol, row.remote_ip, row.tls, row.result, row.reason) == (
        "mario@example.test",
        "submission",
        IP,
        True,
        "success",
        "password",
    )
    assert (row.domain, row.user) == (mailbox.domain, mailbox.user)
    mailbox.refresh_from_db()
    assert before <= mailbox.last_login_at <= row.at


def test_app_password_is_accepted_and_its_last_use_recorded(mailbox):
    app_password, token = app_password_create(user=mailbox.user, name="Phone")

    result = auth("mario@example.test", token)

    assert (result.ok, result.reason) == (True, "app_password")
    app_password.refresh_from_db()
    assert app_password.last_used_at is not None


def test_wrong_password_is_refused_and_logged_as_failure(mailbox):
    result = auth("mario@example.test", "wrong-password-123")

    assert (result.ok, result.reason, result.temporary) == (False, "bad_password", False)
    assert log_rows() == [("mario@example.test", "failure", "bad_password")]
    mailbox.refresh_from_db()
    assert mailbox.last_login_at is None


def test_unknown_address_of_hosted_domain_is_logged_under_that_domain(domain):
    result = auth("nobody@example.test", MAILBOX_PASSWORD)

    assert (result.ok, result.reason, result.user, result.mailbox) == (False, "unknown_user", None, None)
    row = AccessLogEntry.objects.get()
    assert (row.domain, row.user, row.result) == (domain, None, "failure")


def test_unknown_domain_is_logged_without_domain(db):
    result = auth("someone@elsewhere.test", "whatever-123")

    assert (result.ok, result.reason) == (False, "unknown_user")
    assert AccessLogEntry.objects.get().domain is None


def test_inactive_mailbox_is_refused_even_with_the_right_password(mailbox):
    mailbox_update(mailbox=mailbox, is_active=False)

    result = auth("mario@example.test", MAILBOX_PASSWORD)

    assert (result.ok, result.reason) == (False, "mailbox_inactive")


def test_mailbox_of_inactive_domain_is_refused(mailbox):
    Domain.objects.filter(pk=mailbox.domain_id).update(is_active=False)

    result = auth("mario@example.test", MAILBOX_PASSWORD)

    assert (result.ok, result.reason) == (False, "domain_inactive")


def test_deleted_mailbox_is_refused(mailbox):
    mailbox_delete(mailbox=mailbox)

    result = auth("mario@example.test", MAILBOX_PASSWORD)

    assert (result.ok, result.reason) == (False, "unknown_user")


def test_totp_device_refuses_main_password_but_not_app_password(mailbox):
    TOTPDevice.objects.create(user=mailbox.user, name="phone", confirmed=True)
    _, token = app_password_create(user=mailbox.user, name="Thunderbird")

    main = auth("mario@example.test", MAILBOX_PASSWORD)
    app = auth("mario@example.test", token)

    assert (main.ok, main.reason) == (False, "2fa_required")
    assert (app.ok, app.reason) == (True, "app_password")
    assert log_rows() == [
        ("mario@example.test", "failure", "2fa_required"),
        ("mario@example.test", "success", "app_password"),
    ]


def test_unconfirmed_totp_device_does_not_require_2fa(mailbox):
    TOTPDevice.objects.create(user=mailbox.user, name="phone", confirmed=False)

    assert auth("mario@example.test", MAILBOX_PASSWORD).ok is True


def test_mailbox_requiring_2fa_refuses_main_password(mailbox):
    mailbox_update(mailbox=mailbox, require_2fa=True)

    assert auth("mario@example.test", MAILBOX_PASSWORD).reason == "2fa_required"


def test_domain_requiring_2fa_refuses_main_password(mailbox):
    domain_set_require_2fa(domain=mailbox.domain, required=True)

    result = auth("mario@example.test", MAILBOX_PASSWORD)

    assert (result.ok, result.reason) == (False, "2fa_required")


def test_revoked_app_password_is_refused(mailbox):
    app_password, token = app_password_create(user=mailbox.user, name="Old phone")
    app_password_revoke(app_password=app_password, actor=mailbox.user)

    result = auth("mario@example.test", token)

    assert (result.ok, result.reason) == (False, "app_password_revoked")


def test_app_password_of_another_mailbox_does_not_open_this_one(mailbox):
    other = MailboxFactory(domain=mailbox.domain, local_part="luigi")
    _, token = app_password_create(user=other.user, name="Phone")

    result = auth("mario@example.test", token)

    assert (result.ok, result.reason) == (False, "bad_password")


def test_tenth_failure_blocks_the_login_even_with_the_right_password(mailbox):
    for i in range(10):
        assert auth("mario@example.test", f"wrong-password-{i}").reason == "bad_password"

    result = auth("mario@example.test", MAILBOX_PASSWORD)

    assert (result.ok, result.reason, result.temporary) == (False, "blocked", False)
    assert AccessLogEntry.objects.filter(result="blocked").count() == 1
    assert AccessLogEntry.objects.filter(result="failure").count() == 10


def test_login_block_applies_from_every_address(mailbox):
    for i in range(10):
        auth("mario@example.test", f"wrong-password-{i}", remote_ip=f"203.0.113.{i + 1}")

    assert auth("mario@example.test", MAILBOX_PASSWORD, remote_ip="192.0.2.200").reason == "blocked"


def test_address_block_after_30_failures_spares_other_addresses(mailbox, settings):
    for i in range(30):
        auth(f"guess{i}@example.test", "wrong-password-123")

    from_attacker = auth("mario@example.test", MAILBOX_PASSWORD)
    from_elsewhere = auth("mario@example.test", MAILBOX_PASSWORD, remote_ip="192.0.2.10")

    assert (from_attacker.ok, from_attacker.reason) == (False, "blocked")
    assert (from_elsewhere.ok, from_elsewhere.reason) == (True, "password")


def test_success_does_not_reset_the_address_counter_of_other_logins(mailbox):
    for i in range(29):
        auth(f"guess{i}@example.test", "wrong-password-123")
    assert auth("mario@example.test", MAILBOX_PASSWORD).ok is True

    auth("guess99@example.test", "wrong-password-123")  # the 30th failure from this address

    assert auth("mario@example.test", MAILBOX_PASSWORD).reason == "blocked"


def test_success_resets_the_failures_of_its_own_login(mailbox):
    for i in range(9):
        auth("mario@example.test", f"wrong-password-{i}")
    assert auth("mario@example.test", MAILBOX_PASSWORD).ok is True

    for i in range(9):
        auth("mario@example.test", f"wrong-password-{i}")

    assert auth("mario@example.test", MAILBOX_PASSWORD).ok is True


def test_redis_down_is_a_temporary_failure_never_ok(mailbox, redis_down):
    result = auth("mario@example.test", MAILBOX_PASSWORD)

    assert (result.ok, result.temporary, result.reason) == (False, True, "backend_unavailable")
    assert log_rows() == [("mario@example.test", "failure", "backend_unavailable")]


def test_not_a_mail_protocol_is_a_programming_error(mailbox):
    with pytest.raises(ValueError):
        auth("mario@example.test", MAILBOX_PASSWORD, protocol="webmail")


def test_last_login_is_updated_with_a_single_update(mailbox, django_assert_max_num_queries):
    # mailbox, app-password lookup, TOTP lookup, last_login UPDATE, user+domain of the log row, INSERT
    with django_assert_max_num_queries(7):
        assert auth("mario@example.test", MAILBOX_PASSWORD).ok is True


def test_the_same_wrong_password_repeated_counts_once(mailbox):
    # given a phone that keeps retrying an old password
    for _ in range(25):
        assert auth("mario@example.test", "old-password-2025").reason == "bad_password"

    # then the user is not locked out, and every attempt is still in the access log
    assert auth("mario@example.test", MAILBOX_PASSWORD).ok is True
    assert AccessLogEntry.objects.filter(result="failure").count() == 25


def test_a_database_failure_after_the_mailbox_was_found_is_temporary(mailbox, monkeypatch):
    """ "Try later" (SMTP 4xx, IMAP [UNAVAILABLE], ActiveSync 503) when the database fails once
    the mailbox is known, not an exception: the log of that failure repeated the user and domain
    keyword arguments (TypeError)."""
    from django.db import DatabaseError

    from domains import mailauth

    def fail(*args, **kwargs):
        raise DatabaseError("connection lost")

    monkeypatch.setattr(mailauth, "_check_credentials", fail)
    result = auth("Mario@Example.TEST", MAILBOX_PASSWORD)
    assert (result.ok, result.reason, result.temporary) == (False, mailauth.BACKEND_UNAVAILABLE, True)
    row = AccessLogEntry.objects.get()
    assert (row.result, row.reason, row.user_id) == ("failure", mailauth.BACKEND_UNAVAILABLE, mailbox.user_id)
