"""Customer area → Mail → Monitor: who sees what, the JSON the page polls, and a query count
that does not grow with mailboxes or domains."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from billing.models import LedgerEvent
from tests.billing.conftest import bulk_mailboxes, login_customer
from tests.factories import CustomerFactory, DomainFactory

pytestmark = pytest.mark.django_db

PAGE = "/customer/mail/monitor/"
DATA = "/customer/mail/monitor/data/"


@pytest.fixture
def tenants(price_list, make_customer_user):
    ours = CustomerFactory(site__voice_channels=1, company_name="Nostra S.r.l.")  # 6 included
    ours_domain = DomainFactory(customer=ours, name="nostra.test")
    bulk_mailboxes(ours_domain, 9, prefix="m", quota_tier=25)  # 10 mailboxes: 4 extra, 9 × 25 GB
    theirs = CustomerFactory(site__voice_channels=1, company_name="Altrui S.p.A.")
    DomainFactory(customer=theirs, name="altrui.test")
    return {
        "ours": ours,
        "right": make_customer_user(ours, can_configure_mail=True, username="right.nostra").user,
        "no_right": make_customer_user(ours, can_configure_mail=False, username="noright.nostra").user,
        "other": make_customer_user(theirs, can_configure_mail=True, username="right.altrui").user,
    }


def client_for(username):
    client = Client()
    if username:
        login_customer(client, username)
    return client


def test_four_clients_see_only_what_they_may(tenants):
    events_before = LedgerEvent.objects.count()
    anonymous, other, no_right, right = (
        client_for(u) for u in (None, "right.altrui", "noright.nostra", "right.nostra")
    )

    page = {
        name: c.get(PAGE)
        for name, c in [("anonymous", anonymous), ("other", other), ("no_right", no_right), ("right", right)]
    }
    data = {
        name: c.get(DATA)
        for name, c in [("anonymous", anonymous), ("other", other), ("no_right", no_right), ("right", right)]
    }

    assert page["anonymous"].status_code == 302
    assert page["anonymous"]["Location"] == "/customer/login/?next=%2Fcustomer%2Fmail%2Fmonitor%2F"
    assert data["anonymous"].status_code == 403
    assert page["no_right"].status_code == 403 and data["no_right"].status_code == 403
    # Another customer's user with the right sees its own customer, nothing of ours.
    assert page["other"].status_code == 200 and data["other"].status_code == 200
    for response in (
        page["anonymous"],
        data["anonymous"],
        page["no_right"],
        data["no_right"],
        page["other"],
        data["other"],
    ):
        body = response.content.decode()
        assert (
            "nostra.test" not in body
            and "Nostra S.r.l." not in body
            and "37.00" not in body.replace(",", ".")
        )
    assert [d["name"] for d in data["other"].json()["monitor"]["domains"]] == ["altrui.test"]
    assert page["right"].status_code == 200 and "nostra.test" in page["right"].content.decode()
    assert LedgerEvent.objects.count() == events_before  # reading changed nothing


def test_customer_user_without_the_right_still_enters_the_customer_area(tenants):
    response = client_for("noright.nostra").get("/customer/")

    assert response.status_code == 200
    assert "Nostra S.r.l." in response.content.decode()
    assert 'href="/customer/mail/monitor/"' not in response.content.decode().split("</header>")[1]


def test_a_mailbox_login_cannot_enter_the_customer_area(tenants):
    from tests.factories import MailboxFactory

    mailbox = MailboxFactory(domain=tenants["ours"].domains.get())
    response = Client().post(
        "/customer/login/", {"login": mailbox.address, "password": mailbox.password_plain}
    )

    assert response.status_code == 403


def test_json_has_the_figures_of_the_monitor(tenants):
    monitor = client_for("right.nostra").get(DATA).json()["monitor"]

    # 10 mailboxes, 6 included: 4 × 2.50 = 10.00; 9 × 25 GB × 3.00 = 27.00; total 37.00
    assert (monitor["mailboxes"], monitor["included"], monitor["extra_mailboxes"]) == (10, 6, 4)
    assert {ln["key"]: ln["amount"] for ln in monitor["lines"]} == {
        "extra_mailboxes": "10.00",
        "quota_25": "27.00",
        "quota_50": "0.00",
        "quota_100": "0.00",
        "send_2000": "0.00",
        "send_5000": "0.00",
        "archives": "0.00",
        "deleted_archives": "0.00",
    }
    assert monitor["monthly_total"] == "37.00"
    assert [d["name"] for d in monitor["domains"]] == ["nostra.test"]


def test_the_archive_of_a_deleted_mailbox_stays_on_the_monitor_until_removed(tenants):
    from archiving.models import Archive
    from archiving.services import archive_attach, archive_remove_orphan
    from domains import services

    client = client_for("right.nostra")
    mailbox = tenants["ours"].domains.get().mailboxes.get(local_part="m0")  # 25 GB
    archive_attach(mailbox=mailbox, retention_years=2)
    assert client.get(DATA).json()["monitor"]["monthly_total"] == "38.50"  # 37.00 + 1.50

    services.mailbox_delete(mailbox=mailbox)

    # 9 mailboxes: 3 extra × 2.50 + 8 × 25 GB × 3.00 = 31.50, and the archive kept: 1.50
    response = client.get(DATA).json()
    monitor = response["monitor"]
    lines = {ln["key"]: (ln["quantity"], ln["amount"]) for ln in monitor["lines"]}
    assert (lines["archives"], lines["deleted_archives"]) == ((0, "0.00"), (1, "1.50"))
    assert monitor["monthly_total"] == "33.00"
    [row] = monitor["domains"]
    assert (row["mailboxes"], row["archives"], row["deleted_archives"], row["recurring"]) == (
        9,
        0,
        1,
        "25.50",
    )
    assert '<small data-key="deleted_archives">(+1 ' in response["html"]

    archive_remove_orphan(
        archive=Archive.objects.get(address=mailbox.address), confirm_address=mailbox.address
    )

    monitor = client.get(DATA).json()["monitor"]
    assert monitor["monthly_total"] == "31.50"
    assert monitor["domains"][0]["deleted_archives"] == 0


def _count_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(DATA).status_code == 200
    return len(ctx.captured_queries)


def test_query_count_does_not_grow_with_mailboxes_or_domains(tenants):
    client = client_for("right.nostra")
    ours = tenants["ours"]
    _count_queries(client)  # warm-up (session, user)
    small = _count_queries(client)

    for n in range(4):
        domain = DomainFactory(customer=ours, name=f"more{n}.test")
        bulk_mailboxes(domain, 50, prefix="x", quota_tier=50, send_limit=5000, archive=True)
    big = _count_queries(client)

    assert ours.domains.count() == 5
    assert small == big
    assert big <= 12
    print(f"monitor data queries: {big}")


def test_page_and_data_are_not_cached(tenants):
    client = client_for("right.nostra")
    assert "no-store" in client.get(DATA)["Cache-Control"]
    assert "no-store" in client.get(PAGE)["Cache-Control"]


def test_totals_follow_a_change_without_reload(tenants):
    from domains import services

    client = client_for("right.nostra")
    assert client.get(DATA).json()["monitor"]["monthly_total"] == "37.00"

    services.mailbox_create(
        domain=tenants["ours"].domains.get(), local_part="nuova", password="Nuova-Casella-2026"
    )

    monitor = client.get(DATA).json()["monitor"]
    assert (monitor["mailboxes"], monitor["monthly_total"]) == (11, "39.50")
    assert Decimal(monitor["next_invoice"]) > 0
