"""The SQL views Dovecot reads stay in step with the models (migration mailstore 0001)."""

import hashlib

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.db.utils import ProgrammingError
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.services import app_password_create, app_password_revoke, token_hash
from domains.services import domain_set_require_2fa, mailbox_delete, mailbox_update
from mailstore.services import quota_override_set
from tests.factories import DomainFactory, MailboxFactory

pytestmark = pytest.mark.django_db

MAILUSER_COLUMNS = [
    "mailbox_id",
    "user_id",
    "login",
    "local_part",
    "domain",
    "password",
    "quota_bytes",
    "require_2fa",
    "must_change_password",
    "credential_generation",
]
APPPASSWORD_COLUMNS = ["login", "local_part", "domain", "app_password_id", "token_hash"]


def columns(view: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = %s ORDER BY ordinal_position",
            [view],
        )
        return [row[0] for row in cursor.fetchall()]


def mailuser(login: str):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT login, password, quota_bytes, require_2fa FROM mailstore_mailuser WHERE login = %s",
            [login],
        )
        return cursor.fetchone()


def app_hashes(login: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT token_hash FROM mailstore_mailapppassword WHERE login = %s ORDER BY 1", [login]
        )
        return [row[0] for row in cursor.fetchall()]


def test_views_have_the_contract_columns():
    assert columns("mailstore_mailuser") == MAILUSER_COLUMNS
    assert columns("mailstore_mailapppassword") == APPPASSWORD_COLUMNS


def test_active_mailbox_has_one_row_with_dovecot_argon2_password_and_tier_quota():
    mailbox = MailboxFactory(quota_tier=25)
    login, password, quota_bytes, require_2fa = mailuser(mailbox.address)
    django_hash = mailbox.user.password
    assert django_hash.startswith("argon2$argon2id$v=19$")
    assert (login, password, quota_bytes, require_2fa) == (
        mailbox.address,
        "{ARGON2ID}" + django_hash[len("argon2") :],
        25 * 1024**3,
        False,
    )


def test_password_dovecot_cannot_verify_is_null():
    mailbox = MailboxFactory()
    user = mailbox.user
    user.password = "pbkdf2_sha256$870000$salt$hash"  # noqa: S105 - a legacy hash, data set-up
    user.save(update_fields=["password"])
    assert mailuser(mailbox.address)[1] is None


def test_deactivated_or_deleted_mailbox_has_no_row():
    inactive, deleted = MailboxFactory(), MailboxFactory()
    mailbox_update(mailbox=inactive, is_active=False)
    address = deleted.address
    mailbox_delete(mailbox=deleted)
    assert (mailuser(inactive.address), mailuser(address)) == (None, None)


def test_inactive_domain_has_no_rows():
    mailbox = MailboxFactory()
    type(mailbox.domain).objects.filter(pk=mailbox.domain_id).update(is_active=False)
    assert mailuser(mailbox.address) is None


@pytest.mark.parametrize("how", ["mailbox", "domain", "totp"])
def test_2fa_flag_follows_mailbox_domain_and_confirmed_totp(how):
    domain = DomainFactory()
    mailbox = MailboxFactory(domain=domain)
    TOTPDevice.objects.create(user=mailbox.user, name="unconfirmed", confirmed=False)
    assert mailuser(mailbox.address)[3] is False
    if how == "mailbox":
        mailbox_update(mailbox=mailbox, require_2fa=True)
    elif how == "domain":
        domain_set_require_2fa(domain=domain, required=True)
    else:
        TOTPDevice.objects.create(user=mailbox.user, name="phone", confirmed=True)
    assert mailuser(mailbox.address)[3] is True


def test_app_password_rows_follow_revocation_and_mailbox_state():
    mailbox = MailboxFactory()
    first, first_token = app_password_create(user=mailbox.user, name="Laptop")
    _second, second_token = app_password_create(user=mailbox.user, name="Phone")
    assert app_hashes(mailbox.address) == sorted([token_hash(first_token), token_hash(second_token)])
    app_password_revoke(app_password=first, actor=mailbox.user)
    assert app_hashes(mailbox.address) == [token_hash(second_token)]
    mailbox_update(mailbox=mailbox, is_active=False)
    assert app_hashes(mailbox.address) == []


def test_quota_override_replaces_the_tier_and_removing_it_restores_it():
    mailbox = MailboxFactory(quota_tier=8)
    quota_override_set(mailbox=mailbox, quota_bytes=12345)
    assert mailuser(mailbox.address)[2] == 12345
    quota_override_set(mailbox=mailbox, quota_bytes=None)
    assert mailuser(mailbox.address)[2] == 8 * 1024**3


def test_dovecot_role_reads_the_views_and_nothing_else():
    mailbox = MailboxFactory()
    role = connection.ops.quote_name(settings.DOVECOT_DB_USER)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {role}")
        cursor.execute("SELECT count(*) FROM mailstore_mailuser WHERE login = %s", [mailbox.address])
        assert cursor.fetchone() == (1,)
        cursor.execute("SELECT count(*) FROM mailstore_mailapppassword")
        cursor.execute(
            "INSERT INTO mailstore_quotausage (username, bytes, messages) VALUES ('x@y.test', 1, 1)"
        )
        with pytest.raises(ProgrammingError), transaction.atomic():
            cursor.execute("SELECT password FROM accounts_user")
        with pytest.raises(ProgrammingError), transaction.atomic():
            cursor.execute("UPDATE domains_mailbox SET quota_tier = 100")
        transaction.set_rollback(True)


def test_must_change_password_and_credential_generation_follow_the_login():
    mailbox = MailboxFactory()
    user = mailbox.user
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT must_change_password, credential_generation FROM mailstore_mailuser WHERE login = %s",
            [mailbox.address],
        )
        assert cursor.fetchone() == (False, hashlib.md5(user.password.encode()).hexdigest())  # noqa: S324
    user.must_change_password = True
    user.save(update_fields=["must_change_password"])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT must_change_password FROM mailstore_mailuser WHERE login = %s", [mailbox.address]
        )
        assert cursor.fetchone() == (True,)


def test_dovecot_role_reaches_the_credential_cache_only_through_its_two_functions():
    mailbox = MailboxFactory()
    role = connection.ops.quote_name(settings.DOVECOT_DB_USER)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {role}")
        generation = hashlib.md5(mailbox.user.password.encode()).hexdigest()  # noqa: S324
        cursor.execute(
            "SELECT mailstore_authcache_fill(%s, %s, %s, %s, 900)",
            [mailbox.local_part, mailbox.domain.name, mailbox.password_plain, generation],
        )
        assert cursor.fetchone() == (True,)
        cursor.execute(
            "SELECT mailstore_authcache_match(%s, %s, %s), mailstore_authcache_match(%s, %s, %s)",
            [mailbox.user_id, mailbox.address, mailbox.password_plain,
             mailbox.user_id, mailbox.address, mailbox.password_plain + "x"],
        )
        assert cursor.fetchone() == (True, False)
        for sql in (
            "SELECT * FROM mailstore_authcache",
            "SELECT * FROM mailstore_authcachekey",
            "DELETE FROM mailstore_authcache",
            "SELECT mailstore_authcache_mac('a', 'b', 'c', '\\x00'::bytea)",
        ):
            with pytest.raises(ProgrammingError), transaction.atomic():
                cursor.execute(sql)
        transaction.set_rollback(True)
