"""Reads of the webmail's rows, scoped to the acting user."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from accounts.models import AppPassword
from domains.models import Mailbox
from webmail.models import Preferences, Recipient
from webmail.services import SESSION_TOKEN_PREFIX


def mailbox_of(*, user: Any) -> Mailbox | None:
    """The user's own active mailbox of an active domain (the only one the webmail opens)."""
    return (
        Mailbox.objects.select_related("domain")
        .filter(user=user, is_active=True, domain__is_active=True)
        .first()
    )


def preferences_for(*, user: Any) -> Preferences:
    return Preferences.objects.filter(user=user).first() or Preferences(user=user)


def recipients_suggest(*, user: Any, query: str, limit: int = 8) -> QuerySet[Recipient]:
    query = (query or "").strip()
    qs = Recipient.objects.filter(user=user)
    if query:
        qs = qs.filter(Q(address__icontains=query) | Q(name__icontains=query))
    return qs.order_by("-times", "-last_used_at")[:limit]


def visible_app_passwords(*, user: Any) -> QuerySet[AppPassword]:
    """The user's active app passwords, without the webmail's own session tokens."""
    return (
        AppPassword.objects.filter(user=user, revoked_at__isnull=True)
        .exclude(name__startswith=SESSION_TOKEN_PREFIX)
        .order_by("-created_at", "-id")
    )
