import datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from billing.models import BilledArchive, PriceList
from domains.models import Domain, Mailbox
from domains.services import customer_user_create

CUSTOMER_PASSWORD = "Customer-Area-Pass-2026"  # noqa: S105 - test data

# The price list the tests compute by hand against (EUR, VAT excluded).
PRICES = {
    "mailbox_extra": Decimal("2.50"),
    "quota_25": Decimal("3.00"),
    "quota_50": Decimal("5.00"),
    "quota_100": Decimal("9.00"),
    "send_2000": Decimal("4.00"),
    "send_5000": Decimal("8.00"),
    "archive": Decimal("1.50"),
    "timemachine_restore": Decimal("50.00"),
    "intervention": Decimal("80.00"),
}


@pytest.fixture
def price_list(db):
    """In force since the first day of last month (so it is in force all this month)."""
    first = timezone.localdate().replace(day=1)
    previous_first = (first - datetime.timedelta(days=1)).replace(day=1)
    return PriceList.objects.create(valid_from=previous_first, **PRICES)


def bulk_mailboxes(
    domain: Domain,
    count: int,
    *,
    prefix: str,
    quota_tier: int = 8,
    send_limit: int = 250,
    archive: bool = False,
) -> list[Mailbox]:
    """Test data in bulk, bypassing the services on purpose (no ledger rows, no Argon2): the
    arithmetic tests need hundreds of mailboxes in a given state, not their history."""
    User = get_user_model()
    users = User.objects.bulk_create(
        User(
            username=f"{prefix}{i}@{domain.name}",
            email=f"{prefix}{i}@{domain.name}",
            kind=User.Kind.MAILBOX,
            password="!",
        )  # noqa: S106 - unusable password
        for i in range(count)
    )
    mailboxes = Mailbox.objects.bulk_create(
        Mailbox(
            domain=domain, local_part=f"{prefix}{i}", user=user, quota_tier=quota_tier, send_limit=send_limit
        )
        for i, user in enumerate(users)
    )
    if archive:
        BilledArchive.objects.bulk_create(
            BilledArchive(mailbox=m, mailbox_key=m.pk, domain=domain, address=f"{m.local_part}@{domain.name}")
            for m in mailboxes
        )
    return mailboxes


@pytest.fixture
def make_customer_user(db):
    def make(customer, *, can_configure_mail: bool, username: str | None = None):
        n = make.counter = getattr(make, "counter", 0) + 1
        return customer_user_create(
            customer=customer,
            username=username or f"cu{n}-{customer.pk}",
            password=CUSTOMER_PASSWORD,
            email=f"cu{n}@customer.test",
            can_configure_mail=can_configure_mail,
        )

    return make


def login_customer(client, username: str, password: str = CUSTOMER_PASSWORD):
    """Log in through the customer area's real login page."""
    response = client.post("/customer/login/", {"login": username, "password": password})
    assert response.status_code == 302, response.content[:500]
    return response
