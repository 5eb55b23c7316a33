"""Selectors of the accounts app: reads scoped to the acting user."""

from __future__ import annotations

import ipaddress
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import AccessLogEntry, AppPassword
from domains.models import Domain


def app_passwords_for(
    *, user: Any, include_revoked: bool = False, exclude_prefix: str = ""
) -> QuerySet[AppPassword]:
    """The user's own app passwords, newest first (the token itself is never readable).
    `exclude_prefix` leaves out those whose name starts with it (the webmail's own session
    tokens, webmail.services.SESSION_TOKEN_PREFIX, are not the user's app passwords)."""
    qs = AppPassword.objects.filter(user=user)
    if not include_revoked:
        qs = qs.filter(revoked_at__isnull=True)
    if exclude_prefix:
        qs = qs.exclude(name__startswith=exclude_prefix)
    return qs.order_by("-created_at", "-id")


def can_administer_domain(*, actor: Any, domain: Domain) -> bool:
    """The domain's active Postmaster, the domain's Manager, or provider staff."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return False
    if actor.is_superuser or (actor.is_staff and actor.kind == actor.Kind.STAFF):
        return True
    # Read from the database, not from the passed instance: rights change (manager_set_domains).
    return Domain.objects.filter(pk=domain.pk).filter(
        Q(manager__user=actor)
        | Q(mailboxes__user=actor, mailboxes__is_postmaster=True, mailboxes__is_active=True)
    ).exists()


def _start_of(day: date | datetime) -> datetime:
    if isinstance(day, datetime):
        return day if timezone.is_aware(day) else timezone.make_aware(day)
    return timezone.make_aware(datetime.combine(day, time.min))


def access_log_for(
    *,
    actor: Any,
    domain: Domain,
    login: str = "",
    protocol: str = "",
    result: str = "",
    remote_ip: str = "",
    since: date | datetime | None = None,
    until: date | datetime | None = None,
) -> QuerySet[AccessLogEntry]:
    """A domain's access log, newest first, for its postmaster or manager (PermissionDenied
    otherwise). Dates are whole days in Europe/Rome, both ends included; datetimes are exact
    (until excluded). `login` matches a part of the login, case-insensitively."""
    if not can_administer_domain(actor=actor, domain=domain):
        raise PermissionDenied
    qs = AccessLogEntry.objects.filter(domain=domain)
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
        qs = qs.filter(at__gte=_start_of(since))
    if until is not None:
        end = until if isinstance(until, datetime) else until + timedelta(days=1)
        qs = qs.filter(at__lt=_start_of(end))
    return qs.order_by("-at", "-id")


def access_log_of_user(*, user: Any, limit: int = 20) -> QuerySet[AccessLogEntry]:
    """The latest attempts on the user's own login ("recent activity" in webmail and panel)."""
    return AccessLogEntry.objects.filter(user=user).order_by("-at", "-id")[:limit]
