"""Fixtures of the control-panel tests: two customers, their domains and admins, and clients
logged into the mailadmin portal the way the login flow leaves them."""

import uuid
from dataclasses import dataclass

import pytest
from django.test import Client

from domains import services
from domains.models import Domain, Mailbox, Manager
from portalkit.session import PORTALS_KEY
from tests.factories import MANAGER_PASSWORD, CustomerFactory, DomainFactory, ManagerFactory

POSTMASTER_PASSWORD = "Postmaster-Pass-2026"  # noqa: S105 - test data


@pytest.fixture(autouse=True)
def _isolated_side_effects(settings, tmp_path):
    """Brute-force counters under a key prefix of this run (the test client's IP is shared by
    parallel runs); uploaded logos in a temporary directory."""
    settings.BRUTEFORCE_KEY_PREFIX = f"test-panel-{uuid.uuid4().hex[:12]}"
    settings.MEDIA_ROOT = str(tmp_path / "media")


def postmaster_of(domain: Domain) -> Mailbox:
    """The domain's postmaster with a known password, past the forced first-login change."""
    mailbox = Mailbox.objects.select_related("user", "domain").get(domain=domain, is_postmaster=True)
    services.mailbox_set_password(mailbox=mailbox, password=POSTMASTER_PASSWORD, must_change=False)
    mailbox.user.refresh_from_db()
    return mailbox


def panel_client(user) -> Client:
    """A client logged into the mailadmin portal (as after the login flow, without 2FA)."""
    client = Client()
    client.force_login(user)
    session = client.session
    session[PORTALS_KEY] = ["mailadmin"]
    session.save()
    return client


@dataclass
class World:
    domain: Domain  # customer A's domain under test
    sibling: Domain  # customer A's other domain (another postmaster, no manager)
    foreign: Domain  # customer B's domain
    manager: Manager  # manager of `domain`
    postmaster: Mailbox  # postmaster of `domain`
    sibling_postmaster: Mailbox
    foreign_postmaster: Mailbox


@pytest.fixture
def world(db) -> World:
    customer_a = CustomerFactory()
    customer_b = CustomerFactory()
    domain = DomainFactory(customer=customer_a, name="acme.test")
    sibling = DomainFactory(customer=customer_a, name="acme-sibling.test")
    foreign = DomainFactory(customer=customer_b, name="other.test")
    manager = ManagerFactory(customer=customer_a, domains=[domain], username="boss.acme")
    return World(
        domain=domain,
        sibling=sibling,
        foreign=foreign,
        manager=manager,
        postmaster=postmaster_of(domain),
        sibling_postmaster=postmaster_of(sibling),
        foreign_postmaster=postmaster_of(foreign),
    )


@pytest.fixture
def manager_client(world) -> Client:
    return panel_client(world.manager.user)


@pytest.fixture
def postmaster_client(world) -> Client:
    return panel_client(world.postmaster.user)


__all__ = ["MANAGER_PASSWORD", "POSTMASTER_PASSWORD", "panel_client", "postmaster_of"]
