"""Every panel URL, four clients: anonymous, another customer's admin, an admin of the same
customer without rights on the domain, the right admin. Nothing leaks, nothing changes."""

import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AppPassword
from archiving.models import Archive, ArchivePlan
from core.models import AuditEntry
from domains import services
from domains.models import Delegate, DelegateGrant, DkimKey, Domain, Mailbox
from tests.factories import MailboxFactory, ManagerFactory
from tests.panel.conftest import panel_client

pytestmark = pytest.mark.django_db

# (url name, needs a mailbox pk, methods and POST data, manager only)
DOMAIN_URLS = [
    ("mailboxes", False, {}, False),
    (
        "mailbox_create",
        False,
        {"local_part": "intruder", "password": "Intruder-Pass-2026", "quota_tier": "8"},
        False,
    ),
    ("mailbox", True, None, False),
    ("mailbox_profile", True, {"first_name": "Hacked", "last_name": "Hacked"}, False),
    ("mailbox_password", True, {"password": "Hacked-Pass-2026-x"}, False),
    ("mailbox_quota", True, {"quota_tier": "100", "confirm": "1"}, False),
    ("mailbox_security", True, {"action": "require_2fa"}, False),
    ("mailbox_delete", True, {"confirm_address": "victim@acme.test"}, False),
    ("mailbox_suspension", True, {"action": "suspend", "mail": "refuse"}, False),
    ("mailbox_sending_release", True, {"action": "release"}, False),
    ("mailbox_export", True, None, False),
    ("domain_security", False, {"require_2fa": "on"}, False),
    ("audit_log", False, None, False),
    ("access_log", False, None, False),
    ("tracemail", False, None, False),
    ("mailbox_send_limit", True, {"send_limit": "5000", "confirm": "1"}, True),
    ("mailbox_archive", True, {"retention_years": "5", "confirm": "1"}, True),
    ("domain_branding", False, {"brand_name": "Hacked Inc."}, True),
    ("deleted_archives", False, {"archive": "1", "confirm_address": "victim@acme.test"}, True),
    ("domain_dns", False, {"action": "rotate"}, False),
]
POST_ONLY = {
    "mailbox_profile",
    "mailbox_password",
    "mailbox_quota",
    "mailbox_security",
    "mailbox_send_limit",
    "mailbox_archive",
    "mailbox_suspension",
    "mailbox_sending_release",
}


def fingerprint() -> dict:
    """Everything a panel request could change."""
    return {
        "mailboxes": list(
            Mailbox.objects.order_by("pk").values_list(
                "pk",
                "local_part",
                "first_name",
                "last_name",
                "quota_tier",
                "send_limit",
                "require_2fa",
                "is_active",
                "receive_while_suspended",
                "sending_held_at",
                "user__password",
                "user__is_active",
            )
        ),
        "domains": list(
            Domain.objects.order_by("pk").values_list(
                "pk", "name", "require_2fa", "brand_name", "brand_logo", "manager_id"
            )
        ),
        "audit": AuditEntry.objects.count(),
        "delegates": list(Delegate.objects.order_by("pk").values_list("pk", "name", "expires_on")),
        "grants": DelegateGrant.objects.count(),
        "archives": ArchivePlan.objects.count(),
        "removed_archives": Archive.objects.filter(removed_at__isnull=False).count(),
        "app_passwords": list(AppPassword.objects.values_list("pk", "revoked_at")),
        "totp": TOTPDevice.objects.count(),
        "dkim_keys": list(DkimKey.objects.order_by("pk").values_list("pk", "selector", "state")),
    }


def url_for(world, victim, name, needs_mailbox):
    args = [world.domain.name] + ([victim.pk] if needs_mailbox else [])
    return reverse(f"mailadmin:{name}", args=args)


@pytest.fixture
def victim(world):
    # Outgoing mail held (a message scored as spam): the release URL has something to change.
    mailbox = MailboxFactory(domain=world.domain, local_part="victim", first_name="Vera", last_name="Victim")
    Mailbox.objects.filter(pk=mailbox.pk).update(sending_held_at=timezone.now())
    return mailbox


@pytest.fixture
def clients(world):
    return {
        "anonymous": Client(),
        "other customer": panel_client(world.foreign_postmaster.user),
        "same customer, no rights": panel_client(world.sibling_postmaster.user),
    }


