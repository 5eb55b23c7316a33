"""The steps every portal's "my account" pages share: the user's own password change and the
enrolment of an authenticator app. Each portal keeps its own URLs, templates and redirects."""

from __future__ import annotations

from base64 import b32encode
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django_otp import login as otp_login

from domains import twofactor
from portalkit.enrolment import pending_device


def own_password_change_submit(
    request: HttpRequest, form: forms.Form, *, change: Callable[..., Any]
) -> bool:
    """Validate `form` (current password, then the new one twice) and call
    `change(user=, current=, new=)`. The service's errors land on the form's fields; on success
    the session stays open. True when the password was changed."""
    if request.method != "POST" or not form.is_valid():
        return False
    try:
        change(
            user=request.user,
            current=form.cleaned_data["current"],
            new=form.cleaned_data["new_password1"],
        )
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            field = {"new": "new_password1"}.get(field, field)
            form.add_error(field if field in form.fields else None, errors)
        return False
    request.user.refresh_from_db()
    update_session_auth_hash(request, request.user)
    return True


def enrolment_submit(request: HttpRequest, *, session_key: str) -> list[str] | None:
    """A POST of the enrolment form: `op=start` creates a pending device (kept in the session
    under `session_key`), `op=confirm` checks the code. Returns the backup codes when the code
    was just confirmed (the session then counts as verified), else None."""
    user = request.user
    op = request.POST.get("op")
    device = pending_device(user=user, device_id=request.session.get(session_key))
    if op == "start" and not twofactor.has_totp(user):
        device, _uri, _svg = twofactor.totp_enrol_start(user)
        request.session[session_key] = device.pk
    elif op == "confirm" and device is not None:
        try:
            codes = twofactor.totp_enrol_confirm(device, request.POST.get("token", ""))
        except ValidationError:
            messages.error(request, _("Wrong or expired code."))
            return None
        request.session.pop(session_key, None)
        otp_login(request, device)  # this session counts as verified from now on
        return codes
    return None


def enrolment_pending(request: HttpRequest, *, session_key: str) -> dict[str, Any]:
    """What the page shows while an enrolment is pending: the QR code and the key to type."""
    device = pending_device(user=request.user, device_id=request.session.get(session_key))
    if device is None or twofactor.has_totp(request.user):
        return {}
    return {
        "enrolling": True,
        "qr_svg": twofactor.qr_svg(twofactor.otpauth_uri(device)),
        "secret": b32encode(device.bin_key).decode("ascii").rstrip("="),
    }
