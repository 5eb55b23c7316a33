"""The automatic reply (vacation, out of office) of a mailbox: one row (domains.models.Vacation)
and the mailbox's Sieve script, written together. The webmail's settings and ActiveSync's Oof
both call here, so what one sets the other shows."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import audit_record
from domains.models import Mailbox, Vacation
from mailstore import sieve


def vacation_of(*, mailbox: Mailbox) -> Vacation:
    """The mailbox's vacation reply (an unsaved, disabled one when never set)."""
    return Vacation.objects.filter(mailbox=mailbox).first() or Vacation(mailbox=mailbox)


def vacation_set(
    *,
    mailbox: Mailbox,
    actor: Any,
    enabled: bool,
    subject: str,
    body: str,
    until: date | None,
    starts_on: date | None = None,
    channel: str = "webmail",
) -> Vacation:
    """Save the vacation reply and write it to the mailbox's Sieve script (ManageSieve) in the
    same step: if Dovecot refuses, nothing is saved (a mailstore.errors exception)."""
    body = (body or "").strip()
    if enabled and not body:
        raise ValidationError({"body": [_("Write the message senders will receive.")]})
    if enabled and until is not None and until < timezone.localdate():
        raise ValidationError({"until": [_("The end date is in the past.")]})
    if starts_on is not None and until is not None and starts_on > until:
        starts_on = None  # a start after the end means nothing: the reply runs until the end
    with transaction.atomic():
        vacation, _created = Vacation.objects.select_for_update().get_or_create(mailbox=mailbox)
        vacation.enabled = enabled
        vacation.subject = (subject or "").strip()[:200]
        vacation.body = body
        vacation.until = until
        vacation.starts_on = starts_on
        vacation.full_clean()
        vacation.save()
        audit_record(
            actor=actor,
            action=f"{channel}.vacation",
            domain=mailbox.domain,
            target=mailbox.address,
            after={
                "enabled": enabled,
                "from": starts_on.isoformat() if starts_on else None,
                "until": until.isoformat() if until else None,
            },
        )
        sieve.vacation_apply(
            address=mailbox.address,
            enabled=enabled,
            subject=vacation.subject,
            body=body,
            until=until,
            starts_on=starts_on,
        )
    return vacation