@pytest.mark.parametrize("name,needs_mailbox,data,manager_only", DOMAIN_URLS, ids=[u[0] for u in DOMAIN_URLS])
def test_domain_pages_refuse_everyone_but_the_domain_admins(
    world, victim, clients, name, needs_mailbox, data, manager_only, dns_server
):
    # given a URL of customer A's domain and a snapshot of the data
    url = url_for(world, victim, name, needs_mailbox)
    before = fingerprint()
    for who, client in clients.items():
        # when each outsider tries GET and POST
        for method in ("get", "post"):
            response = getattr(client, method)(url, data or {})
            # then: anonymous is sent to the login page, the others get a 404 that names nothing
            if who == "anonymous":
                assert response.status_code == 302, (who, method)
                assert response["Location"].startswith("/mailadmin/login/?next="), (who, method)
            else:
                assert response.status_code == 404, (who, method)
                body = response.content.decode()
                assert "victim@acme.test" not in body and "Vera" not in body, (who, method)
    # and nothing changed
    assert fingerprint() == before


@pytest.mark.parametrize("name,needs_mailbox,data,manager_only", DOMAIN_URLS, ids=[u[0] for u in DOMAIN_URLS])
def test_domain_pages_open_to_the_right_admin(
    world, victim, manager_client, postmaster_client, name, needs_mailbox, data, manager_only, dns_server
):
    url = url_for(world, victim, name, needs_mailbox)
    expected_get = 405 if name in POST_ONLY else 200
    # when the Manager asks for the page
    assert manager_client.get(url).status_code == expected_get
    # then the Postmaster gets it too, except the Manager-only pages (403, nothing changes)
    before = fingerprint()
    response = postmaster_client.get(url)
    if manager_only:
        assert response.status_code == 403
        assert postmaster_client.post(url, data).status_code == 403
        assert fingerprint() == before
    else:
        assert response.status_code == expected_get


@pytest.fixture
def delegate(world, victim):
    return services.delegate_create(
        manager=world.manager,
        username="auditor.acme",
        password="Auditor-Pass-2026",
        name="Auditor",
        email="auditor@example.test",
        expires_on=datetime.date(2030, 1, 1),
        grants=[(victim, "headers")],
    )


def test_delegate_pages_belong_to_their_manager_only(world, delegate):
    # given the delegate pages of customer A's Manager
    other_manager = ManagerFactory(customer=world.foreign.customer, domains=[world.foreign])
    urls = {
        "list": (reverse("mailadmin:delegates"), {}),
        "create": (
            reverse("mailadmin:delegate_create"),
            {
                "name": "X",
                "email": "x@example.test",
                "username": "x1",
                "password": "Xx-Pass-2026-long",
                "expires_on": "2030-01-01",
            },
        ),
        "edit": (
            reverse("mailadmin:delegate_edit", args=[delegate.pk]),
            {"name": "Hacked", "email": "h@example.test", "expires_on": "2031-01-01"},
        ),
        "delete": (reverse("mailadmin:delegate_delete", args=[delegate.pk]), {}),
    }
    before = fingerprint()
    outsiders = {
        "anonymous": (Client(), {"list": 302, "create": 302, "edit": 302, "delete": 302}),
        # another customer's Manager: their own (empty) list, and 404 on this delegate
        "other customer": (panel_client(other_manager.user), {"edit": 404, "delete": 404}),
        # the Postmaster of the managed domain is not a Manager
        "same customer, no rights": (
            panel_client(world.postmaster.user),
            {"list": 403, "create": 403, "edit": 403, "delete": 403},
        ),
    }
    for who, (client, expected) in outsiders.items():
        for key, status in expected.items():
            url, data = urls[key]
            for method in ("get", "post"):
                response = getattr(client, method)(url, data)
                assert response.status_code == status, (who, key, method)
                assert b"Auditor" not in response.content, (who, key, method)
    # the other Manager's own list does not show customer A's delegate
    response = panel_client(other_manager.user).get(urls["list"][0])
    assert response.status_code == 200 and b"Auditor" not in response.content
    assert fingerprint() == before
    # the right Manager sees all four pages
    right = panel_client(world.manager.user)
    for key in urls:
        assert right.get(urls[key][0]).status_code == 200, key


def test_home_lists_only_the_domains_one_administers(world, manager_client, postmaster_client):
    assert Client().get(reverse("mailadmin:home")).status_code == 302
    body = manager_client.get(reverse("mailadmin:home")).content.decode()
    assert "acme.test" in body and "acme-sibling.test" not in body and "other.test" not in body
    body = panel_client(world.sibling_postmaster.user).get(reverse("mailadmin:home")).content.decode()
    assert "acme-sibling.test" in body and ">acme.test<" not in body and "other.test" not in body
