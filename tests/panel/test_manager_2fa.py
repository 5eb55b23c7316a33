"""A Manager of a domain that requires 2FA must use 2FA: at the control-panel login, and on a
session already open when a domain starts requiring it (at the next request), as the webmail
does for mailbox users. Without it, the Manager's password alone could reset a user's 2FA and
password and then read their mail."""

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from domains.models import Mailbox
from domains.services import domain_set_require_2fa
from domains.twofactor import totp_reset
from tests.backoffice import enrolled_device, totp_now
from tests.factories import MANAGER_PASSWORD, MailboxFactory

pytestmark = pytest.mark.django_db

LOGIN = "/mailadmin/login/"


def goes_to_login(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(LOGIN)


def test_manager_of_a_domain_requiring_2fa_is_sent_to_enrolment_after_the_password(world):
    domain_set_require_2fa(domain=world.domain, required=True)
    client = Client()
    response = client.post(LOGIN, {"login": "boss.acme", "password": MANAGER_PASSWORD})
    assert (response.status_code, response["Location"]) == (302, "/mailadmin/login/enrol/")
    assert goes_to_login(client.get("/mailadmin/"))
    assert goes_to_login(client.get(f"/mailadmin/d/{world.domain.name}/"))


def test_manager_enrols_at_login_then_enters(world):
    domain_set_require_2fa(domain=world.domain, required=True)
    client = Client()
    client.post(LOGIN, {"login": "boss.acme", "password": MANAGER_PASSWORD})
    client.get("/mailadmin/login/enrol/")
    device = TOTPDevice.objects.get(user=world.manager.user, confirmed=False)
    assert client.post("/mailadmin/login/enrol/", {"token": totp_now(device)}).status_code == 200
    response = client.post("/mailadmin/login/enrol/", {"saved": "1"})
    assert (response.status_code, response["Location"]) == (302, "/mailadmin/")
    assert client.get("/mailadmin/").status_code == 200


def test_manager_with_a_device_gives_the_code(world):
    domain_set_require_2fa(domain=world.domain, required=True)
    device = enrolled_device(world.manager.user)
    device.last_t = -1
    device.save(update_fields=["last_t"])
    client = Client()
    response = client.post(LOGIN, {"login": "boss.acme", "password": MANAGER_PASSWORD})
    assert response["Location"] == "/mailadmin/login/2fa/"
    assert goes_to_login(client.get("/mailadmin/"))
    response = client.post("/mailadmin/login/2fa/", {"token": totp_now(device)})
    assert (response.status_code, response["Location"]) == (302, "/mailadmin/")
    assert client.get("/mailadmin/").status_code == 200


def test_any_managed_domain_requiring_2fa_is_enough(world):
    # the Manager manages acme.test and also the sibling; only the sibling requires 2FA
    world.sibling.manager = world.manager
    world.sibling.save(update_fields=["manager"])
    domain_set_require_2fa(domain=world.sibling, required=True)
    client = Client()
    response = client.post(LOGIN, {"login": "boss.acme", "password": MANAGER_PASSWORD})
    assert response["Location"] == "/mailadmin/login/enrol/"


def test_manager_without_any_domain_requiring_2fa_logs_in_with_the_password(world):
    client = Client()
    response = client.post(LOGIN, {"login": "boss.acme", "password": MANAGER_PASSWORD})
    assert (response.status_code, response["Location"]) == (302, "/mailadmin/")


def test_an_open_manager_session_is_out_at_the_next_request_when_the_domain_starts_requiring_2fa(
    world, manager_client
):
    # given a Manager logged in with the password alone, and a mailbox of the domain
    victim = MailboxFactory(domain=world.domain, local_part="victim")
    enrolled_device(victim.user)
    assert manager_client.get("/mailadmin/").status_code == 200
    # when the domain starts requiring 2FA (here by its Postmaster)
    domain_set_require_2fa(domain=world.domain, required=True)
    # then the Manager's next request goes to the login, and the 2FA reset and password change
    # of the victim are refused, changing nothing
    password_before = Mailbox.objects.get(pk=victim.pk).user.password
    base = f"/mailadmin/d/{world.domain.name}/m/{victim.pk}"
    assert goes_to_login(manager_client.get("/mailadmin/"))
    assert goes_to_login(manager_client.post(f"{base}/security/", {"action": "reset_2fa"}))
    assert goes_to_login(manager_client.post(f"{base}/password/", {"password": "Hacked-Pass-2026-x"}))
    assert TOTPDevice.objects.filter(user=victim.user, confirmed=True).count() == 1
    assert Mailbox.objects.get(pk=victim.pk).user.password == password_before


def test_a_2fa_reset_of_the_manager_applies_at_the_next_request(world):
    domain_set_require_2fa(domain=world.domain, required=True)
    device = enrolled_device(world.manager.user)
    device.last_t = -1
    device.save(update_fields=["last_t"])
    client = Client()
    client.post(LOGIN, {"login": "boss.acme", "password": MANAGER_PASSWORD})
    client.post("/mailadmin/login/2fa/", {"token": totp_now(device)})
    assert client.get("/mailadmin/").status_code == 200
    totp_reset(world.manager.user, actor=None)
    assert goes_to_login(client.get("/mailadmin/"))
