"""My account in the control panel: Managers and Delegates change their own password (the
current one first) and set up two-factor authentication (QR code, a first code, backup codes)."""

import datetime

import pytest
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.models import AuditEntry
from domains import services
from domains.services import customer_user_create
from portalkit.session import PORTALS_KEY
from tests.backoffice import totp_now
from tests.factories import MANAGER_PASSWORD, MailboxFactory
from tests.panel.conftest import panel_client

pytestmark = pytest.mark.django_db

PASSWORD_URL = "/mailadmin/account/password/"
SECURITY_URL = "/mailadmin/account/security/"
DELEGATE_PASSWORD = "Delegate-Pass-2026-x"  # noqa: S105 - test data
NEW_PASSWORD = "Chosen-Pass-2026-ok"  # noqa: S105 - test data


@pytest.fixture
def delegate(world):
    return services.delegate_create(
        manager=world.manager,
        username="auditor.acme",
        password=DELEGATE_PASSWORD,
        name="Ada Auditor",
        email="ada@auditors.test",
        expires_on=timezone.localdate() + datetime.timedelta(days=30),
    )


def portal_session(user, portal: str) -> Client:
    client = Client()
    client.force_login(user)
    session = client.session
    session[PORTALS_KEY] = [portal]
    session.save()
    return client


