"""The arithmetic of the monthly total on a realistic customer, against values computed by hand.

Customer: three sites, profiles 1.0 / 1.5 / 2.0 with 20 / 30 / 15 voice channels; 400 mailboxes
over two domains (alpha: 250, beta: 150, postmasters included) on several tiers.

By hand (prices in tests/billing/conftest.py):
    included = (30 + 15) channels × 6 = 270   (the 1.0 site is not eligible)
    extra    = 400 − 270 = 130                 → 130 × 2.50 = 325.00
    25 GB    = 20 + 7 = 27                     →  27 × 3.00 =  81.00
    50 GB    = 10                              →  10 × 5.00 =  50.00
    100 GB   = 5 + 3 = 8                       →   8 × 9.00 =  72.00
    2,000/d  = (10 + 5) + 7 = 22               →  22 × 4.00 =  88.00
    5,000/d  = (5 + 2) + 3 = 10                →  10 × 8.00 =  80.00
    archive  = (5 + 7) + (7 + 3) = 22          →  22 × 1.50 =  33.00
    monthly total                                           = 729.00
    per domain (upgrades and archives, no extra mailboxes):
        alpha 20×3 + 10×5 + 5×9 + 15×4 + 7×8 + 12×1.5 = 60+50+45+60+56+18 = 289.00
        beta   7×3 +  0×5 + 3×9 +  7×4 + 3×8 + 10×1.5 = 21+ 0+27+28+24+15 = 115.00
    (289 + 115 + 325 = 729)
"""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import LedgerEvent
from billing.selectors import customer_monthly_cost
from domains.models import Mailbox
from monitor.selectors import monitor_for
from tests.billing.conftest import bulk_mailboxes
from tests.factories import CustomerFactory, DomainFactory, SiteFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def big_customer(price_list):
    customer = CustomerFactory(site=False, company_name="Tre Sedi S.p.A.")
    SiteFactory(customer=customer, name="Sede A", profile=Decimal("1.0"), voice_channels=20)
    SiteFactory(customer=customer, name="Sede B", profile=Decimal("1.5"), voice_channels=30)
    SiteFactory(customer=customer, name="Sede C", profile=Decimal("2.0"), voice_channels=15)
    alpha = DomainFactory(customer=customer, name="alpha.test")  # + postmaster
    beta = DomainFactory(customer=customer, name="beta.test")  # + postmaster
    # alpha: 249 more mailboxes (250 with the postmaster)
    bulk_mailboxes(alpha, 20, prefix="q25-", quota_tier=25)
    bulk_mailboxes(alpha, 10, prefix="q50-", quota_tier=50, send_limit=2000)
    bulk_mailboxes(alpha, 5, prefix="q100-", quota_tier=100, send_limit=5000, archive=True)
    bulk_mailboxes(alpha, 5, prefix="s2k-", send_limit=2000)
    bulk_mailboxes(alpha, 7, prefix="arc-", send_limit=1000, archive=True)
    bulk_mailboxes(alpha, 2, prefix="s5k-", send_limit=5000)
    bulk_mailboxes(alpha, 200, prefix="std-")
    # beta: 149 more mailboxes (150 with the postmaster)
    bulk_mailboxes(beta, 7, prefix="q25-", quota_tier=25, send_limit=2000, archive=True)
    bulk_mailboxes(beta, 3, prefix="q100-", quota_tier=100, send_limit=5000, archive=True)
    bulk_mailboxes(beta, 139, prefix="std-")
    # Distractors: another customer's mailboxes on paid tiers must not count.
    other = DomainFactory(name="other.test")
    bulk_mailboxes(other, 30, prefix="x-", quota_tier=100, send_limit=5000, archive=True)
    # The contract started last month: no priced change this month (the postmasters' events move back).
    LedgerEvent.objects.filter(customer=customer).update(at=timezone.now() - datetime.timedelta(days=40))
    return customer


def test_data_is_what_the_docstring_says(big_customer):
    assert Mailbox.objects.filter(domain__customer=big_customer).count() == 400
    assert Mailbox.objects.filter(domain__name="alpha.test").count() == 250
    assert Mailbox.objects.filter(domain__name="beta.test").count() == 150


def test_included_count_extra_mailboxes_and_every_line_match_the_hand_computation(big_customer):
    cost = customer_monthly_cost(big_customer)

    assert (cost.mailboxes, cost.included, cost.extra_mailboxes) == (400, 270, 130)
    assert [(ln.key, ln.quantity, ln.unit_price, ln.amount) for ln in cost.lines] == [
        ("extra_mailboxes", 130, Decimal("2.50"), Decimal("325.00")),
        ("quota_25", 27, Decimal("3.00"), Decimal("81.00")),
        ("quota_50", 10, Decimal("5.00"), Decimal("50.00")),
        ("quota_100", 8, Decimal("9.00"), Decimal("72.00")),
        ("send_2000", 22, Decimal("4.00"), Decimal("88.00")),
        ("send_5000", 10, Decimal("8.00"), Decimal("80.00")),
        ("archives", 22, Decimal("1.50"), Decimal("33.00")),
        ("deleted_archives", 0, Decimal("1.50"), Decimal("0.00")),
    ]
    assert cost.total == Decimal("729.00")


def test_monitor_aggregate_and_per_domain_breakdown_match_the_hand_computation(
    big_customer, make_customer_user
):
    user = make_customer_user(big_customer, can_configure_mail=True).user

    monitor = monitor_for(user=user)

    assert monitor.cost.total == Decimal("729.00")
    assert (monitor.cost.mailboxes, monitor.cost.included, monitor.cost.extra_mailboxes) == (400, 270, 130)
    rows = {row.name: row for row in monitor.domains}
    assert list(rows) == ["alpha.test", "beta.test"]
    alpha, beta = rows["alpha.test"].usage, rows["beta.test"].usage
    assert (
        alpha.mailboxes,
        alpha.quota_25,
        alpha.quota_50,
        alpha.quota_100,
        alpha.send_2000,
        alpha.send_5000,
        alpha.archives,
    ) == (250, 20, 10, 5, 15, 7, 12)
    assert (
        beta.mailboxes,
        beta.quota_25,
        beta.quota_50,
        beta.quota_100,
        beta.send_2000,
        beta.send_5000,
        beta.archives,
    ) == (150, 7, 0, 3, 7, 3, 10)
    assert rows["alpha.test"].recurring == Decimal("289.00")
    assert rows["beta.test"].recurring == Decimal("115.00")
    # No priced change this month: the next invoice is one full month.
    assert (monitor.interventions, monitor.one_off) == (0, Decimal("0.00"))
    assert monitor.next_invoice == Decimal("729.00")
