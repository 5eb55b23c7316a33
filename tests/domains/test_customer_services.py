import datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from billing.inclusion import inclusion_for
from core.models import AuditEntry
from domains.models import Delegate, DelegateGrant, Site
from domains.services import (
    customer_create,
    customer_update,
    delegate_create,
    delegate_delete,
    site_create,
    site_update,
)
from tests.factories import CustomerFactory, DomainFactory, MailboxFactory, ManagerFactory, SiteFactory

pytestmark = pytest.mark.django_db

User = get_user_model()


def test_customer_create_normalises_vat_and_email():
    customer = customer_create(
        company_name=" ACME S.p.A. ",
        vat_number="it 0123 4567 890",
        legal_rep_name="Carla",
        legal_rep_email="Carla@ACME.test",
    )
    assert (customer.company_name, customer.vat_number, customer.legal_rep_email) == (
        "ACME S.p.A.",
        "IT01234567890",
        "carla@acme.test",
    )
    assert AuditEntry.objects.filter(action="customer.create", customer=customer).count() == 1


def test_duplicate_vat_number_is_refused_on_vat_number():
    CustomerFactory(vat_number="IT11111111111")
    with pytest.raises(ValidationError) as exc:
        customer_create(
            company_name="Other",
            vat_number="it11111111111",
            legal_rep_name="R",
            legal_rep_email="r@other.test",
        )
    assert list(exc.value.message_dict) == ["vat_number"]


def test_invalid_legal_rep_email_is_refused_on_its_field():
    with pytest.raises(ValidationError) as exc:
        customer_create(
            company_name="X", vat_number="IT2", legal_rep_name="R", legal_rep_email="not-an-email"
        )
    assert list(exc.value.message_dict) == ["legal_rep_email"]


def test_customer_update_audits_before_and_after():
    customer = CustomerFactory(legal_rep_name="Old Name")
    customer_update(customer=customer, legal_rep_name="New Name")
    customer.refresh_from_db()
    assert customer.legal_rep_name == "New Name"
    entry = AuditEntry.objects.get(action="customer.update")
    assert (entry.before, entry.after) == ({"legal_rep_name": "Old Name"}, {"legal_rep_name": "New Name"})


def test_site_profile_and_channels_drive_the_inclusion():
    customer = CustomerFactory(site=False)
    site_create(customer=customer, name="HQ", profile="1.5", voice_channels=7)
    site_create(customer=customer, name="Branch", profile="1.0", voice_channels=50)
    assert inclusion_for(customer.sites.all()).included_mailboxes == 42


def test_site_with_profile_zero_is_refused_on_profile():
    customer = CustomerFactory(site=False)
    with pytest.raises(ValidationError) as exc:
        site_create(customer=customer, name="Zero", profile="0", voice_channels=3)
    assert list(exc.value.message_dict) == ["profile"]
    assert Site.objects.filter(customer=customer).count() == 0


def test_site_update_to_1_0_makes_the_customer_ineligible():
    customer = CustomerFactory(site=False)
    site = SiteFactory(customer=customer, profile=Decimal("2.0"), voice_channels=10)
    site_update(site=site, profile="1.0")
    assert inclusion_for(customer.sites.all()).eligible is False
    entry = AuditEntry.objects.get(action="site.update")
    assert (entry.before, entry.after) == ({"profile": "2.0"}, {"profile": "1.0"})


def test_delegate_create_with_grants_on_the_managers_domains():
    customer = CustomerFactory()
    domain = DomainFactory(customer=customer)
    manager = ManagerFactory(customer=customer, domains=[domain])
    mailbox = MailboxFactory(domain=domain)
    delegate = delegate_create(
        manager=manager,
        username="Auditor.One",
        password="Delegate-Pass-2026",
        name="Auditor",
        email="a@x.test",
        expires_on=datetime.date(2027, 1, 31),
        window_start=datetime.date(2025, 1, 1),
        window_end=datetime.date(2025, 12, 31),
        grants=[(mailbox, "full")],
    )
    assert (delegate.user.username, delegate.user.kind) == ("auditor.one", "delegate")
    assert list(delegate.grants.values_list("mailbox__local_part", "access")) == [
        (mailbox.local_part, "full")
    ]


def test_delegate_grant_outside_the_managers_domains_is_refused():
    customer = CustomerFactory()
    manager = ManagerFactory(customer=customer, domains=[DomainFactory(customer=customer)])
    outside = MailboxFactory()  # another customer's domain
    with pytest.raises(ValidationError) as exc:
        delegate_create(
            manager=manager,
            username="aud2",
            password="Delegate-Pass-2026",
            name="A",
            email="a@x.test",
            expires_on=datetime.date(2027, 1, 1),
            grants=[(outside, "headers")],
        )
    assert list(exc.value.message_dict) == ["grants"]
    assert (Delegate.objects.count(), User.objects.filter(username="aud2").exists()) == (0, False)


def test_delegate_reversed_window_is_refused_by_validation():
    manager = ManagerFactory()
    with pytest.raises(ValidationError) as exc:
        delegate_create(
            manager=manager,
            username="aud3",
            password="Delegate-Pass-2026",
            name="A",
            email="a@x.test",
            expires_on=datetime.date(2027, 1, 1),
            window_start=datetime.date(2026, 6, 1),
            window_end=datetime.date(2026, 1, 1),
        )
    assert list(exc.value.message_dict) == ["__all__"]  # a rule on two fields: shown above the form
    assert (Delegate.objects.count(), User.objects.filter(username="aud3").exists()) == (0, False)


def test_delegate_delete_removes_login_and_grants():
    customer = CustomerFactory()
    domain = DomainFactory(customer=customer)
    manager = ManagerFactory(customer=customer, domains=[domain])
    delegate = delegate_create(
        manager=manager,
        username="aud4",
        password="Delegate-Pass-2026",
        name="A",
        email="a@x.test",
        expires_on=datetime.date(2027, 1, 1),
        grants=[(MailboxFactory(domain=domain), "headers")],
    )
    delegate_delete(delegate=delegate)
    assert (Delegate.objects.count(), DelegateGrant.objects.count()) == (0, 0)
    assert User.objects.filter(username="aud4").exists() is False
