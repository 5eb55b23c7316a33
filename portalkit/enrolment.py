"""The second factor in the login flow, on top of domains.twofactor (which owns enrolment)."""

from typing import Any

from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice


def pending_device(*, user: Any, device_id: int | None) -> TOTPDevice | None:
    """The unconfirmed device this login started enrolling, if it still exists."""
    if not device_id:
        return None
    return TOTPDevice.objects.filter(pk=device_id, user=user, confirmed=False).first()


def verify_second_factor(*, user: Any, token: str) -> Any | None:
    """The device that accepts `token` (TOTP code, or a backup code which is then used up), or None."""
    token = (token or "").strip().replace(" ", "")
    if not token:
        return None
    for device in TOTPDevice.objects.filter(user=user, confirmed=True):
        if token.isdigit() and device.verify_token(token):
            return device
    for device in StaticDevice.objects.filter(user=user, confirmed=True):
        if device.verify_token(token):
            return device
    return None
