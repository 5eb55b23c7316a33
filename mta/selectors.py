"""Reads of Tracemail, scoped to the acting user: a domain's rows are visible to those who
administer it (domains.selectors.can_administer: its Postmaster and its Manager)."""

import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.utils import timezone

from core.csvexport import csv_lines
from core.days import range_end, range_start
from domains.models import Domain
from domains.selectors import can_administer
from mta.models import TracemailEntry


def tracemail_for(
    *,
    actor: Any,
    domain: Domain,
    mailbox: str | None = None,
    direction: str | None = None,
    status: str | None = None,
    since: dt.datetime | dt.date | None = None,
    until: dt.datetime | dt.date | None = None,
    text: str | None = None,
) -> QuerySet[TracemailEntry]:
    """Rows where the domain is the sender's or the recipient's, newest first. `mailbox` is an
    address (sender or recipient); `text` matches addresses, subject, Message-ID, queue id and
    reason; dates are local (Europe/Rome) days, both ends included."""
    if not can_administer(actor=actor, domain=domain):
        raise PermissionDenied
    qs = TracemailEntry.objects.filter(Q(sender_domain=domain) | Q(recipient_domain=domain))
    if mailbox:
        address = mailbox.strip().lower()
        qs = qs.filter(Q(sender__iexact=address) | Q(recipient__iexact=address))
    if direction:
        qs = qs.filter(direction=direction)
    if status:
        qs = qs.filter(status=status)
    if since:
        qs = qs.filter(created_at__gte=range_start(since))
    if until:
        qs = qs.filter(created_at__lt=range_end(until))
    if text:
        t = text.strip()
        qs = qs.filter(
            Q(sender__icontains=t)
            | Q(recipient__icontains=t)
            | Q(subject__icontains=t)
            | Q(message_id__icontains=t)
            | Q(queue_id__iexact=t)
            | Q(reason__icontains=t)
        )
    return qs.order_by("-created_at", "-id")


CSV_COLUMNS = [
    ("created_at", "received"),
    ("updated_at", "last_change"),
    ("direction", "direction"),
    ("status", "status"),
    ("sender", "from"),
    ("recipient", "to"),
    ("subject", "subject"),
    ("message_id", "message_id"),
    ("size", "size"),
    ("client_ip", "client_ip"),
    ("remote_host", "remote_host"),
    ("queue_id", "queue_id"),
    ("reason", "reason"),
    ("spam_verdict", "filter_verdict"),
    ("spam_score", "spam_score"),
]


def tracemail_csv(*, actor: Any, domain: Domain, **filters: Any) -> str:
    """`tracemail_csv_lines` as one text (tests, small exports)."""
    return "".join(tracemail_csv_lines(actor=actor, domain=domain, **filters))


def tracemail_csv_lines(*, actor: Any, domain: Domain, **filters: Any) -> Iterator[str]:
    """The rows `tracemail_for` returns, as CSV lines produced while the rows are read, so a
    month of a busy domain is never held in memory (UTF-8, header line, local times; the
    writer and its formula guard: core.csvexport)."""

    def cells(entry: TracemailEntry) -> list[Any]:
        row = []
        for name, _label in CSV_COLUMNS:
            value = getattr(entry, name)
            if isinstance(value, dt.datetime):
                value = timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
            row.append(value)
        return row

    rows = tracemail_for(actor=actor, domain=domain, **filters).iterator(chunk_size=2000)
    return csv_lines([label for _name, label in CSV_COLUMNS], (cells(entry) for entry in rows))
