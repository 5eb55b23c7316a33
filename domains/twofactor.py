"""Two-factor state (django-otp TOTP) and TOTP enrolment.

With 2FA on, the main password opens only the web portals (with the second factor); mail
clients (IMAP, POP3, SMTP, ManageSieve) need an app password. The same rule is applied by
Dovecot through the mailstore SQL views and by domains.mailauth for SMTP.
"""

from __future__ import annotations

from base64 import b32encode
from typing import Any
from urllib.parse import quote, urlencode

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.audit import audit_record
from mailstore.authcache import credential_cache_forget

BACKUP_CODES = 10
TOTP_DEVICE_NAME = "authenticator"
BACKUP_DEVICE_NAME = "backup"


def _mailbox_of(user: Any):
    try:
        return user.mailbox
    except (ObjectDoesNotExist, AttributeError):
        return None


def has_totp(user: Any) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def requires_2fa(user: Any) -> bool:
    """True when the user has a confirmed TOTP device, or 2FA is required of them: by their
    mailbox or its domain; for provider staff, always; for a Manager, by any domain they manage
    (a Manager can reset a user's 2FA and password, so a domain's rule binds its Manager too).

    Read fresh on every call (no cache): the portals call it on every request, so a domain that
    starts requiring 2FA applies to its Manager's next request."""
    if user is None or not getattr(user, "pk", None):
        return False
    mailbox = _mailbox_of(user)
    if mailbox is not None:
        if mailbox.require_2fa or mailbox.domain.require_2fa:
            return True
    elif getattr(user, "is_staff", False):
        return True
    elif _manages_a_domain_requiring_2fa(user):
        return True
    return has_totp(user)


def _manages_a_domain_requiring_2fa(user: Any) -> bool:
    from domains.models import Domain

    return Domain.objects.filter(manager__user=user, require_2fa=True).exists()


def _issuer_for(user: Any) -> str:
    mailbox = _mailbox_of(user)
    if mailbox is not None:
        return mailbox.domain.brand_name or mailbox.domain.name
    return settings.MAIL_HOSTNAME


def otpauth_uri(device: TOTPDevice) -> str:
    """The otpauth:// URI an authenticator app reads (Key URI Format), with an issuer the
    user recognises: the domain's brand, or its name."""
    issuer = _issuer_for(device.user).replace(":", "")
    label = f"{issuer}:{device.user.get_username()}"
    params = urlencode(
        {
            "secret": b32encode(device.bin_key).decode("ascii").rstrip("="),
            "algorithm": "SHA1",
            "digits": device.digits,
            "period": device.step,
        }
    )
    return f"otpauth://totp/{quote(label)}?{params}&issuer={quote(issuer)}"


def qr_svg(data: str) -> str:
    """An inline SVG QR code (no external service sees the secret)."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage)
    return image.to_string(encoding="unicode")


def totp_enrol_start(user: Any) -> tuple[TOTPDevice, str, str]:
    """Create an unconfirmed TOTP device; returns it with its otpauth URI and QR code (SVG).

    An earlier unconfirmed device is replaced. A user with 2FA already active must reset first."""
    with transaction.atomic():
        if TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).exists():
            raise ValidationError(_("Two-factor authentication is already active."))
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    uri = otpauth_uri(device)
    return device, uri, qr_svg(uri)


def totp_enrol_confirm(device: TOTPDevice, token: str) -> list[str]:
    """Confirm enrolment with a code from the app; returns 10 single-use backup codes (shown once)."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().select_related("user").get(pk=device.pk)
        if device.confirmed:
            raise ValidationError(_("This device is already confirmed."))
        if not device.verify_token((token or "").strip().replace(" ", "")):
            message = _("The code is not valid. Check the time on your phone and retry.")
            raise ValidationError({"token": [message]})
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        user = device.user
        # From now on the main password no longer opens mail protocols: not even a cached one.
        credential_cache_forget(user_ids=[user.pk])
        StaticDevice.objects.filter(user=user).delete()
        backup = StaticDevice.objects.create(user=user, name=BACKUP_DEVICE_NAME, confirmed=True)
        codes = [StaticToken.random_token() for _ in range(BACKUP_CODES)]
        StaticToken.objects.bulk_create([StaticToken(device=backup, token=code) for code in codes])
        mailbox = _mailbox_of(user)
        audit_record(
            actor=user,
            action="2fa.enable",
            domain=mailbox.domain if mailbox else None,
            target=user.get_username(),
        )
    return codes


def totp_reset(user: Any, actor: Any | None) -> None:
    """Remove the user's TOTP and backup devices (lost phone). Main-password rules follow:
    if the mailbox or domain still requires 2FA, mail clients keep needing app passwords.

    Every app password of the user is revoked in the same transaction (a reset is what one does
    after losing a device, which may hold them), and its credential-cache row is deleted."""
    from accounts.services import app_passwords_revoke_all

    with transaction.atomic():
        removed = TOTPDevice.objects.filter(user=user).delete()[0]
        StaticDevice.objects.filter(user=user).delete()
        app_passwords_revoke_all(user=user, actor=actor)
        credential_cache_forget(user_ids=[user.pk])
        mailbox = _mailbox_of(user)
        audit_record(
            actor=actor,
            action="2fa.reset",
            domain=mailbox.domain if mailbox else None,
            target=user.get_username(),
            after={"devices_removed": removed},
        )
