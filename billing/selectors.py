"""Reads of the billing app. The Monitor's reads run a fixed number of queries whatever the
number of domains and mailboxes (aggregates in the database, never a row per mailbox)."""

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from billing.inclusion import Inclusion, inclusion_for
from billing.models import DailyNotice, LedgerEvent, PriceList
from billing.pricing import (
    ZERO,
    Line,
    MonthlyCost,
    Prices,
    Usage,
    month_bounds,
    monthly_cost,
    prorated_recurring,
)
from billing.pricing import tier_lines as _tier_lines
from domains.models import Customer, CustomerUser, Domain, Mailbox, Site


def price_list_on(day: datetime.date) -> PriceList | None:
    """The price-list version in force on `day` (the latest that starts on or before it)."""
    return PriceList.objects.filter(valid_from__lte=day).order_by("-valid_from").first()


def inclusion_of(customer_id: int) -> Inclusion:
    return inclusion_for(Site.objects.filter(customer_id=customer_id).only("profile", "voice_channels"))


def included_mailboxes(customer_id: int) -> int:
    return inclusion_of(customer_id).included_mailboxes


def _usage_aggregates(prefix: str = "") -> dict[str, Any]:
    """Annotations named u_<Usage field> (a plain name would clash with Domain.mailboxes)."""
    p = prefix
    return {
        "u_mailboxes": Count(f"{p}id"),
        "u_quota_25": Count(f"{p}id", filter=Q(**{f"{p}quota_tier": 25})),
        "u_quota_50": Count(f"{p}id", filter=Q(**{f"{p}quota_tier": 50})),
        "u_quota_100": Count(f"{p}id", filter=Q(**{f"{p}quota_tier": 100})),
        "u_send_2000": Count(f"{p}id", filter=Q(**{f"{p}send_limit": 2000})),
        "u_send_5000": Count(f"{p}id", filter=Q(**{f"{p}send_limit": 5000})),
        "u_archives": Count(f"{p}billed_archive"),
    }


def _usage_of(row: dict[str, Any]) -> Usage:
    return Usage(**{name: row[f"u_{name}"] for name in Usage.__dataclass_fields__})


def customer_usage(customer_id: int) -> Usage:
    """Every mailbox of the customer counts, active or not (one query)."""
    row = Mailbox.objects.filter(domain__customer_id=customer_id).aggregate(**_usage_aggregates())
    return _usage_of(row)


def customer_monthly_cost(customer: Customer, *, day: datetime.date | None = None) -> MonthlyCost:
    prices = Prices.of(price_list_on(day or timezone.localdate()))
    return monthly_cost(customer_usage(customer.pk), included=included_mailboxes(customer.pk), prices=prices)


# --- the Monitor -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DomainRow:
    domain_id: int
    name: str
    usage: Usage
    lines: tuple[Line, ...]
    recurring: Decimal  # paid tiers and archives; extra mailboxes are a customer-level line
    interventions: int
    one_off: Decimal


@dataclass(frozen=True)
class Monitor:
    customer: Customer
    today: datetime.date
    period_start: datetime.date
    period_end: datetime.date
    price_list: PriceList | None
    inclusion: Inclusion
    cost: MonthlyCost
    domains: tuple[DomainRow, ...]
    interventions: int
    one_off: Decimal
    recurring_prorated: Decimal
    next_invoice: Decimal


def customer_user_for(user: Any) -> CustomerUser:
    """The customer-area identity of a logged-in user with the mail-configuration right, or
    PermissionDenied."""
    if not getattr(user, "is_authenticated", False):
        raise PermissionDenied
    customer_user = (
        CustomerUser.objects.select_related("customer").filter(user_id=user.pk, user__is_active=True).first()
    )
    if customer_user is None or not customer_user.can_configure_mail:
        raise PermissionDenied
    return customer_user


def monitor_for(*, user: Any) -> Monitor:
    """The Monitor of the acting customer-area user's own customer (fixed number of queries)."""
    customer = customer_user_for(user).customer
    today = timezone.localdate()
    first, last = month_bounds(today)
    price_list = price_list_on(today)
    prices = Prices.of(price_list)
    inclusion = inclusion_of(customer.pk)

    domain_rows = list(
        Domain.objects.filter(customer=customer)
        .order_by("name")
        .values("id", "name")
        .annotate(**_usage_aggregates("mailboxes__"))
    )
    month_start = timezone.make_aware(datetime.datetime.combine(first, datetime.time.min))
    interventions = {
        row["domain_id"]: row
        for row in LedgerEvent.objects.filter(
            customer=customer, kind=LedgerEvent.Kind.INTERVENTION, at__gte=month_start
        )
        .values("domain_id")
        .annotate(n=Count("id"), amount=Sum("one_off_amount"))
        .order_by()
    }
    rows = []
    total_usage = Usage()
    for row in domain_rows:
        usage = _usage_of(row)
        total_usage += usage
        lines = _tier_lines(usage, prices)
        iv = interventions.get(row["id"], {})
        rows.append(
            DomainRow(
                domain_id=row["id"],
                name=row["name"],
                usage=usage,
                lines=lines,
                recurring=sum((line.amount for line in lines), ZERO),
                interventions=iv.get("n", 0),
                one_off=iv.get("amount") or ZERO,
            )
        )
    cost = monthly_cost(total_usage, included=inclusion.included_mailboxes, prices=prices)
    iv_count = sum(row.get("n", 0) for row in interventions.values())
    one_off = sum((row.get("amount") or ZERO for row in interventions.values()), ZERO)

    changes = list(
        LedgerEvent.objects.filter(customer=customer, at__gte=month_start)
        .order_by("at", "id")
        .values_list("at", "monthly_total_before", "monthly_total_after")
    )
    start_total = changes[0][1] if changes else cost.total
    recurring = prorated_recurring(
        today=today,
        total_at_month_start=start_total,
        changes=[(timezone.localdate(at), after) for at, _before, after in changes],
        current_total=cost.total,
    )
    return Monitor(
        customer=customer,
        today=today,
        period_start=first,
        period_end=last,
        price_list=price_list,
        inclusion=inclusion,
        cost=cost,
        domains=tuple(rows),
        interventions=iv_count,
        one_off=one_off,
        recurring_prorated=recurring,
        next_invoice=recurring + one_off,
    )


