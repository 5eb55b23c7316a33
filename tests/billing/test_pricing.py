"""Pure arithmetic: monthly cost lines and the proration rule of docs/billing.md."""

import datetime
from decimal import Decimal

from billing.pricing import Prices, Usage, monthly_cost, prorated_recurring

D = Decimal
PRICES = Prices(
    mailbox_extra=D("2.50"),
    quota_25=D("3.00"),
    quota_50=D("5.00"),
    quota_100=D("9.00"),
    send_2000=D("4.00"),
    send_5000=D("8.00"),
    archive=D("1.50"),
)


def test_mailboxes_within_the_included_count_cost_nothing():
    cost = monthly_cost(Usage(mailboxes=60), included=60, prices=PRICES)
    assert (cost.extra_mailboxes, cost.total) == (0, D("0.00"))


def test_250_and_1000_sends_and_8_gb_are_free():
    usage = Usage.of_mailbox(quota_tier=8, send_limit=1000) + Usage.of_mailbox(quota_tier=8, send_limit=250)
    assert monthly_cost(usage, included=0, prices=PRICES).total == D("5.00")  # only the 2 extra mailboxes


def test_not_eligible_customer_pays_every_mailbox():
    assert monthly_cost(Usage(mailboxes=3), included=0, prices=PRICES).total == D("7.50")


def test_no_change_in_the_month_is_one_full_monthly_total():
    assert prorated_recurring(
        today=datetime.date(2026, 11, 15),
        total_at_month_start=D("100.00"),
        changes=[],
        current_total=D("100.00"),
    ) == D("100.00")


def test_change_mid_month_is_charged_by_days_at_the_end_of_each_day():
    # November: 30 days. 100.00 a month until the 10th; on the 10th it becomes 130.00 (a change
    # at any hour of the 10th counts for the whole 10th); today is the 20th.
    # 9 days × 100 + 21 days × 130 = 900 + 2730 = 3630 / 30 = 121.00
    result = prorated_recurring(
        today=datetime.date(2026, 11, 20),
        total_at_month_start=D("100.00"),
        changes=[(datetime.date(2026, 11, 10), D("130.00"))],
        current_total=D("130.00"),
    )
    assert result == D("121.00")


def test_created_and_deleted_the_same_day_costs_nothing_recurring():
    result = prorated_recurring(
        today=datetime.date(2026, 11, 20),
        total_at_month_start=D("100.00"),
        changes=[(datetime.date(2026, 11, 5), D("102.50")), (datetime.date(2026, 11, 5), D("100.00"))],
        current_total=D("100.00"),
    )
    assert result == D("100.00")


def test_february_has_28_parts_and_rounding_is_half_up_once():
    # 2027-02: 28 days. 10.00 for 1 day (the 1st), then 0.00: 10 / 28 = 0.357... → 0.36
    result = prorated_recurring(
        today=datetime.date(2027, 2, 10),
        total_at_month_start=D("10.00"),
        changes=[(datetime.date(2027, 2, 2), D("0.00"))],
        current_total=D("0.00"),
    )
    assert result == D("0.36")


def test_days_from_today_take_the_current_total():
    # 31-day month, today the 31st, nothing changed before: 30 × 0 + 1 × 31.00 = 31 / 31 = 1.00
    result = prorated_recurring(
        today=datetime.date(2026, 12, 31),
        total_at_month_start=D("0.00"),
        changes=[],
        current_total=D("31.00"),
    )
    assert result == D("1.00")