def goes_to_login(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith("/mailadmin/login/?next=")


# --- the Manager ---------------------------------------------------------------------------


def test_manager_changes_own_password_with_the_current_one(world, manager_client):
    user = world.manager.user
    # a wrong current password changes nothing
    response = manager_client.post(
        PASSWORD_URL,
        {"current": "not-it", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert "The current password is wrong." in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(MANAGER_PASSWORD)
    # the right one changes it, and the session stays open
    response = manager_client.post(
        PASSWORD_URL,
        {"current": MANAGER_PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert (response.status_code, response["Location"]) == (302, PASSWORD_URL)
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert manager_client.get("/mailadmin/").status_code == 200
    assert AuditEntry.objects.filter(action="password.change", target="boss.acme").count() == 1


def test_a_weak_new_password_is_refused(world, manager_client):
    response = manager_client.post(
        PASSWORD_URL, {"current": MANAGER_PASSWORD, "new_password1": "123", "new_password2": "123"}
    )
    assert response.status_code == 400
    world.manager.user.refresh_from_db()
    assert world.manager.user.check_password(MANAGER_PASSWORD)


def test_manager_enrols_2fa_qr_code_then_backup_codes(world, manager_client):
    user = world.manager.user
    page = manager_client.get(SECURITY_URL)
    assert page.status_code == 200
    response = manager_client.post(SECURITY_URL, {"op": "start"})
    assert (response.status_code, response["Location"]) == (302, SECURITY_URL)
    page = manager_client.get(SECURITY_URL)
    assert b"<svg" in page.content
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    # a wrong code: nothing on
    manager_client.post(SECURITY_URL, {"op": "confirm", "token": "000000"})
    assert not TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    page = manager_client.post(SECURITY_URL, {"op": "confirm", "token": totp_now(device)})
    assert page.status_code == 200
    assert len(page.context["backup_codes"]) == 10
    assert StaticDevice.objects.get(user=user).token_set.count() == 10
    # the session that enrolled counts as verified: it stays in
    assert manager_client.get("/mailadmin/").status_code == 200
    # and the next login asks for the code
    client = Client()
    response = client.post("/mailadmin/login/", {"login": "boss.acme", "password": MANAGER_PASSWORD})
    assert response["Location"] == "/mailadmin/login/2fa/"


# --- the Delegate ----------------------------------------------------------------------------


def test_delegate_logs_into_the_panel_and_lands_on_my_account(delegate):
    client = Client()
    response = client.post("/mailadmin/login/", {"login": "auditor.acme", "password": DELEGATE_PASSWORD})
    assert (response.status_code, response["Location"]) == (302, "/mailadmin/")
    response = client.get("/mailadmin/")
    assert (response.status_code, response["Location"]) == (302, PASSWORD_URL)
    assert client.get(PASSWORD_URL).status_code == 200
    assert client.get(SECURITY_URL).status_code == 200


def test_delegate_sees_no_domain_page(world, delegate):
    client = panel_client(delegate.user)
    assert client.get(f"/mailadmin/d/{world.domain.name}/").status_code == 404
    assert client.get("/mailadmin/delegates/").status_code in (403, 404)


def test_an_expired_delegate_cannot_log_in(delegate):
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    type(delegate).objects.filter(pk=delegate.pk).update(expires_on=yesterday)
    response = Client().post("/mailadmin/login/", {"login": "auditor.acme", "password": DELEGATE_PASSWORD})
    assert response.status_code == 403


def test_delegate_changes_password_and_enrols(delegate):
    client = panel_client(delegate.user)
    response = client.post(
        PASSWORD_URL,
        {"current": DELEGATE_PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    delegate.user.refresh_from_db()
    assert delegate.user.check_password(NEW_PASSWORD)
    client.post(SECURITY_URL, {"op": "start"})
    device = TOTPDevice.objects.get(user=delegate.user, confirmed=False)
    page = client.post(SECURITY_URL, {"op": "confirm", "token": totp_now(device)})
    assert len(page.context["backup_codes"]) == 10


# --- four clients on every new URL ----------------------------------------------------------


def victim_state(world) -> dict:
    user = world.manager.user
    user.refresh_from_db()
    return {
        "password": user.password,
        "devices": list(TOTPDevice.objects.filter(user=user).values_list("pk", "confirmed")),
        "backup": StaticDevice.objects.filter(user=user).count(),
        "audit": AuditEntry.objects.count(),
        "all_devices": TOTPDevice.objects.count(),
    }


@pytest.fixture
def outsiders(world):
    customer = world.domain.customer
    plain = MailboxFactory(domain=world.domain, local_part="plain")
    billing = customer_user_create(customer=customer, username="billing.acme", password=MANAGER_PASSWORD)
    return {
        "anonymous": Client(),
        "other customer": panel_client(world.foreign_postmaster.user),
        "same customer, a mailbox in the webmail": portal_session(plain.user, "webmail"),
        "same customer, customer area": portal_session(billing.user, "customer"),
    }


@pytest.mark.parametrize("url", [PASSWORD_URL, SECURITY_URL, "/mailadmin/account/"])
def test_my_account_pages_show_and_change_only_ones_own_account(world, outsiders, url):
    # given the Manager (the victim) with an enrolment in progress
    from domains import twofactor

    device, _uri, _svg = twofactor.totp_enrol_start(world.manager.user)
    before = victim_state(world)
    attacks = [
        {"current": MANAGER_PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        {"op": "confirm", "token": totp_now(device)},
    ]
    for who, client in outsiders.items():
        get = client.get(url)
        posts = [client.post(url, data) for data in attacks]
        for response in [get, *posts]:
            if who in ("anonymous",) or who.startswith("same customer"):
                # then the login page of the panel, for anonymous and for other portals' sessions
                assert goes_to_login(response), (who, response.status_code)
            else:
                # another customer's admin sees only their own account (never the victim's)
                assert response.status_code in (200, 302, 400), (who, response.status_code)
                assert b"boss.acme" not in response.content, who
    # and nothing of the victim changed
    assert victim_state(world) == before


@pytest.mark.parametrize("url", [PASSWORD_URL, SECURITY_URL])
def test_my_account_pages_open_to_the_right_users(world, manager_client, postmaster_client, delegate, url):
    assert manager_client.get(url).status_code == 200
    assert b"boss.acme" in manager_client.get(url).content
    assert postmaster_client.get(url).status_code == 200
    assert panel_client(delegate.user).get(url).status_code == 200
