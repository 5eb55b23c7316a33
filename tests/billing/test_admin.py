"""Back office: staff create a customer-area user (login, password, right) in one form; price
list versions in force are read-only; ledger and notices are visible and read-only."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from billing.models import PriceList
from billing.services import price_list_save
from core.models import AuditEntry
from domains.models import CustomerUser
from tests.backoffice import backoffice_client
from tests.billing.conftest import PRICES
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    # Through the back-office login (password + TOTP code): force_login alone no longer opens it.
    admin = django_user_model.objects.create_superuser(
        username="admin-billing", password="Staff-Pass-2026-x", email="a@x.test"  # noqa: S106
    )
    return backoffice_client(admin, "Staff-Pass-2026-x", client)


def test_staff_create_a_customer_user_with_password_and_right_in_one_form(staff_client):
    customer = CustomerFactory()

    response = staff_client.post(
        "/backoffice/domains/customeruser/add/",
        {
            "customer": customer.pk,
            "username": "Contabile.Cliente",
            "email": "contabile@cliente.test",
            "first_name": "Carla",
            "last_name": "Conti",
            "password": "Cliente-Area-2026!",
            "can_configure_mail": "on",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    cu = CustomerUser.objects.select_related("user").get()
    assert (cu.customer, cu.can_configure_mail, cu.user.username, cu.user.kind) == (
        customer,
        True,
        "contabile.cliente",
        "customer",
    )
    assert cu.user.check_password("Cliente-Area-2026!")
    assert AuditEntry.objects.filter(action="customer_user.create", target="contabile.cliente").count() == 1


def test_weak_password_is_refused_on_the_form_and_nothing_is_written(staff_client):
    customer = CustomerFactory()

    response = staff_client.post(
        "/backoffice/domains/customeruser/add/",
        {
            "customer": customer.pk,
            "username": "debole",
            "password": "123",
            "can_configure_mail": "",
        },
    )

    assert response.status_code == 200
    assert CustomerUser.objects.count() == 0


def test_staff_add_a_future_price_list_version(staff_client):
    first_next_month = (timezone.localdate().replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    data = {
        "valid_from": first_next_month.isoformat(),
        "note": "2027",
        **{k: str(v) for k, v in PRICES.items()},
    }

    response = staff_client.post("/backoffice/billing/pricelist/add/", data)

    assert response.status_code == 302
    assert PriceList.objects.get().mailbox_extra == Decimal("2.50")


def test_price_list_must_start_on_the_first_of_a_month(staff_client):
    data = {"valid_from": "2030-01-15", **{k: str(v) for k, v in PRICES.items()}}

    response = staff_client.post("/backoffice/billing/pricelist/add/", data)

    assert response.status_code == 200
    assert PriceList.objects.count() == 0


def test_a_price_list_in_force_cannot_be_changed(price_list):
    with pytest.raises(ValidationError):
        price_list_save(actor=None, price_list=price_list, mailbox_extra=Decimal("1.00"))
    price_list.refresh_from_db()
    assert price_list.mailbox_extra == Decimal("2.50")


@pytest.mark.parametrize(
    "path",
    [
        "/backoffice/billing/ledgerevent/",
        "/backoffice/billing/dailynotice/",
        "/backoffice/billing/pricelist/",
        "/backoffice/domains/customeruser/",
    ],
)
def test_billing_pages_of_the_back_office_open(staff_client, path):
    assert staff_client.get(path).status_code == 200


def test_ledger_is_read_only_in_the_back_office(staff_client):
    assert staff_client.get("/backoffice/billing/ledgerevent/add/").status_code == 403
