"""The login model and its password hash: Argon2id, in a form Dovecot verifies as {ARGON2ID}."""

import argon2
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import get_hasher, identify_hasher
from django.db import IntegrityError, transaction

from tests.factories import MAILBOX_PASSWORD, MailboxFactory

pytestmark = pytest.mark.django_db

User = get_user_model()


def dovecot_scheme(django_hash: str) -> str:
    """What the mailstore SQL view hands Dovecot: {ARGON2ID} + the part after "argon2"."""
    algorithm, rest = django_hash.split("$", 1)
    assert algorithm == "argon2"
    return "{ARGON2ID}$" + rest


def test_the_first_password_hasher_is_argon2():
    assert settings.PASSWORD_HASHERS[0] == "accounts.hashers.MailArgon2PasswordHasher"
    assert get_hasher("default").algorithm == "argon2"


def test_a_mailbox_password_is_stored_as_argon2id_with_the_configured_costs():
    mailbox = MailboxFactory()
    encoded = mailbox.user.password
    assert identify_hasher(encoded).algorithm == "argon2"
    assert encoded.startswith("argon2$argon2id$v=19$m=8192,t=1,p=1$")  # the test costs (tests/conftest.py)


def test_the_stored_hash_in_dovecot_format_verifies_the_password_with_argon2_cffi():
    # given a mailbox with a known password
    mailbox = MailboxFactory()
    # when the hash is turned into Dovecot's {ARGON2ID} form
    scheme = dovecot_scheme(mailbox.user.password)
    assert scheme.startswith("{ARGON2ID}$argon2id$")
    phc = scheme.removeprefix("{ARGON2ID}")
    # then the PHC string Dovecot reads verifies the right password and refuses a wrong one
    assert argon2.PasswordHasher().verify(phc, MAILBOX_PASSWORD) is True
    with pytest.raises(argon2.exceptions.VerifyMismatchError):
        argon2.PasswordHasher().verify(phc, "Wrong-Password-2026")


def test_a_pbkdf2_hash_is_upgraded_to_argon2_at_the_next_login(settings):
    # given a login whose hash was made with PBKDF2 (e.g. imported)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    user = User.objects.create_user("legacy@acme.test", password="Legacy-Pass-2026")
    assert user.password.startswith("pbkdf2_sha256$")
    settings.PASSWORD_HASHERS = [
        "accounts.hashers.MailArgon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    # when the password is checked, then the hash is rewritten as Argon2
    assert user.check_password("Legacy-Pass-2026") is True
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")


def test_login_names_are_unique_ignoring_case():
    # create() writes the spelling as given (create_user would store the canonical form, which
    # the plain unique key refuses first): the database's own case-insensitive rule is tested.
    User.objects.create(username="Anna@Acme.test")
    with pytest.raises(IntegrityError, match="accounts_user_username_ci_unique"), transaction.atomic():
        User.objects.create(username="anna@acme.TEST")


def test_create_user_stores_the_canonical_login():
    assert User.objects.create_user("Ａｎｎａ＠Ａｃｍｅ。test.").username == "anna@acme.test"
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("ANNA@acme.test")


def test_unknown_kind_is_refused_by_the_database():
    with pytest.raises(IntegrityError, match="accounts_user_kind_valid"), transaction.atomic():
        User.objects.create_user("robot", kind="robot")


def test_a_new_user_is_staff_kind_and_need_not_change_password():
    user = User.objects.create_user("someone")
    assert (user.kind, user.must_change_password, user.language) == ("staff", False, "")
