"""Reads of Tracemail, scoped to the acting user: a domain's rows are visible to its postmaster
(the mailbox postmaster@domain), its Manager, and provider staff."""

import csv
import datetime as dt
import io
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.utils import timezone

from domains.models import Domain, Mailbox
from mta.models import TracemailEntry


def can_see_tracemail(*, actor: Any, domain: Domain) -> bool:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return False
    if actor.is_staff or actor.is_superuser:
        return True
    if Mailbox.objects.filter(user=actor, domain=domain, is_postmaster=True, is_active=True).exists():
        return True
    return Domain.objects.filter(pk=domain.pk, manager__user=actor).exists()


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
    if not can_see_tracemail(actor=actor, domain=domain):
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
        qs = qs.filter(created_at__gte=_start_of(since))
    if until:
        qs = qs.filter(
            created_at__lt=_start_of(
                until, next_day=isinstance(until, dt.date) and not isinstance(until, dt.datetime)
            )
        )
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


def _start_of(value: dt.datetime | dt.date, *, next_day: bool = False) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    day = value + dt.timedelta(days=1) if next_day else value
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


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
]


def _csv_safe(value: Any) -> str:
    """Neutralise spreadsheet formulas (CSV injection) in free text such as subjects."""
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def tracemail_csv(*, actor: Any, domain: Domain, **filters: Any) -> str:
    """The rows `tracemail_for` returns, as CSV text (UTF-8, header line, local times)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([label for _, label in CSV_COLUMNS])
    for entry in tracemail_for(actor=actor, domain=domain, **filters).iterator(chunk_size=2000):
        row = []
        for name, _ in CSV_COLUMNS:
            value = getattr(entry, name)
            if isinstance(value, dt.datetime):
                value = timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
            row.append(_csv_safe(value))
        writer.writerow(row)
    return out.getvalue()
