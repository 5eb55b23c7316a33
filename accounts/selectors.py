"""Selectors of the accounts app: reads scoped to the acting user."""

from __future__ import annotations

import ipaddress
from datetime import date, datetime
from typing import Any

from django.db.models import QuerySet

from accounts.models import AccessLogEntry, AppPassword
from core.days import range_end, range_start


def app_passwords_for(
    *, user: Any, include_revoked: bool = False, kind: str = AppPassword.Kind.USER
) -> QuerySet[AppPassword]:
    """The user's app passwords of one kind, newest first (the token itself is never readable).
    By default those the user made for mail programs: the webmail's own session tokens
    (kind webmail_session) are not the user's app passwords."""
    qs = AppPassword.objects.filter(user=user, kind=kind)
    if not include_revoked:
        qs = qs.filter(revoked_at__isnull=True)
    return qs.order_by("-created_at", "-id")


def access_log_rows(
    *,
    domain_id: int,
    login: str = "",
    protocol: str = "",
    result: str = "",
    remote_ip: str = "",
    since: date | datetime | None = None,
    until: date | datetime | None = None,
) -> QuerySet[AccessLogEntry]:
    """The access log of one domain, newest first, unscoped: the caller has checked the actor's
    right (domains.selectors.access_log_for). Dates are whole days in Europe/Rome, both ends
    included; datetimes are exact (until excluded). `login` matches a part of the login,
    case-insensitively."""
    qs = AccessLogEntry.objects.filter(domain_id=domain_id)
    if login:
        qs = qs.filter(login__icontains=login.strip())
    if protocol:
        qs = qs.filter(protocol=protocol)
    if result:
        qs = qs.filter(result=result)
    if remote_ip:
        try:
            qs = qs.filter(remote_ip=str(ipaddress.ip_address(remote_ip.strip())))
        except ValueError:
            return qs.none()
    if since is not None:
        qs = qs.filter(at__gte=range_start(since))
    if until is not None:
        qs = qs.filter(at__lt=range_end(until))
    return qs.order_by("-at", "-id")


def access_log_of_user(*, user: Any, limit: int = 20) -> QuerySet[AccessLogEntry]:
    """The latest attempts on the user's own login ("recent activity" in webmail and panel)."""
    return AccessLogEntry.objects.filter(user=user).order_by("-at", "-id")[:limit]
