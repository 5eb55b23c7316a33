"""The arithmetic of billing, as pure functions of counts and prices (no queries here).

The monthly cost of a customer depends only on the current state of its mailboxes: how many
there are against how many its sites include (billing.inclusion), how many sit on each paid
space and send-limit tier, how many have an archive. See docs/billing.md.
"""

import calendar
import datetime
from collections.abc import Iterable
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext_lazy as _

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Usage:
    """Counts that decide a monthly cost. 8 GB space and 250 / 1,000 sends a day are free."""

    mailboxes: int = 0
    quota_25: int = 0
    quota_50: int = 0
    quota_100: int = 0
    send_2000: int = 0
    send_5000: int = 0
    archives: int = 0
    # Archives kept after their mailbox was deleted: billed as archives until removed or purged.
    deleted_archives: int = 0

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def __sub__(self, other: "Usage") -> "Usage":
        return Usage(**{f.name: getattr(self, f.name) - getattr(other, f.name) for f in fields(self)})

    @classmethod
    def of_tiers(cls, *, quota_tier: int, send_limit: int) -> "Usage":
        """What one mailbox's space and send-limit tiers add (without the mailbox itself)."""
        return cls(
            quota_25=int(quota_tier == 25),
            quota_50=int(quota_tier == 50),
            quota_100=int(quota_tier == 100),
            send_2000=int(send_limit == 2000),
            send_5000=int(send_limit == 5000),
        )

    @classmethod
    def of_mailbox(cls, *, quota_tier: int, send_limit: int, archive: bool = False) -> "Usage":
        return cls(mailboxes=1, archives=int(archive)) + cls.of_tiers(
            quota_tier=quota_tier, send_limit=send_limit
        )


@dataclass(frozen=True)
class Prices:
    """Monthly and one-off prices in EUR, VAT excluded (a PriceList row, or zero without one)."""

    mailbox_extra: Decimal = ZERO
    quota_25: Decimal = ZERO
    quota_50: Decimal = ZERO
    quota_100: Decimal = ZERO
    send_2000: Decimal = ZERO
    send_5000: Decimal = ZERO
    archive: Decimal = ZERO
    timemachine_restore: Decimal = ZERO
    intervention: Decimal = ZERO

    @classmethod
    def of(cls, price_list) -> "Prices":
        if price_list is None:
            return cls()
        return cls(**{f.name: Decimal(getattr(price_list, f.name)) for f in fields(cls)})


@dataclass(frozen=True)
class Line:
    key: str
    label: str
    quantity: int
    unit_price: Decimal
    amount: Decimal


# (line key, Usage field, Prices field, label) in the order the Monitor shows them.
TIER_LINES = (
    ("quota_25", "quota_25", "quota_25", _("Space 25 GB")),
    ("quota_50", "quota_50", "quota_50", _("Space 50 GB")),
    ("quota_100", "quota_100", "quota_100", _("Space 100 GB")),
    ("send_2000", "send_2000", "send_2000", _("Send limit 2,000 a day")),
    ("send_5000", "send_5000", "send_5000", _("Send limit 5,000 a day")),
    ("archives", "archives", "archive", _("Archive")),
    ("deleted_archives", "deleted_archives", "archive", _("Archive of a deleted mailbox")),
)


@dataclass(frozen=True)
class MonthlyCost:
    included: int
    mailboxes: int
    extra_mailboxes: int
    lines: tuple[Line, ...]
    total: Decimal

    def line(self, key: str) -> Line:
        return next(line for line in self.lines if line.key == key)


def tier_lines(usage: Usage, prices: Prices) -> tuple[Line, ...]:
    out = []
    for key, usage_field, price_field, label in TIER_LINES:
        quantity = getattr(usage, usage_field)
        unit = getattr(prices, price_field)
        out.append(
            Line(key=key, label=str(label), quantity=quantity, unit_price=unit, amount=unit * quantity)
        )
    return tuple(out)


def monthly_cost(usage: Usage, *, included: int, prices: Prices) -> MonthlyCost:
    """The monthly recurring cost of a customer: mailboxes beyond the included count, each paid
    tier, each archive. Every line is quantity × unit price; amounts are exact to the cent."""
    extra = max(0, usage.mailboxes - included)
    lines = (
        Line(
            key="extra_mailboxes",
            label=str(_("Mailboxes beyond the included count")),
            quantity=extra,
            unit_price=prices.mailbox_extra,
            amount=prices.mailbox_extra * extra,
        ),
        *tier_lines(usage, prices),
    )
    total = sum((line.amount for line in lines), ZERO)
    return MonthlyCost(
        included=included,
        mailboxes=usage.mailboxes,
        extra_mailboxes=extra,
        lines=lines,
        total=total.quantize(CENT),
    )


def month_bounds(day: datetime.date) -> tuple[datetime.date, datetime.date]:
    """First and last day of the calendar month of `day`."""
    last = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=1), day.replace(day=last)


def prorated_recurring(
    *,
    today: datetime.date,
    total_at_month_start: Decimal,
    changes: Iterable[tuple[datetime.date, Decimal]],
    current_total: Decimal,
) -> Decimal:
    """The recurring part of the invoice of `today`'s month (docs/billing.md, "Proration").

    Each day of the month costs 1/(days in the month) of the monthly total in force at the end
    of that day (Europe/Rome). Past days take the total after the last change of the day (or
    the total in force before it); today and the rest of the month take `current_total`.
    `changes` are (local day, monthly total after the change), in time order.
    """
    first, last = month_bounds(today)
    days = last.day
    end_of_day: dict[datetime.date, Decimal] = {}
    for day, total_after in changes:
        end_of_day[day] = total_after
    running = total_at_month_start
    accumulated = ZERO
    for n in range(1, days + 1):
        day = first.replace(day=n)
        if day >= today:
            accumulated += current_total * (days - n + 1)
            break
        running = end_of_day.get(day, running)
        accumulated += running
    return (accumulated / days).quantize(CENT, rounding=ROUND_HALF_UP)
