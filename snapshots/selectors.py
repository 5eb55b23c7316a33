"""Reads of the snapshots app."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import QuerySet

from domains.models import Domain, Mailbox
from snapshots.models import RestoreRequest, Snapshot, SnapshotStatus

MAX_ATTEMPTS = 3  # a day that failed this often is shown as failed, not retried all day


def mailboxes_due(*, day: datetime.date) -> list[int]:
    """Ids of the active mailboxes (the same rule as Dovecot's userdb) without a snapshot of
    `day` yet, failures retried up to MAX_ATTEMPTS."""
    done = Snapshot.objects.filter(day=day).filter(
        status__in=[SnapshotStatus.TAKEN, SnapshotStatus.LATE]
    ) | Snapshot.objects.filter(day=day, status=SnapshotStatus.FAILED, attempts__gte=MAX_ATTEMPTS)
    return list(
        Mailbox.objects.filter(is_active=True, domain__is_active=True, user__is_active=True)
        .exclude(pk__in=done.values("mailbox_id"))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def snapshots_of(*, mailbox: Mailbox) -> QuerySet[Snapshot]:
    """The days of `mailbox` that can be read, newest first. (The portal that shows them checks
    who may see the mailbox before it calls this.)"""
    return Snapshot.objects.filter(
        mailbox=mailbox, status__in=[SnapshotStatus.TAKEN, SnapshotStatus.LATE]
    ).order_by("-day")


def mailbox_of_user(*, user: Any) -> Mailbox | None:
    """The Time Machine's mailbox: the user's own, active, of an active domain (None otherwise)."""
    if not getattr(user, "is_authenticated", False):
        return None
    return (
        Mailbox.objects.select_related("domain", "user")
        .filter(user=user, is_active=True, domain__is_active=True)
        .first()
    )


def restore_request_of(*, mailbox: Mailbox, pk: int) -> RestoreRequest:
    """One restore request of `mailbox` (RestoreRequest.DoesNotExist for another's)."""
    return RestoreRequest.objects.get(mailbox=mailbox, pk=pk)


def restore_requests_of(*, mailbox: Mailbox) -> QuerySet[RestoreRequest]:
    return RestoreRequest.objects.filter(mailbox=mailbox).order_by("-created_at", "-pk")


def restore_requests_for_domain(*, domain: Domain) -> QuerySet[RestoreRequest]:
    """The restore requests of a domain's mailboxes, newest first. The caller has checked that
    the acting user administers `domain` (domains.selectors.domain_for)."""
    return (
        RestoreRequest.objects.filter(mailbox__domain=domain)
        .select_related("mailbox", "requested_by")
        .order_by("-created_at", "-pk")
    )
