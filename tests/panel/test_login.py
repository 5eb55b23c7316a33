"""The shared login flow, as mounted by the control panel."""

import base64

import pyotp
import pytest
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AccessLogEntry
from domains import services
from domains.models import Mailbox
from tests.factories import MANAGER_PASSWORD, MailboxFactory
from tests.panel.conftest import POSTMASTER_PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/mailadmin/login/"


def totp_now(device: TOTPDevice) -> str:
    return pyotp.TOTP(base64.b32encode(device.bin_key).decode()).now()


def log_rows(login: str) -> list[tuple[str, str, str]]:
    return list(
        AccessLogEntry.objects.filter(login=login).order_by("pk").values_list("protocol", "result", "reason")
    )


def test_postmaster_first_login_forces_a_password_change(world):
    # given a freshly registered domain: its postmaster must change the emailed password
    mailbox = Mailbox.objects.get(domain=world.domain, is_postmaster=True)
    services.mailbox_set_password(mailbox=mailbox, password="Emailed-Pass-2026", must_change=True)
    client = Client()
    # when they log in
    response = client.post(LOGIN, {"login": "postmaster@acme.test", "password": "Emailed-Pass-2026"})
    # then they must choose a new password before anything else
    assert response.status_code == 302 and response["Location"] == "/mailadmin/login/password/"
    assert client.get("/mailadmin/").status_code == 302
    # a new password equal to the old one is refused, with a localized message
    response = client.post(
        "/mailadmin/login/password/",
        {"new_password1": "Emailed-Pass-2026", "new_password2": "Emailed-Pass-2026"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert "Choose a password different from the current one." in response.content.decode()
    response = client.post(
        "/mailadmin/login/password/",
        {"new_password1": "Brand-New-Pass-2026", "new_password2": "Brand-New-Pass-2026"},
    )
    assert response.status_code == 302 and response["Location"] == "/mailadmin/"
    assert client.get("/mailadmin/").status_code == 200
    mailbox.user.refresh_from_db()
    assert mailbox.user.must_change_password is False
    assert mailbox.user.check_password("Brand-New-Pass-2026")
    assert log_rows("postmaster@acme.test") == [("mailadmin", "success", "password")]


def test_wrong_password_is_refused_and_logged(world):
    client = Client()
    response = client.post(
        LOGIN, {"login": "postmaster@acme.test", "password": "wrong"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 400
    assert "Wrong login or password." in response.content.decode()
    assert client.get("/mailadmin/").status_code == 302
    assert log_rows("postmaster@acme.test") == [("mailadmin", "failure", "password")]


def test_error_messages_are_italian_by_default(world):
    response = Client().post(LOGIN, {"login": "postmaster@acme.test", "password": "wrong"})
    assert response.status_code == 400
    assert 'lang="it"' in response.content.decode()


def test_a_plain_mailbox_cannot_enter_the_panel(world):
    mailbox = MailboxFactory(domain=world.domain, local_part="plain")
    response = Client().post(
        LOGIN, {"login": mailbox.address, "password": mailbox.password_plain}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 403
    assert "This login cannot use this portal." in response.content.decode()
    assert log_rows(mailbox.address) == [("mailadmin", "failure", "no access")]


def test_manager_logs_in_and_out(world):
    client = Client()
    response = client.post(
        LOGIN, {"login": "boss.acme", "password": MANAGER_PASSWORD, "next": "/mailadmin/d/acme.test/"}
    )
    assert response.status_code == 302 and response["Location"] == "/mailadmin/d/acme.test/"
    assert client.get("/mailadmin/d/acme.test/").status_code == 200
    # an open redirect is not followed
    other = Client()
    response = other.post(
        LOGIN, {"login": "boss.acme", "password": MANAGER_PASSWORD, "next": "https://evil.test/"}
    )
    assert response["Location"] == "/mailadmin/"
    # logout ends the session
    assert client.post("/mailadmin/logout/").status_code == 302
    assert client.get("/mailadmin/").status_code == 302


def test_user_with_totp_must_give_a_code(world, settings):
    # given a postmaster with an authenticator (django-otp's retry delay off for the test)
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    user = world.postmaster.user
    device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    client = Client()
    response = client.post(LOGIN, {"login": user.username, "password": POSTMASTER_PASSWORD})
    assert response["Location"] == "/mailadmin/login/2fa/"
    assert client.get("/mailadmin/").status_code == 302
    # a wrong code is refused and logged
    response = client.post("/mailadmin/login/2fa/", {"token": "000000"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400 and "Wrong or expired code." in response.content.decode()
    # the right code opens the panel
    response = client.post("/mailadmin/login/2fa/", {"token": totp_now(device)})
    assert response.status_code == 302 and response["Location"] == "/mailadmin/"
    assert client.get("/mailadmin/").status_code == 200
    assert log_rows(user.username) == [
        ("mailadmin", "success", "password"),
        ("mailadmin", "failure", "totp"),
        ("mailadmin", "success", "totp"),
    ]


def test_domain_requiring_2fa_forces_enrolment_with_qr_and_backup_codes(world):
    # given the domain now requires 2FA and the postmaster has no authenticator
    services.domain_set_require_2fa(domain=world.domain, required=True)
    user = world.postmaster.user
    client = Client()
    response = client.post(LOGIN, {"login": user.username, "password": POSTMASTER_PASSWORD})
    # then the login goes to enrolment, with a QR code
    assert response["Location"] == "/mailadmin/login/enrol/"
    page = client.get("/mailadmin/login/enrol/")
    assert page.status_code == 200 and b"<svg" in page.content
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    # the same secret is kept across reloads
    client.get("/mailadmin/login/enrol/")
    assert TOTPDevice.objects.get(user=user, confirmed=False).pk == device.pk
    assert client.get("/mailadmin/").status_code == 302
    # when the first code is entered, ten backup codes are shown once
    response = client.post("/mailadmin/login/enrol/", {"token": totp_now(device)})
    assert response.status_code == 200
    codes = list(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert len(codes) == 10 and all(c in response.content.decode() for c in codes)
    response = client.post("/mailadmin/login/enrol/", {"saved": "1"})
    assert response.status_code == 302 and response["Location"] == "/mailadmin/"
    assert client.get("/mailadmin/").status_code == 200
    # and next time a backup code works once
    again = Client()
    again.post(LOGIN, {"login": user.username, "password": POSTMASTER_PASSWORD})
    assert again.post("/mailadmin/login/2fa/", {"token": codes[0]}).status_code == 302
    third = Client()
    third.post(LOGIN, {"login": user.username, "password": POSTMASTER_PASSWORD})
    assert third.post("/mailadmin/login/2fa/", {"token": codes[0]}).status_code == 400


def test_panel_session_does_not_open_the_webmail(world):
    # given a postmaster logged into the control panel
    client = Client()
    client.post(LOGIN, {"login": world.postmaster.user.username, "password": POSTMASTER_PASSWORD})
    assert client.get("/mailadmin/").status_code == 200
    # when they open the webmail, it asks for its own login
    response = client.get("/webmail/")
    assert response.status_code == 302 and response["Location"] == "/webmail/login/?next=%2Fwebmail%2F"
    # and after it, both portals are open in the same session
    client.post("/webmail/login/", {"login": world.postmaster.user.username, "password": POSTMASTER_PASSWORD})
    assert client.get("/webmail/").status_code == 200
    assert client.get("/mailadmin/").status_code == 200
    assert log_rows(world.postmaster.user.username) == [
        ("mailadmin", "success", "password"),
        ("webmail", "success", "password"),
    ]


def test_too_many_failures_block_the_login(world, settings):
    settings.BRUTEFORCE_LOGIN_FAILURES = 3
    client = Client()
    for _ in range(3):
        client.post(LOGIN, {"login": "boss.acme", "password": "wrong"})
    response = client.post(
        LOGIN, {"login": "boss.acme", "password": MANAGER_PASSWORD}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 429
    assert "Too many failed attempts" in response.content.decode()
    assert log_rows("boss.acme")[-1] == ("mailadmin", "blocked", "login")
    assert reverse("mailadmin:home") == "/mailadmin/"
