"""Issue 15 item 5: provider staff record an extraordinary intervention in the back office; it is
one ledger event, counted in the customer's Monitor (count and amount) and in the end-of-day
notice; the page refuses bad input and people who are not staff."""

from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from billing.models import LedgerEvent
from monitor import notices
from tests.backoffice import backoffice_client
from tests.billing.conftest import login_customer
from tests.factories import CustomerFactory, DomainFactory

pytestmark = pytest.mark.django_db

URL = "/backoffice/billing/intervention/"


@pytest.fixture
def staff_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser(
        username="admin-interventions",
        password="Staff-Pass-2026-x",  # noqa: S106
        email="a@x.test",
    )
    return backoffice_client(admin, "Staff-Pass-2026-x", client)


@pytest.fixture
def customer(price_list, make_customer_user):
    customer = CustomerFactory(
        site__voice_channels=1, company_name="Aiutata S.r.l.", legal_rep_email="legal@aiutata.test"
    )
    DomainFactory(customer=customer, name="aiutata.test")
    make_customer_user(customer, can_configure_mail=True, username="right.aiutata")
    mail.outbox.clear()
    return customer


def monitor_data() -> dict:
    client = Client()
    login_customer(client, "right.aiutata")
    return client.get("/customer/mail/monitor/data/").json()["monitor"]


def test_staff_record_an_intervention_at_the_list_price_and_the_monitor_and_notice_show_it(
    staff_client, customer, settings
):
    assert monitor_data()["interventions"] == 0
    page = staff_client.get(URL, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and "80.00 EUR" in page.content.decode()
    domain = customer.domains.get()
    response = staff_client.post(
        URL, {"domain": domain.pk, "description": "Mailbox moved from old provider", "price": "list"}
    )
    assert response.status_code == 302
    event = LedgerEvent.objects.get(kind="intervention")
    assert (event.intervention, event.one_off_amount, event.description, event.domain_name) == (
        "other",
        Decimal("80.00"),
        "Mailbox moved from old provider",
        "aiutata.test",
    )
    data = monitor_data()
    assert (data["interventions"], data["one_off"]) == (1, "80.00")
    assert [(d["name"], d["interventions"]) for d in data["domains"]] == [("aiutata.test", 1)]
    settings.LANGUAGE_CODE = "en"
    notices.daily_notices_send(day=timezone.localdate())
    [notice] = [m for m in mail.outbox if m.to == ["legal@aiutata.test"]]
    assert "(Other intervention): aiutata.test — Mailbox moved from old provider, by admin-interventions" in (
        notice.body
    )
    assert "One-off charges of the day: 80.00 EUR" in notice.body


def test_a_stated_amount_replaces_the_list_price_and_bad_input_writes_nothing(staff_client, customer):
    domain = customer.domains.get()
    bad = [
        {"domain": domain.pk, "description": "", "price": "list"},
        {"domain": domain.pk, "description": "Restore by hand", "price": "amount"},
        {"domain": domain.pk, "description": "Restore by hand", "price": "amount", "amount": "-5"},
        {"domain": 999_999, "description": "Restore by hand", "price": "list"},
    ]
    for data in bad:
        assert staff_client.post(URL, data).status_code == 400, data
    assert not LedgerEvent.objects.filter(kind="intervention").exists()
    response = staff_client.post(
        URL, {"domain": domain.pk, "description": "Restore by hand", "price": "amount", "amount": "35.50"}
    )
    assert response.status_code == 302
    assert LedgerEvent.objects.get(kind="intervention").one_off_amount == Decimal("35.50")


def test_only_staff_reach_the_page(customer, django_user_model):
    domain = customer.domains.get()
    data = {"domain": domain.pk, "description": "x", "price": "list"}
    anonymous = Client()
    assert anonymous.get(URL).status_code == 302
    assert anonymous.post(URL, data).status_code == 302
    customer_client = Client()
    login_customer(customer_client, "right.aiutata")
    assert customer_client.post(URL, data).status_code == 302  # to the back-office login
    assert not LedgerEvent.objects.filter(kind="intervention").exists()
