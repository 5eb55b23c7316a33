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


def _readable_of_user(*, user: Any) -> QuerySet[Snapshot]:
    """The readable days of the user's own mailbox, only while it and its domain are active."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Snapshot.objects.none()
    return Snapshot.objects.filter(
        mailbox__user=user,
        mailbox__is_active=True,
        mailbox__domain__is_active=True,
        status__in=[SnapshotStatus.TAKEN, SnapshotStatus.LATE],
    )


def snapshots_for(*, user: Any) -> QuerySet[Snapshot]:
    """The days the acting user may open in the Time Machine: those of their own mailbox,
    newest first. Nobody reaches another mailbox's days through here, whatever they ask."""
    return _readable_of_user(user=user).order_by("-day")


def snapshot_for(*, user: Any, day: datetime.date) -> Snapshot | None:
    """The acting user's own snapshot of `day`, or None (not taken, purged, not theirs)."""
    return _readable_of_user(user=user).filter(day=day).select_related("mailbox").first()


def mailbox_of(*, user: Any) -> Mailbox | None:
    """The user's own mailbox when the Time Machine may open it (it and its domain active),
    with its domain; None otherwise (a Manager, a deactivated mailbox)."""
    if user is None or not getattr(user, "is_authenticated", False):
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