def monitor_as_dict(monitor: Monitor) -> dict[str, Any]:
    def line(ln: Line) -> dict[str, Any]:
        return {
            "key": ln.key,
            "label": ln.label,
            "quantity": ln.quantity,
            "unit_price": str(ln.unit_price),
            "amount": str(ln.amount),
        }

    return {
        "customer": monitor.customer.company_name,
        "period": {"start": monitor.period_start.isoformat(), "end": monitor.period_end.isoformat()},
        "included": monitor.cost.included,
        "mailboxes": monitor.cost.mailboxes,
        "extra_mailboxes": monitor.cost.extra_mailboxes,
        "lines": [line(ln) for ln in monitor.cost.lines],
        "monthly_total": str(monitor.cost.total),
        "interventions": monitor.interventions,
        "one_off": str(monitor.one_off),
        "recurring_prorated": str(monitor.recurring_prorated),
        "next_invoice": str(monitor.next_invoice),
        "domains": [
            {
                "name": row.name,
                "mailboxes": row.usage.mailboxes,
                "lines": [line(ln) for ln in row.lines],
                "recurring": str(row.recurring),
                "interventions": row.interventions,
                "one_off": str(row.one_off),
            }
            for row in monitor.domains
        ],
    }


# --- price preview for the control panel -------------------------------------------------------


@dataclass(frozen=True)
class PricePreview:
    monthly_before: Decimal
    monthly_after: Decimal
    monthly_delta: Decimal
    one_off: Decimal


def price_preview(
    *,
    customer: Customer,
    change: str,
    mailbox: Mailbox | None = None,
    quota_tier: int | None = None,
    send_limit: int | None = None,
) -> PricePreview:
    """What a change would cost the customer, before it is confirmed. `change` is one of
    "mailbox_create" (with quota_tier / send_limit), "mailbox_delete", "mailbox_update" (mailbox
    and the new quota_tier and/or send_limit), "archive_attach", "archive_remove",
    "timemachine_restore", "intervention"."""
    today = timezone.localdate()
    prices = Prices.of(price_list_on(today))
    included = included_mailboxes(customer.pk)
    now = customer_usage(customer.pk)
    one_off = ZERO
    if change == "mailbox_create":
        after = now + Usage.of_mailbox(quota_tier=quota_tier or 8, send_limit=send_limit or 250)
    elif change == "mailbox_delete":
        has_archive = hasattr(mailbox, "billed_archive")
        after = now - Usage.of_mailbox(
            quota_tier=mailbox.quota_tier, send_limit=mailbox.send_limit, archive=has_archive
        )
    elif change == "mailbox_update":
        after = (
            now
            - Usage.of_tiers(quota_tier=mailbox.quota_tier, send_limit=mailbox.send_limit)
            + Usage.of_tiers(
                quota_tier=quota_tier or mailbox.quota_tier, send_limit=send_limit or mailbox.send_limit
            )
        )
    elif change == "archive_attach":
        after = now if hasattr(mailbox, "billed_archive") else now + Usage(archives=1)
    elif change == "archive_remove":
        after = now - Usage(archives=1) if hasattr(mailbox, "billed_archive") else now
    elif change in ("timemachine_restore", "intervention"):
        after = now
        one_off = prices.timemachine_restore if change == "timemachine_restore" else prices.intervention
    else:
        raise ValueError(f"price_preview: unknown change {change!r}")
    before_total = monthly_cost(now, included=included, prices=prices).total
    after_total = monthly_cost(after, included=included, prices=prices).total
    return PricePreview(
        monthly_before=before_total,
        monthly_after=after_total,
        monthly_delta=after_total - before_total,
        one_off=one_off,
    )


# --- staff -------------------------------------------------------------------------------------


def ledger_for(*, customer: Customer, since: datetime.datetime | None = None) -> QuerySet[LedgerEvent]:
    qs = LedgerEvent.objects.filter(customer=customer)
    return qs.filter(at__gte=since) if since else qs


def notices_for_day(day: datetime.date) -> QuerySet[DailyNotice]:
    return DailyNotice.objects.filter(day=day).select_related("customer")
