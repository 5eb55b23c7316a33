"""One rule answers "may this actor administer this domain" (domains.selectors.can_administer),
and the control panel, Tracemail and the access log all ask it: each actor kind gets the same
answer from all three.

Before issue 10 three rules disagreed: accounts.selectors.can_administer_domain let staff
(kind staff, or a superuser) in and ignored an inactive domain; mta.selectors.can_see_tracemail
let in any login with is_staff, whatever its kind; the panel (domains.selectors) admitted only
the Postmaster and the Manager of an active domain. The panel's rule wins: it is the door every
request already went through, and staff work in the back office, not in customers' portals."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from domains.models import Domain, Mailbox
from domains.selectors import access_log_for, can_administer, domains_for
from domains.services import customer_user_create, delegate_create
from mta.selectors import tracemail_for
from tests.factories import MANAGER_PASSWORD, CustomerFactory, DomainFactory, MailboxFactory, ManagerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    customer = CustomerFactory()
    acme = DomainFactory(customer=customer, name="acme.test")
    sister = DomainFactory(customer=customer, name="sister.test")
    other = DomainFactory(name="other.test")
    manager = ManagerFactory(customer=customer, domains=[acme])
    sister_manager = ManagerFactory(customer=customer, domains=[sister])
    mario = MailboxFactory(domain=acme, local_part="mario")
    delegate = delegate_create(
        manager=manager, username="auditor.acme", password=MANAGER_PASSWORD, name="Auditor",
        email="auditor@far.example",
        expires_on=timezone.localdate() + datetime.timedelta(days=30), grants=[(mario, "full")],
        actor=manager.user,
    )
    return {
        "acme": acme,
        "customer": customer,
        "postmaster": Mailbox.objects.get(domain=acme, is_postmaster=True).user,
        "other_postmaster": Mailbox.objects.get(domain=other, is_postmaster=True).user,
        "manager": manager.user,
        "sister_manager": sister_manager.user,
        "mailbox": mario.user,
        "delegate": delegate.user,
    }


def _answers(actor, domain):
    """(rule, panel, tracemail, access log) for one actor."""

    def allowed(read):
        try:
            read(actor=actor, domain=domain)
        except PermissionDenied:
            return False
        return True

    return (
        can_administer(actor=actor, domain=domain),
        domains_for(user=actor).filter(pk=domain.pk).exists(),
        allowed(tracemail_for),
        allowed(access_log_for),
    )


def test_the_postmaster_of_the_domain_administers_it(world):
    assert _answers(world["postmaster"], world["acme"]) == (True, True, True, True)


def test_the_postmaster_of_another_domain_does_not(world):
    assert _answers(world["other_postmaster"], world["acme"]) == (False, False, False, False)


def test_the_manager_listing_the_domain_administers_it(world):
    assert _answers(world["manager"], world["acme"]) == (True, True, True, True)


def test_a_manager_of_the_same_customer_not_listing_the_domain_does_not(world):
    assert _answers(world["sister_manager"], world["acme"]) == (False, False, False, False)


def test_a_plain_mailbox_user_does_not(world):
    assert _answers(world["mailbox"], world["acme"]) == (False, False, False, False)


def test_a_delegate_granted_a_mailbox_of_the_domain_does_not(world):
    assert _answers(world["delegate"], world["acme"]) == (False, False, False, False)


def test_a_customer_area_user_does_not(world):
    customer_user = customer_user_create(
        customer=world["customer"], username="billing.acme", password=MANAGER_PASSWORD,
        can_configure_mail=True,
    )
    assert _answers(customer_user.user, world["acme"]) == (False, False, False, False)


def test_staff_do_not_administer_tenants_domains_through_the_portals(world):
    User = get_user_model()
    staff = User.objects.create_user(username="ops", password=MANAGER_PASSWORD, kind=User.Kind.STAFF,
                                     is_staff=True)
    superuser = User.objects.create_superuser(username="root", password=MANAGER_PASSWORD)
    for actor in (staff, superuser):
        assert _answers(actor, world["acme"]) == (False, False, False, False)


def test_anonymous_and_an_inactive_domain(world):
    assert _answers(AnonymousUser(), world["acme"]) == (False, False, False, False)
    Domain.objects.filter(pk=world["acme"].pk).update(is_active=False)
    assert _answers(world["postmaster"], world["acme"]) == (False, False, False, False)
