"""Logging into the Archive: the owner with the mailbox's credentials (2FA when the domain
requires it), a Delegate with its own login and always a second factor (enrolment forced at the
first login, the code at the next ones); the domain's branding."""

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from domains.models import Domain
from portalkit.session import PORTALS_KEY
from tests.archive.conftest import DELEGATE_PASSWORD, portal_login
from tests.backoffice import totp_now
from tests.factories import MAILBOX_PASSWORD

pytestmark = pytest.mark.django_db


def test_the_owner_logs_in_with_the_mailbox_credentials(world):
    client = Client()
    response = client.post("/archive/login/", {"login": world.owner.address, "password": MAILBOX_PASSWORD})
    assert (response.status_code, response["Location"]) == (302, "/archive/")
    assert client.get("/archive/").status_code == 302


def test_the_owner_needs_2fa_when_the_domain_requires_it(world):
    Domain.objects.filter(pk=world.owner.domain_id).update(require_2fa=True)
    response = Client().post("/archive/login/", {"login": world.owner.address, "password": MAILBOX_PASSWORD})
    assert response["Location"] == "/archive/login/enrol/"


def test_a_delegate_enrols_at_first_login_then_gives_the_code(world):
    client = Client()
    response = client.post("/archive/login/", {"login": "full.auditor", "password": DELEGATE_PASSWORD})
    assert response["Location"] == "/archive/login/enrol/"
    # not logged in until enrolled
    assert client.get(f"/archive/a/{world.archive.pk}/").status_code == 302
    portal_login("full.auditor", DELEGATE_PASSWORD)  # enrols (asserted inside)
    assert TOTPDevice.objects.filter(user=world.full.user, confirmed=True).count() == 1
    response = Client().post("/archive/login/", {"login": "full.auditor", "password": DELEGATE_PASSWORD})
    assert response["Location"] == "/archive/login/2fa/"
    client = Client()
    client.post("/archive/login/", {"login": "full.auditor", "password": DELEGATE_PASSWORD})
    assert client.post("/archive/login/2fa/", {"token": "000000"}).status_code == 400
    # as in the next 30 s step, once the throttle of the wrong code has passed
    TOTPDevice.objects.filter(user=world.full.user).update(
        last_t=-1, throttling_failure_count=0, throttling_failure_timestamp=None
    )
    device = TOTPDevice.objects.get(user=world.full.user)
    assert client.post("/archive/login/2fa/", {"token": totp_now(device)})["Location"] == "/archive/"


def test_a_delegate_session_without_second_factor_is_refused(world):
    # a session that entered the portal without the code (e.g. through another flow)
    client = Client()
    client.force_login(world.full.user)
    session = client.session
    session[PORTALS_KEY] = ["archive"]
    session.save()
    response = client.get(f"/archive/a/{world.archive.pk}/")
    assert response.status_code == 302 and response["Location"].startswith("/archive/login/")


def test_an_expired_delegate_cannot_log_in(world):
    from django.utils import timezone

    world.full.expires_on = timezone.localdate().replace(year=2020)
    world.full.save(update_fields=["expires_on"])
    response = Client().post("/archive/login/", {"login": "full.auditor", "password": DELEGATE_PASSWORD})
    assert response.status_code == 403


def test_the_domains_branding(world, full_client):
    Domain.objects.filter(pk=world.owner.domain_id).update(brand_name="Acme Holding")
    assert b"Acme Holding" in Client().get("/archive/login/?domain=acme.test").content
    assert b"Acme Holding" in full_client.get(f"/archive/a/{world.archive.pk}/").content
