"""Services of the accounts app: app passwords and the access log."""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import secrets
import string
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.logins import canonical_login
from accounts.models import AccessLogEntry, AppPassword, User
from core.audit import audit_record

logger = logging.getLogger(__name__)

# 4 groups of 4 lowercase letters = 16 letters; 26**16 is about 2**75, too little. Six groups
# of five letters are 30 letters, about 141 bits: above the 128 required, and easy to type on a
# phone (no digits, no shift, no look-alike characters needed).
APP_PASSWORD_GROUPS = 6
APP_PASSWORD_GROUP_LENGTH = 5
_TOKEN_ALPHABET = string.ascii_lowercase


def token_hash(token: str) -> str:
    """SHA-256 hex of an app password exactly as issued (dashes included): Dovecot computes the
    same hash in SQL from the password the client sends, so no normalisation happens here."""
    return hashlib.sha256((token or "").encode("utf-8")).hexdigest()


def _new_token() -> str:
    groups = [
        "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(APP_PASSWORD_GROUP_LENGTH))
        for _ in range(APP_PASSWORD_GROUPS)
    ]
    return "-".join(groups)


def _mailbox_domain(user: Any) -> Any | None:
    try:
        return user.mailbox.domain
    except (ObjectDoesNotExist, AttributeError):
        return None


def app_password_create(
    *, user: User, name: str, kind: str = AppPassword.Kind.USER
) -> tuple[AppPassword, str]:
    """Create an app password; returns it with the clear token, which is never stored or shown again."""
    name = (name or "").strip()
    app_password = AppPassword(user=user, name=name, kind=kind, token_hash="0" * 64)
    app_password.full_clean(exclude=["token_hash", "user"])
    token = _new_token()
    app_password.token_hash = token_hash(token)
    with transaction.atomic():
        app_password.save()
        audit_record(actor=user, action="app_password.create", domain=_mailbox_domain(user),
                     target=user.get_username(), after={"name": name})
    return app_password, token


def app_password_revoke(*, app_password: AppPassword, actor: Any) -> AppPassword:
    """Revoke an app password (idempotent: revoking twice keeps the first time)."""
    with transaction.atomic():
        app_password = AppPassword.objects.select_for_update().select_related("user").get(pk=app_password.pk)
        if app_password.revoked_at is None:
            app_password.revoked_at = timezone.now()
            app_password.save(update_fields=["revoked_at"])
            audit_record(actor=actor, action="app_password.revoke", domain=_mailbox_domain(app_password.user),
                         target=app_password.user.get_username(), before={"name": app_password.name})
    return app_password


def app_passwords_revoke_all(*, user: User, actor: Any) -> int:
    """Revoke every active app password of a login (one audit row each); returns how many.
    A password change and a 2FA reset call it in their own transaction: a token issued under
    the old credentials must not outlive them."""
    with transaction.atomic():
        rows = list(
            AppPassword.objects.select_for_update().filter(user=user, revoked_at__isnull=True).order_by("pk")
        )
        for row in rows:
            app_password_revoke(app_password=row, actor=actor)
    return len(rows)


def app_password_touch(*, app_password_id: int, user_id: int | None = None) -> None:
    """Record a use of an app password (a single UPDATE, no read); with `user_id`, only if the
    app password is that user's."""
    rows = AppPassword.objects.filter(pk=app_password_id)
    if user_id is not None:
        rows = rows.filter(user_id=user_id)
    rows.update(last_used_at=timezone.now())


def _clean_ip(remote_ip: str | None) -> str | None:
    if not remote_ip:
        return None
    try:
        address = ipaddress.ip_address(str(remote_ip).strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(address)


def _domain_id_of(user: User | None, login: str) -> int | None:
    """The domain the attempt concerns: the user's mailbox's, else the hosted domain named after
    the "@" (its postmaster wants to see attacks against addresses that do not exist). The
    domain table is reached through the access log's own foreign key (a string reference to
    domains.Domain): accounts is the lowest app and imports no other."""
    if user is not None:
        domain = _mailbox_domain(user)
        if domain is not None:
            return domain.pk
    _, at, domain_name = login.rpartition("@")
    if not (at and domain_name):
        return None
    domains = AccessLogEntry._meta.get_field("domain").related_model
    return domains.objects.filter(name=domain_name).values_list("pk", flat=True).first()


_UNRESOLVED = object()


def access_log_record(
    *,
    login: str,
    protocol: str,
    remote_ip: str | None,
    tls: bool,
    result: str,
    reason: str = "",
    user: Any = _UNRESOLVED,
    domain_id: int | None | object = _UNRESOLVED,
) -> AccessLogEntry:
    """Write one access-log row. `user`/`domain_id` may be passed when the caller already knows
    them (saves the lookups); otherwise they are found from the login."""
    if protocol not in AccessLogEntry.Protocol.values:
        raise ValueError(f"unknown protocol {protocol!r}")
    if result not in AccessLogEntry.Result.values:
        raise ValueError(f"unknown result {result!r}")
    login = canonical_login(login)
    if user is _UNRESOLVED:
        user = User.objects.filter(username=login).select_related("mailbox__domain").first()
    if domain_id is _UNRESOLVED:
        domain_id = _domain_id_of(user, login)
    return AccessLogEntry.objects.create(
        at=timezone.now(),
        login=login,
        user=user,
        domain_id=domain_id,
        protocol=protocol,
        remote_ip=_clean_ip(remote_ip),
        tls=bool(tls),
        result=result,
        reason=(reason or "")[:100],
    )


def access_log_purge() -> int:
    """Delete access-log rows older than ACCESS_LOG_RETENTION_DAYS; returns how many."""
    days = settings.ACCESS_LOG_RETENTION_DAYS
    if days <= 0:
        raise ValidationError(_("The access log retention must be at least one day."))
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _by_model = AccessLogEntry.objects.filter(at__lt=cutoff).delete()
    logger.info("access log purge: %d rows older than %s deleted", deleted, cutoff.isoformat())
    return deleted
