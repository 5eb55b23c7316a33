"""The billing Monitor of the customer area: what the customer's mail costs this month, per
domain, and the next invoice. Reads run a fixed number of queries whatever the number of domains
and mailboxes (billing's usage aggregates, in the database)."""

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Sum
from django.utils import timezone

from billing.inclusion import Inclusion
from billing.models import LedgerEvent, PriceList
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
from billing.selectors import (
    deleted_archives_of_domain,
    inclusion_of,
    price_list_on,
    usage_aggregates,
    usage_of,
)
from core.days import local_midnight
from domains.models import Customer, CustomerUser, Domain


@dataclass(frozen=True)
class DomainRow:
    domain_id: int
    name: str
    usage: Usage
    lines: tuple[Line, ...]
    # paid tiers and archives (those of deleted mailboxes too); extra mailboxes are a
    # customer-level line
    recurring: Decimal
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
        .annotate(**usage_aggregates("mailboxes__"), u_deleted_archives=deleted_archives_of_domain())
    )
    month_start = local_midnight(first)
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
        usage = usage_of(row)
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
        "eligible": monitor.inclusion.eligible,
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
                "archives": row.usage.archives,
                "deleted_archives": row.usage.deleted_archives,
                "lines": [line(ln) for ln in row.lines],
                "recurring": str(row.recurring),
                "interventions": row.interventions,
                "one_off": str(row.one_off),
            }
            for row in monitor.domains
        ],
    }
