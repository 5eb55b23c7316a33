"""Logging provider staff into the back office the way a person does: password, then the
authenticator's code (a device is enrolled for them first if they have none)."""

import base64

import pyotp
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from domains import twofactor


def totp_now(device: TOTPDevice) -> str:
    return pyotp.TOTP(base64.b32encode(device.bin_key).decode()).now()


def enrolled_device(user) -> TOTPDevice:
    """The user's confirmed authenticator, enrolled now if they have none."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device, _uri, _svg = twofactor.totp_enrol_start(user)
        twofactor.totp_enrol_confirm(device, totp_now(device))
        device.refresh_from_db()
    return device


def backoffice_client(user, password: str, client: Client | None = None) -> Client:
    """A client that went through the back-office login with the password and a TOTP code."""
    client = client or Client()
    device = enrolled_device(user)
    response = client.post("/backoffice/login/", {"login": user.username, "password": password})
    assert (response.status_code, response["Location"]) == (302, "/backoffice/login/2fa/"), response
    device.refresh_from_db()
    device.last_t = -1  # the test may log in twice within one TOTP step
    device.save(update_fields=["last_t"])
    response = client.post("/backoffice/login/2fa/", {"token": totp_now(device)})
    assert (response.status_code, response["Location"]) == (302, "/backoffice/"), response
    return client
