from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from core.models import AuditEntry
from domains.models import Domain, Mailbox
from domains.services import domain_register, domain_set_require_2fa
from tests.factories import CustomerFactory, DomainFactory, SiteFactory

pytestmark = pytest.mark.django_db

User = get_user_model()


def test_register_creates_exactly_one_postmaster_who_must_change_password(django_capture_on_commit_callbacks):
    # given an eligible customer
    customer = CustomerFactory()
    # when a domain is registered
    with django_capture_on_commit_callbacks(execute=True):
        domain = domain_register(customer=customer, name="acme.test")
    # then exactly one mailbox exists: the postmaster, with a usable Argon2 password to change
    mailboxes = list(Mailbox.objects.filter(domain=domain))
    assert [(m.local_part, m.is_postmaster, m.is_active) for m in mailboxes] == [("postmaster", True, True)]
    user = mailboxes[0].user
    assert user.username == "postmaster@acme.test"
    assert user.kind == User.Kind.MAILBOX
    assert user.must_change_password is True
    assert user.has_usable_password() is True
    assert user.password.startswith("argon2$argon2id$")


def test_register_emails_the_credentials_to_the_legal_representative_once(
    django_capture_on_commit_callbacks, mailoutbox
):
    customer = CustomerFactory(legal_rep_email="carla@acme-legal.test", legal_rep_name="Carla Acme")
    # when the domain is registered and the transaction commits
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        domain_register(customer=customer, name="acme.test")
    # then one email went to the legal representative only, with the login and a password that works
    assert len(callbacks) == 1
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["carla@acme-legal.test"]
    assert message.cc == [] and message.bcc == []
    assert "acme.test" in message.subject
    assert "postmaster@acme.test" in message.body
    assert "Carla Acme" in message.body
    password_line = next(
        line for line in message.body.splitlines() if line.startswith(("Password", "Temporary"))
    )
    password = password_line.split(":", 1)[1].strip()
    assert User.objects.get(username="postmaster@acme.test").check_password(password) is True


def test_no_email_before_the_transaction_commits(django_capture_on_commit_callbacks, mailoutbox):
    customer = CustomerFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        domain_register(customer=customer, name="acme.test")
    assert len(callbacks) == 1
    assert mailoutbox == []


def test_no_email_and_no_rows_when_the_surrounding_transaction_rolls_back(
    django_capture_on_commit_callbacks, mailoutbox
):
    customer = CustomerFactory()
    # when the caller's transaction fails after the registration
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            domain_register(customer=customer, name="acme.test")
            raise RuntimeError("the caller failed")
    # then nothing was written and nothing was sent
    assert callbacks == []
    assert mailoutbox == []
    assert Domain.objects.filter(name="acme.test").exists() is False
    assert User.objects.filter(username="postmaster@acme.test").exists() is False


def test_customer_with_only_profile_1_0_sites_is_refused():
    # given a customer whose only sites have profile 1.0
    customer = CustomerFactory(site__profile=Decimal("1.0"), site__voice_channels=30)
    SiteFactory(customer=customer, profile=Decimal("1.0"), voice_channels=5)
    # when it registers a domain, then the error names the customer and nothing is written
    with pytest.raises(ValidationError) as exc:
        domain_register(customer=customer, name="acme.test")
    assert list(exc.value.message_dict) == ["customer"]
    assert Domain.objects.count() == 0
    assert Mailbox.objects.count() == 0


def test_customer_without_sites_is_refused():
    customer = CustomerFactory(site=False)
    with pytest.raises(ValidationError) as exc:
        domain_register(customer=customer, name="acme.test")
    assert list(exc.value.message_dict) == ["customer"]


def test_idn_domain_is_stored_in_punycode_with_its_postmaster():
    customer = CustomerFactory()
    domain = domain_register(customer=customer, name="Caffè-Università.IT")
    assert domain.name == "xn--caff-universit-tgb1j.it"
    assert Mailbox.objects.get(domain=domain).user.username == "postmaster@xn--caff-universit-tgb1j.it"


def test_name_is_normalised_lower_case_without_trailing_dot():
    domain = domain_register(customer=CustomerFactory(), name="  Example.COM. ")
    assert domain.name == "example.com"


def test_duplicate_domain_is_refused_with_an_error_naming_name():
    DomainFactory(name="acme.test")
    other = CustomerFactory()
    with pytest.raises(ValidationError) as exc:
        domain_register(customer=other, name="ACME.test")
    assert list(exc.value.message_dict) == ["name"]
    assert Domain.objects.filter(name="acme.test").count() == 1
    assert Mailbox.objects.filter(local_part="postmaster").count() == 1


@pytest.mark.parametrize("name", ["localhost", "not a domain", "example.123", "-x.com"])
def test_invalid_domain_name_is_refused_with_an_error_naming_name(name):
    with pytest.raises(ValidationError) as exc:
        domain_register(customer=CustomerFactory(), name=name)
    assert list(exc.value.message_dict) == ["name"]
    assert Domain.objects.count() == 0
    assert User.objects.count() == 0


def test_register_writes_one_audit_row():
    staff = User.objects.create_user("staff1", password="x-Staff-Pass-2026", is_staff=True)
    domain = domain_register(customer=CustomerFactory(), name="audit.test", actor=staff)
    rows = list(
        AuditEntry.objects.filter(action="domain.register").values("actor", "domain", "target", "after")
    )
    assert rows == [
        {
            "actor": staff.pk,
            "domain": domain.pk,
            "target": "audit.test",
            "after": {"name": "audit.test", "postmaster": "postmaster@audit.test"},
        }
    ]


def test_require_2fa_is_set_and_audited():
    domain = DomainFactory()
    domain_set_require_2fa(domain=domain, required=True)
    domain.refresh_from_db()
    assert domain.require_2fa is True
    entry = AuditEntry.objects.get(action="domain.require_2fa")
    assert (entry.before, entry.after) == ({"require_2fa": False}, {"require_2fa": True})
