"""Reads of the billing app: the price list in force, a customer's usage and monthly cost, the
price of a change and what makes a change cost money (the one place that rule lives). Usage is
aggregated in the database, never a row per mailbox (monitor.selectors reuses the aggregates)."""

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.inclusion import Inclusion, inclusion_for
from billing.models import BilledArchive, DailyNotice, LedgerEvent, PriceList
from billing.pricing import (
    ZERO,
    MonthlyCost,
    Prices,
    Usage,
    monthly_cost,
)
from billing.tenants import mailbox_model, site_model

if TYPE_CHECKING:
    from domains.models import Customer, Mailbox


def price_list_on(day: datetime.date) -> PriceList | None:
    """The price-list version in force on `day` (the latest that starts on or before it)."""
    return PriceList.objects.filter(valid_from__lte=day).order_by("-valid_from").first()


def inclusion_of(customer_id: int) -> Inclusion:
    sites = site_model().objects.filter(customer_id=customer_id).only("profile", "voice_channels")
    return inclusion_for(sites)


def included_mailboxes(customer_id: int) -> int:
    return inclusion_of(customer_id).included_mailboxes


def usage_aggregates(prefix: str = "") -> dict[str, Any]:
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


def deleted_archives_of_domain(domain_ref: str = "pk") -> Coalesce:
    """An annotation of a Domain query: how many archives of its deleted mailboxes are billed
    (u_deleted_archives; a subquery, so it does not multiply the mailbox counts)."""
    counted = (
        BilledArchive.objects.filter(domain_id=OuterRef(domain_ref), mailbox__isnull=True)
        .order_by()
        .values("domain_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def usage_of(row: dict[str, Any]) -> Usage:
    return Usage(**{name: row[f"u_{name}"] for name in Usage.__dataclass_fields__})


def customer_usage(customer_id: int) -> Usage:
    """Every mailbox of the customer counts, active or not, and every archive still billed
    after its mailbox was deleted (two queries)."""
    row = mailbox_model().objects.filter(domain__customer_id=customer_id).aggregate(**usage_aggregates())
    row["u_deleted_archives"] = BilledArchive.objects.filter(
        domain__customer_id=customer_id, mailbox__isnull=True
    ).count()
    return usage_of(row)


def customer_monthly_cost(customer: "Customer", *, day: datetime.date | None = None) -> MonthlyCost:
    prices = Prices.of(price_list_on(day or timezone.localdate()))
    return monthly_cost(customer_usage(customer.pk), included=included_mailboxes(customer.pk), prices=prices)


# --- price preview for the control panel -------------------------------------------------------


@dataclass(frozen=True)
class PricePreview:
    monthly_before: Decimal
    monthly_after: Decimal
    monthly_delta: Decimal
    one_off: Decimal


def price_preview(
    *,
    customer: "Customer",
    change: str,
    mailbox: "Mailbox | None" = None,
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
        # its archive, if billed, stays billed as an archive of a deleted mailbox
        after = now - Usage.of_mailbox(quota_tier=mailbox.quota_tier, send_limit=mailbox.send_limit)
        if hasattr(mailbox, "billed_archive"):
            after = after - Usage(archives=1) + Usage(deleted_archives=1)
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


FREE_QUOTA_TIER = 8  # GB
FREE_SEND_LIMITS = (250, 1000)  # a day


def charge_reasons(
    *,
    customer_id: int,
    creating: bool = False,
    quota_tier: int | None = None,
    send_limit: int | None = None,
    archive: bool = False,
    mailbox: "Mailbox | None" = None,
) -> list[str]:
    """Why a change costs money (empty: it is free), in the user's words. THE rule of what
    costs money: a mailbox beyond the number the customer's sites include, a space tier above
    8 GB, a send limit above 1,000 a day, an archive. Raising a tier of an existing `mailbox`
    costs money only when the new tier is paid and higher than its current one."""
    reasons = []
    if creating and mailbox_model().objects.filter(domain__customer_id=customer_id).count() >= (
        included_mailboxes(customer_id)
    ):
        reasons.append(_("This mailbox is beyond the number included in your contract."))
    if (
        quota_tier is not None
        and quota_tier != FREE_QUOTA_TIER
        and (mailbox is None or quota_tier > mailbox.quota_tier)
    ):
        reasons.append(_("Space of %(n)d GB is a paid option.") % {"n": quota_tier})
    if (
        send_limit is not None
        and send_limit not in FREE_SEND_LIMITS
        and (mailbox is None or send_limit > mailbox.send_limit)
    ):
        reasons.append(_("A send limit of %(n)s a day is a paid option.") % {"n": f"{send_limit:,}"})
    if archive:
        reasons.append(_("The Archive is a paid option."))
    return reasons


# --- staff -------------------------------------------------------------------------------------


def ledger_for(*, customer: "Customer", since: datetime.datetime | None = None) -> QuerySet[LedgerEvent]:
    qs = LedgerEvent.objects.filter(customer=customer)
    return qs.filter(at__gte=since) if since else qs


def notices_for_day(day: datetime.date) -> QuerySet[DailyNotice]:
    return DailyNotice.objects.filter(day=day).select_related("customer")
