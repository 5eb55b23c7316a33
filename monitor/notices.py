"""End-of-day notices: one email per customer whose costs changed that day, to its legal
representative, with what changed, by whom, and the old and new monthly total.

Exactly-once protocol (docs/billing.md, "End-of-day notice"):
1. claim: in a transaction of its own, insert the DailyNotice row (unique per customer and day)
   with state "sending" and the rendered message. A second run finds the row and stops there.
2. send the email, with a Message-ID derived from (customer, day).
3. mark: state "sent" (or "failed" with the error, retried by the next run).
A crash between 1 and 3 leaves the row in "sending"; it is sent again only after
NOTICE_CLAIM_TIMEOUT, with the same Message-ID. That is at-least-once for that narrow window
(the recipient's mail client collapses the two copies by Message-ID), and exactly once otherwise.
"""

import datetime
import logging
from decimal import Decimal

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from billing.models import DailyNotice, LedgerEvent
from core.days import local_day_bounds
from core.portals import portal_url
from domains.models import Customer

logger = logging.getLogger(__name__)

NOTICE_CLAIM_TIMEOUT = datetime.timedelta(minutes=15)
NOTICE_MAX_ATTEMPTS = 5


def customers_with_cost_changes(day: datetime.date) -> list[int]:
    """Customers with at least one event that changed the monthly total or cost a one-off fee."""
    start, end = local_day_bounds(day)
    return list(
        LedgerEvent.objects.filter(at__gte=start, at__lt=end)
        .filter(~Q(monthly_delta=0) | Q(one_off_amount__gt=0))
        .values_list("customer_id", flat=True)
        .distinct()
        .order_by("customer_id")
    )


def _message_id(customer_id: int, day: datetime.date) -> str:
    domain = settings.MAIL_HOSTNAME
    return f"<billing-notice-{customer_id}-{day.isoformat()}@{domain}>"


def _render(customer: Customer, day: datetime.date) -> tuple[str, str, Decimal, Decimal]:
    start, end = local_day_bounds(day)
    events = list(
        LedgerEvent.objects.filter(customer=customer, at__gte=start, at__lt=end).order_by("at", "id")
    )
    total_before = events[0].monthly_total_before
    total_after = events[-1].monthly_total_after
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("%(company)s: changes to your mail service costs on %(day)s") % {
            "company": customer.company_name,
            "day": day.strftime("%d/%m/%Y"),
        }
        body = render_to_string(
            "billing/email/daily_notice.txt",
            {
                "customer": customer,
                "day": day,
                "events": events,
                "total_before": total_before,
                "total_after": total_after,
                "one_off": sum((e.one_off_amount for e in events), Decimal("0.00")),
                "monitor_url": portal_url("customer", "customer:monitor"),
            },
        )
    return subject, body, total_before, total_after


def _claim(customer_id: int, day: datetime.date) -> DailyNotice | None:
    """Return the row this run must send, or None if another run sent it or is sending it."""
    now = timezone.now()
    customer = Customer.objects.get(pk=customer_id)
    try:
        with transaction.atomic():
            subject, body, before, after = _render(customer, day)
            return DailyNotice.objects.create(
                customer=customer,
                day=day,
                state=DailyNotice.State.SENDING,
                recipient=customer.legal_rep_email,
                subject=subject,
                body=body,
                message_id=_message_id(customer_id, day),
                monthly_total_before=before,
                monthly_total_after=after,
                attempts=1,
                claimed_at=now,
            )
    except IntegrityError:
        pass
    # The row exists: take it over only if it failed, or if its sender died long ago.
    retry = Q(state=DailyNotice.State.FAILED) | Q(
        state=DailyNotice.State.SENDING, claimed_at__lt=now - NOTICE_CLAIM_TIMEOUT
    )
    with transaction.atomic():
        taken = (
            DailyNotice.objects.filter(customer_id=customer_id, day=day, attempts__lt=NOTICE_MAX_ATTEMPTS)
            .filter(retry)
            .update(state=DailyNotice.State.SENDING, claimed_at=now, attempts=F("attempts") + 1)
        )
    if not taken:
        return None
    return DailyNotice.objects.get(customer_id=customer_id, day=day)


def _send(notice: DailyNotice) -> None:
    message = EmailMessage(
        subject=notice.subject,
        body=notice.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notice.recipient],
        headers={"Message-ID": notice.message_id},
    )
    message.send(fail_silently=False)


def daily_notices_send(*, day: datetime.date) -> dict[str, int]:
    """Send the notices of `day` that are not sent yet. Safe to run any number of times, also
    concurrently. Returns counts by outcome."""
    outcome = {"sent": 0, "failed": 0, "skipped": 0}
    for customer_id in customers_with_cost_changes(day):
        notice = _claim(customer_id, day)
        if notice is None:
            outcome["skipped"] += 1
            continue
        try:
            _send(notice)
        except Exception as exc:  # any delivery error: recorded, retried by the next run
            logger.warning("billing notice %s for %s failed: %s", day, customer_id, exc)
            DailyNotice.objects.filter(pk=notice.pk).update(
                state=DailyNotice.State.FAILED, error=str(exc)[:500]
            )
            outcome["failed"] += 1
            continue
        DailyNotice.objects.filter(pk=notice.pk).update(
            state=DailyNotice.State.SENT, sent_at=timezone.now(), error=""
        )
        outcome["sent"] += 1
    return outcome
