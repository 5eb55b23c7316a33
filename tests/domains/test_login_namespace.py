"""Logins cannot squat addresses (issue 9, item 11): a Manager, Delegate or customer-area login
never contains '@' (addresses are the logins of mailboxes), so no such login can block a
mailbox or a domain created later, whoever created it (a Manager, or provider staff)."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import translation

from domains.models import Delegate, Mailbox
from domains.services import (
    customer_user_create,
    delegate_create,
    domain_register,
    mailbox_create,
    manager_create,
)
from tests.factories import MAILBOX_PASSWORD, MANAGER_PASSWORD, CustomerFactory, DomainFactory, ManagerFactory

pytestmark = pytest.mark.django_db

User = get_user_model()
MESSAGE = (
    "Only a mailbox has an email address as its login: choose a login without “@” "
    "(for example anna.rossi)."
)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def manager():
    customer = CustomerFactory()
    return ManagerFactory(customer=customer, domains=[DomainFactory(customer=customer, name="acme.test")],
                          username="boss.acme")


def make_delegate(manager, username):
    return delegate_create(
        manager=manager, username=username, password="Auditor-Pass-2026", name="Auditor",
        email="auditor@example.test", expires_on=datetime.date(2030, 1, 1),
    )


@pytest.mark.parametrize("login", [
    "ceo@other.test",  # an address of another customer's domain
    "CEO@Other.Test.",  # another spelling of it
    "ｃｅｏ＠ｏｔｈｅｒ．ｔｅｓｔ",  # full-width '@' and letters
    "postmaster@future.test",  # a domain nobody hosts yet
    "ceo@other",  # any '@'
])
def test_a_manager_cannot_give_a_delegate_a_login_with_an_at_sign(manager, login):
    # given another customer's domain
    other = DomainFactory(customer=CustomerFactory(), name="other.test")
    # when a Manager gives a Delegate a login that is (or looks like) an address
    with pytest.raises(ValidationError) as caught:
        make_delegate(manager, login)
    # then it is refused on the login field, nothing is created
    assert caught.value.message_dict == {"username": [MESSAGE]}
    assert (Delegate.objects.count(), User.objects.filter(kind="delegate").count()) == (0, 0)
    # and the address and the domain stay free for their owners
    mailbox = mailbox_create(domain=other, local_part="ceo", password=MAILBOX_PASSWORD)
    assert mailbox.address == "ceo@other.test"
    future = domain_register(customer=CustomerFactory(), name="future.test")
    assert Mailbox.objects.get(domain=future, is_postmaster=True).address == "postmaster@future.test"


def test_a_delegate_login_without_at_sign_is_stored_canonical(manager):
    delegate = make_delegate(manager, "Ｒｅｖｉｓｏｒｅ.Acme")
    assert delegate.user.username == "revisore.acme"


def test_provider_staff_cannot_give_a_manager_or_customer_user_an_address_login():
    customer = CustomerFactory()
    DomainFactory(customer=CustomerFactory(), name="other.test")
    with pytest.raises(ValidationError) as caught:
        manager_create(customer=customer, username="ceo@other.test", password=MANAGER_PASSWORD)
    assert caught.value.message_dict == {"username": [MESSAGE]}
    with pytest.raises(ValidationError) as caught:
        customer_user_create(customer=customer, username="billing@other.test", password=MANAGER_PASSWORD)
    assert caught.value.message_dict == {"username": [MESSAGE]}
    assert User.objects.filter(kind__in=["manager", "customer"]).count() == 0


@pytest.mark.parametrize("kind", ["manager", "delegate", "customer"])
def test_the_database_refuses_an_address_login_for_other_kinds(kind):
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="ceo@other.test", kind=kind)
    User.objects.create(username="ceo@other.test", kind="mailbox")


def test_the_migration_renames_legacy_address_logins_of_other_kinds():
    # given logins made before the rule (the constraint is dropped inside this test's transaction)
    import importlib

    from django.apps import apps
    from django.db import connection

    migration = importlib.import_module("accounts.migrations.0004_only_mailbox_login_has_at")
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE accounts_user DROP CONSTRAINT accounts_user_only_mailbox_login_has_at")
    User.objects.create(username="boss.acme", kind="staff")
    boss = User.objects.create(username="boss@acme", kind="manager")
    squatter = User.objects.create(username="ceo@other.test", kind="delegate")
    mailbox = User.objects.create(username="anna@acme.test", kind="mailbox")
    # when the migration runs
    migration.rename_address_logins(apps, None)
    # then only the non-mailbox logins lost their '@', with a number where the name was taken
    assert [User.objects.get(pk=u.pk).username for u in (boss, squatter, mailbox)] == [
        "boss.acme-2", "ceo.other.test", "anna@acme.test"]
