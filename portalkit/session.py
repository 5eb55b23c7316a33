"""Session state of a login in progress, and which portals a session has entered."""

from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.services import access_log_record
from core.client_address import client_ip
from domains.twofactor import requires_2fa

PENDING_KEY = "mailsuite_pending_login"
PORTALS_KEY = "mailsuite_portals"


def start_pending(request: HttpRequest, *, user: Any, portal: str, next_url: str) -> None:
    request.session[PENDING_KEY] = {"uid": user.pk, "portal": portal, "next": next_url, "device": None}


def get_pending(request: HttpRequest, portal: str) -> tuple[Any, dict] | tuple[None, None]:
    data = request.session.get(PENDING_KEY)
    if not data or data.get("portal") != portal:
        return None, None
    user = get_user_model().objects.filter(pk=data["uid"], is_active=True).first()
    if user is None:
        return None, None
    return user, data


def update_pending(request: HttpRequest, **changes: Any) -> None:
    data = dict(request.session.get(PENDING_KEY) or {})
    data.update(changes)
    request.session[PENDING_KEY] = data


def clear_pending(request: HttpRequest) -> None:
    request.session.pop(PENDING_KEY, None)


def add_portal(request: HttpRequest, portal: str) -> None:
    portals = list(request.session.get(PORTALS_KEY, []))
    if portal not in portals:
        portals.append(portal)
    request.session[PORTALS_KEY] = portals


def has_portal(request: HttpRequest, portal: str) -> bool:
    return portal in request.session.get(PORTALS_KEY, [])


def portal_session_ok(request: HttpRequest, portal: str) -> bool:
    """THE portal-session check: the user entered this portal in this session, has no pending
    password change, and passed the second factor when 2FA applies (domains.twofactor
    .requires_2fa, read on every request). portalkit.decorators answers a failure with a login
    redirect or with JSON."""
    user = request.user
    return (
        user.is_authenticated
        and user.is_active
        and has_portal(request, portal)
        and not user.must_change_password
        and (not requires_2fa(user) or user.is_verified())
    )


def has_confirmed_totp(user: Any) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def record_attempt(request: HttpRequest, *, login: str, portal: str, result: str, reason: str = "") -> None:
    """One access-log row per attempt (accounts.services.access_log_record)."""
    access_log_record(
        login=login[:254],
        protocol=portal,
        remote_ip=client_ip(request),
        tls=request.is_secure(),
        result=result,
        reason=reason[:100],
    )
