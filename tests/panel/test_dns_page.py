"""The DNS and mail-programs page of the control panel: four clients on its URL (nothing leaks,
nothing changes), the records with a live check against the real test DNS server (correct zone:
every row correct; broken zone: each row says what is wrong), refresh on demand, DKIM rotation."""

import socket

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from core.models import AuditEntry
from domains import dkim, services
from domains.models import DkimKey
from tests.domains import dnszone
from tests.factories import MailboxFactory
from tests.panel.conftest import panel_client

pytestmark = pytest.mark.django_db

OTHER_KEY = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAotherkey" + "Q" * 300


@pytest.fixture
def zone(settings, dns_server):
    dnszone.configure(settings)
    return dns_server


@pytest.fixture
def key(world, zone):
    """acme.test's key, made before any client looks (as on a domain registered with keys)."""
    return services.dkim_key_first(domain=world.domain)


def url(world) -> str:
    return reverse("mailadmin:domain_dns", args=[world.domain.name])


def keys_state() -> list:
    return [
        list(
            DkimKey.objects.order_by("pk").values_list("pk", "domain_id", "selector", "state", "public_key")
        ),
        AuditEntry.objects.count(),
    ]


def test_the_dns_page_refuses_outsiders(world, key, zone):
    anna = MailboxFactory(domain=world.domain, local_part="anna")
    outsiders = {
        "anonymous": Client(),
        "other customer's postmaster": panel_client(world.foreign_postmaster.user),
        "same customer, no rights": panel_client(world.sibling_postmaster.user),
        "plain mailbox of the domain": panel_client(anna.user),
    }
    before = keys_state()
    for who, client in outsiders.items():
        for method, data in (("get", {}), ("post", {"action": "check"}), ("post", {"action": "rotate"})):
            response = getattr(client, method)(url(world), data)
            if who == "anonymous":
                assert response.status_code == 302, (who, method, data)
                assert response["Location"].startswith("/mailadmin/login/?next="), (who, method)
            elif who == "plain mailbox of the domain":
                assert response.status_code in (302, 403, 404), (who, method, data)
            else:
                assert response.status_code == 404, (who, method, data)
            body = response.content.decode()
            assert key.selector not in body and key.public_key[:40] not in body, (who, method, data)
    # nothing changed, and nothing was looked up on their behalf
    assert keys_state() == before
    assert zone.queries == []


@pytest.mark.parametrize("who", ["manager", "postmaster"])
def test_a_correct_zone_is_all_green(world, key, zone, who, manager_client, postmaster_client):
    client = manager_client if who == "manager" else postmaster_client
    dnszone.publish_correct(zone, world.domain)
    response = client.get(url(world))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-dns-summary="ok"' in body
    rows = {
        "MX": "present",
        "SPF": "present",
        f"DKIM:{key.selector}": "present",
        "DMARC": "present",
        "AUTOCONFIG": "present",
        "AUTODISCOVER": "present",
    }
    for record, status in rows.items():
        assert f'data-record="{record}" data-status="{status}"' in body, record
    # the values to publish are on the page, the DKIM one whole
    assert dkim.record_value(key) in body
    assert f"{key.selector}._domainkey.acme.test" in body
    assert "10 mx1.mailsuite.test." in body and "web.mailsuite.test." in body
    assert "v=DMARC1; p=quarantine; rua=mailto:postmaster@acme.test" in body
    # the pending key, seen, now signs
    key.refresh_from_db()
    assert key.state == "active"


def test_a_broken_zone_says_what_is_wrong_in_each_record(world, key, zone, postmaster_client):
    dnszone.publish_broken(zone, world.domain, other_public_key=OTHER_KEY)
    body = postmaster_client.get(url(world)).content.decode()
    assert 'data-dns-summary="problems"' in body
    for record, status in {
        "MX": "wrong",
        "SPF": "wrong",
        f"DKIM:{key.selector}": "wrong",
        "DMARC": "wrong",
        "AUTOCONFIG": "wrong",
        "AUTODISCOVER": "missing",
    }.items():
        assert f'data-record="{record}" data-status="{status}"' in body, record
    with translation.override("it"):
        expected = [
            translation.gettext("Mail for the domain goes to %(detail)s, not to the suite's servers.")
            % {"detail": "mx.elsewhere.example"},
            translation.gettext(
                "%(detail)s SPF records: receivers treat that as an error. Merge them into one."
            )
            % {"detail": "2"},
            translation.gettext("It publishes a different key: copy the whole value again."),
            translation.gettext("No valid policy: p= must be none, quarantine or reject."),
            translation.gettext("It points to %(detail)s instead of %(expected)s.")
            % {"detail": "autoconfig.oldhost.example", "expected": "web.mailsuite.test"},
            translation.gettext("No such record in the DNS yet."),
        ]
    for text in expected:
        assert escape(text) in body, text
    key.refresh_from_db()
    assert key.state == "pending"  # a wrong record does not make it sign


def test_results_are_kept_briefly_and_check_now_looks_again(world, key, zone, postmaster_client):
    # given a first view (nothing published): the report is kept
    body = postmaster_client.get(url(world)).content.decode()
    assert 'data-record="MX" data-status="missing"' in body
    dnszone.publish_correct(zone, world.domain)
    zone.queries.clear()
    body = postmaster_client.get(url(world)).content.decode()
    assert 'data-record="MX" data-status="missing"' in body and zone.queries == []
    # when "Check now" is pressed, the records are looked up again
    response = postmaster_client.post(url(world), {"action": "check"})
    assert (response.status_code, response["Location"]) == (302, url(world))
    assert zone.queries
    body = postmaster_client.get(url(world)).content.decode()
    assert 'data-dns-summary="ok"' in body


def test_a_dns_server_that_does_not_answer_is_not_checked_rather_than_missing(
    world, key, settings, postmaster_client
):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # bound, never answers
        settings.DNS_RESOLVER = "127.0.0.1:%d" % silent.getsockname()[1]
        settings.DNS_CHECK_TIMEOUT = 0.3
        body = postmaster_client.get(url(world)).content.decode()
    assert 'data-record="MX" data-status="unknown"' in body
    assert 'data-status="missing"' not in body and 'data-status="present"' not in body


def test_rotation_from_the_page_publishes_a_second_key_and_keeps_the_first_signing(
    world, key, zone, manager_client
):
    dnszone.publish_correct(zone, world.domain)
    manager_client.get(url(world))
    key.refresh_from_db()
    assert key.state == "active"
    # when the Manager creates a new key
    response = manager_client.post(url(world), {"action": "rotate"})
    assert response.status_code == 302
    new = DkimKey.objects.get(domain=world.domain, state="pending")
    # then the page lists both records: the current one correct, the new one to publish
    body = manager_client.get(url(world)).content.decode()
    assert f'data-record="DKIM:{key.selector}" data-status="present"' in body
    assert f'data-record="DKIM:{new.selector}" data-status="missing"' in body
    assert dkim.record_value(new) in body
    assert dkim.signing_key("acme.test").selector == key.selector
    # and a second rotation is refused while one waits
    manager_client.post(url(world), {"action": "rotate"})
    assert DkimKey.objects.filter(domain=world.domain).count() == 2
    entry = AuditEntry.objects.get(action="domain.dkim_rotate")
    assert (entry.actor_id, entry.domain_id) == (world.manager.user.pk, world.domain.pk)
