"""Reads of the snapshots app."""

from __future__ import annotations

import datetime

from django.db.models import QuerySet

from domains.models import Mailbox
from snapshots.models import Snapshot, SnapshotStatus

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
