"""Delegate grants follow the Manager's domains: taking a domain from a Manager revokes what
their delegates could read there; editing a delegate keeps the grants the panel cannot show."""

import datetime

import pytest

from core.models import AuditEntry
from domains.models import DelegateGrant, Domain
from domains.services import delegate_create, delegate_update, manager_set_domains
from tests.factories import CustomerFactory, DomainFactory, MailboxFactory, ManagerFactory

pytestmark = pytest.mark.django_db


def grants_of(delegate) -> list[tuple[str, str]]:
    return sorted(
        (f"{g.mailbox.local_part}@{g.mailbox.domain.name}", g.access)
        for g in DelegateGrant.objects.filter(delegate=delegate).select_related("mailbox__domain")
    )


@pytest.fixture
def two_domains():
    customer = CustomerFactory()
    a = DomainFactory(customer=customer, name="a.test")
    b = DomainFactory(customer=customer, name="b.test")
    manager = ManagerFactory(customer=customer, domains=[a, b])
    alice = MailboxFactory(domain=a, local_part="alice")
    bob = MailboxFactory(domain=b, local_part="bob")
    delegate = delegate_create(
        manager=manager,
        username="auditor.a",
        password="Auditor-Pass-2026",
        name="Auditor",
        email="auditor@example.test",
        expires_on=datetime.date(2030, 1, 1),
        grants=[(alice, "full"), (bob, "headers")],
    )
    return manager, a, b, alice, bob, delegate


def test_taking_a_domain_from_a_manager_revokes_their_delegates_grants_there(two_domains):
    # given a Manager of a.test and b.test whose delegate reads a mailbox of each
    manager, a, b, _alice, _bob, delegate = two_domains
    # when staff leave the Manager only a.test (b.test may then get another Manager)
    manager_set_domains(manager=manager, domains=[a])
    # then the delegate keeps a.test and lost b.test, and the audit row says so
    assert grants_of(delegate) == [("alice@a.test", "full")]
    entry = AuditEntry.objects.get(action="manager.domains")
    assert (entry.before, entry.after) == (
        {"domains": ["a.test", "b.test"]},
        {"domains": ["a.test"], "delegate_grants_revoked": 1},
    )
    # and the domain's next Manager starts with no delegate of the old one reading it
    newcomer = ManagerFactory(customer=manager.customer, domains=[b])
    assert Domain.objects.get(pk=b.pk).manager_id == newcomer.pk
    assert DelegateGrant.objects.filter(mailbox__domain=b).count() == 0


def test_editing_a_delegate_keeps_grants_on_a_deactivated_domain(two_domains):
    # given b.test is deactivated (the panel shows only active domains' mailboxes)
    manager, _a, b, alice, _bob, delegate = two_domains
    Domain.objects.filter(pk=b.pk).update(is_active=False)
    # when the Manager edits the delegate with what the panel shows: alice only, now headers
    delegate_update(delegate=delegate, grants=[(alice, "headers")], name="Auditor 2")
    # then alice changed and bob's grant survived for when b.test is active again
    assert grants_of(delegate) == [("alice@a.test", "headers"), ("bob@b.test", "headers")]


def test_editing_a_delegate_still_removes_grants_on_active_domains(two_domains):
    # given both domains active
    _manager, _a, _b, alice, _bob, delegate = two_domains
    # when the Manager unticks bob
    delegate_update(delegate=delegate, grants=[(alice, "full")])
    # then bob's grant is gone
    assert grants_of(delegate) == [("alice@a.test", "full")]
