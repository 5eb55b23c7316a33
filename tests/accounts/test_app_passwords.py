"""App passwords: created once, stored as SHA-256 only, revocable, listed with last use."""

import hashlib
import re

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from accounts.models import AppPassword
from accounts.selectors import app_passwords_for
from accounts.services import app_password_create, app_password_revoke
from core.models import AuditEntry
from tests.factories import MailboxFactory

pytestmark = pytest.mark.django_db


def test_create_returns_the_token_once_and_stores_only_its_sha256(mailbox):
    app_password, token = app_password_create(user=mailbox.user, name=" Phone ")

    assert re.fullmatch(r"[a-z]{5}(-[a-z]{5}){5}", token)  # 30 letters: log2(26**30) = 141 bits
    stored = AppPassword.objects.get()
    assert (stored.name, stored.user, stored.token_hash) == (
        "Phone", mailbox.user, hashlib.sha256(token.encode()).hexdigest())
    assert token not in {stored.name, stored.token_hash}
    assert (stored.last_used_at, stored.revoked_at, stored.is_active) == (None, None, True)
    audit = AuditEntry.objects.get(action="app_password.create")
    assert (audit.domain, audit.target, audit.after) == (
        mailbox.domain, "mario@example.test", {"name": "Phone"})


def test_tokens_are_different_each_time(mailbox):
    tokens = {app_password_create(user=mailbox.user, name=f"device {i}")[1] for i in range(20)}

    assert len(tokens) == 20


def test_name_is_required(mailbox):
    with pytest.raises(ValidationError) as exc:
        app_password_create(user=mailbox.user, name="   ")

    assert "name" in exc.value.message_dict
    assert AppPassword.objects.count() == 0


def test_revoke_sets_revoked_at_once_and_audits(mailbox):
    app_password, _ = app_password_create(user=mailbox.user, name="Tablet")

    first = app_password_revoke(app_password=app_password, actor=mailbox.user)
    second = app_password_revoke(app_password=app_password, actor=mailbox.user)

    assert first.revoked_at is not None and second.revoked_at == first.revoked_at
    assert AuditEntry.objects.filter(action="app_password.revoke").count() == 1


def test_selector_lists_own_active_passwords_newest_first(mailbox):
    other = MailboxFactory(domain=mailbox.domain, local_part="luigi")
    old, _ = app_password_create(user=mailbox.user, name="Old")
    new, _ = app_password_create(user=mailbox.user, name="New")
    revoked, _ = app_password_create(user=mailbox.user, name="Revoked")
    app_password_revoke(app_password=revoked, actor=mailbox.user)
    app_password_create(user=other.user, name="Not mine")

    assert list(app_passwords_for(user=mailbox.user)) == [new, old]
    assert list(app_passwords_for(user=mailbox.user, include_revoked=True)) == [revoked, new, old]


def test_database_refuses_a_hash_that_is_not_sha256_hex(mailbox):
    with pytest.raises(IntegrityError):
        AppPassword.objects.create(user=mailbox.user, name="x", token_hash="plain-text-token")


def test_database_refuses_a_duplicate_hash(mailbox):
    AppPassword.objects.create(user=mailbox.user, name="a", token_hash="a" * 64)

    with pytest.raises(IntegrityError):
        AppPassword.objects.create(user=mailbox.user, name="b", token_hash="a" * 64)
