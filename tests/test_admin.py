"""The back office (Django admin at /backoffice/): staff log in through the real login form
(CSRF enforced; password then TOTP code), and every add goes through the services."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from core.models import AuditEntry
from domains.models import Domain, Mailbox, Manager
from tests.backoffice import enrolled_device, totp_now
from tests.factories import CustomerFactory, DomainFactory

pytestmark = pytest.mark.django_db

User = get_user_model()
STAFF_PASSWORD = "Staff-Pass-2026-x"  # noqa: S105 - test data


def csrf_token(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


@pytest.fixture
def staff_client() -> Client:
    """Staff through the real login form (CSRF enforced): password, then the TOTP code."""
    staff = User.objects.create_superuser("staff", "staff@provider.test", STAFF_PASSWORD)
    device = enrolled_device(staff)
    device.last_t = -1  # the enrolment used this TOTP step's code already
    device.save(update_fields=["last_t"])
    client = Client(enforce_csrf_checks=True)
    page = client.get("/backoffice/login/?next=/backoffice/")
    response = client.post(
        "/backoffice/login/?next=/backoffice/",
        {
            "login": "staff",
            "password": STAFF_PASSWORD,
            "csrfmiddlewaretoken": csrf_token(page.content.decode()),
            "next": "/backoffice/",
        },
    )
    assert (response.status_code, response["Location"]) == (302, "/backoffice/login/2fa/")
    page = client.get("/backoffice/login/2fa/")
    response = client.post(
        "/backoffice/login/2fa/",
        {"token": totp_now(device), "csrfmiddlewaretoken": csrf_token(page.content.decode())},
    )
    assert (response.status_code, response["Location"]) == (302, "/backoffice/")
    return client


def post_form(client: Client, url: str, data: dict):
    page = client.get(url)
    assert page.status_code == 200
    return client.post(url, {**data, "csrfmiddlewaretoken": csrf_token(page.content.decode())})


def test_anonymous_is_sent_to_the_login_page():
    response = Client().get("/backoffice/domains/domain/add/")
    assert response.status_code == 302
    assert response["Location"].startswith("/backoffice/login/")


def test_a_mailbox_login_cannot_enter_the_back_office():
    User.objects.create_user("user@acme.test", password=STAFF_PASSWORD, kind="mailbox")
    client = Client(enforce_csrf_checks=True)
    page = client.get("/backoffice/login/")
    response = client.post(
        "/backoffice/login/",
        {
            "login": "user@acme.test",
            "password": STAFF_PASSWORD,
            "csrfmiddlewaretoken": csrf_token(page.content.decode()),
        },
    )
    assert response.status_code == 403  # the form again, with "This login cannot use this portal."
    assert client.get("/backoffice/").status_code == 302


def test_a_login_post_without_csrf_token_is_refused():
    User.objects.create_superuser("staff", "staff@provider.test", STAFF_PASSWORD)
    client = Client(enforce_csrf_checks=True)
    response = client.post("/backoffice/login/", {"login": "staff", "password": STAFF_PASSWORD})
    assert response.status_code == 403


def test_staff_registers_a_domain_and_the_postmaster_is_created_and_emailed(
    staff_client, django_capture_on_commit_callbacks, mailoutbox
):
    # given an eligible customer
    customer = CustomerFactory(legal_rep_email="legal@acme.test")
    # when staff submit the admin add form
    with django_capture_on_commit_callbacks(execute=True):
        response = post_form(
            staff_client,
            "/backoffice/domains/domain/add/",
            {"customer": customer.pk, "name": "Acme.Test", "_save": "Save"},
        )
    # then the domain exists, with its postmaster, and the credentials went to the legal representative
    assert (response.status_code, response["Location"]) == (302, "/backoffice/domains/domain/")
    domain = Domain.objects.get()
    assert (domain.name, domain.customer_id) == ("acme.test", customer.pk)
    assert list(Mailbox.objects.values_list("local_part", "is_postmaster")) == [("postmaster", True)]
    assert [m.to for m in mailoutbox] == [["legal@acme.test"]]
    entry = AuditEntry.objects.get(action="domain.register")
    assert entry.actor.username == "staff"


def test_admin_add_for_an_ineligible_customer_shows_the_error_and_writes_nothing(staff_client, mailoutbox):
    from decimal import Decimal

    customer = CustomerFactory(site__profile=Decimal("1.0"))
    response = post_form(
        staff_client,
        "/backoffice/domains/domain/add/",
        {"customer": customer.pk, "name": "acme.test", "_save": "Save"},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["customer"]
    assert (Domain.objects.count(), Mailbox.objects.count(), len(mailoutbox)) == (0, 0, 0)


def test_admin_add_with_a_bad_domain_name_shows_the_error_and_writes_nothing(staff_client):
    customer = CustomerFactory()
    users = User.objects.count()
    response = post_form(
        staff_client,
        "/backoffice/domains/domain/add/",
        {"customer": customer.pk, "name": "not a domain", "_save": "Save"},
    )
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["name"]
    assert (Domain.objects.count(), User.objects.count()) == (0, users)


def test_admin_add_of_an_already_registered_domain_shows_the_error_on_name(staff_client):
    DomainFactory(name="taken.test")
    response = post_form(
        staff_client,
        "/backoffice/domains/domain/add/",
        {"customer": CustomerFactory().pk, "name": "taken.test", "_save": "Save"},
    )
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["name"]
    assert Domain.objects.filter(name="taken.test").count() == 1


def test_admin_add_manager_with_another_customers_domain_shows_the_error(staff_client):
    customer = CustomerFactory()
    foreign = DomainFactory(name="foreign.test")
    users = User.objects.count()
    response = post_form(
        staff_client,
        "/backoffice/domains/manager/add/",
        {
            "customer": customer.pk,
            "username": "it.manager",
            "email": "it@acme.test",
            "password": "Manager-Pass-2026",
            "domains": [foreign.pk],
            "_save": "Save",
        },
    )
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["domains"]
    assert "foreign.test" in str(response.context["adminform"].form.errors["domains"])
    assert (Manager.objects.count(), User.objects.count()) == (0, users)
    assert Domain.objects.get(name="foreign.test").manager_id is None


def test_admin_add_manager_with_own_domains(staff_client):
    customer = CustomerFactory()
    domain = DomainFactory(customer=customer, name="own.test")
    response = post_form(
        staff_client,
        "/backoffice/domains/manager/add/",
        {
            "customer": customer.pk,
            "username": "it.manager",
            "email": "it@acme.test",
            "password": "Manager-Pass-2026",
            "domains": [domain.pk],
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    manager = Manager.objects.get()
    assert (manager.user.username, manager.customer_id) == ("it.manager", customer.pk)
    assert list(manager.domains.values_list("name", flat=True)) == ["own.test"]


def test_mailboxes_are_read_only_in_the_back_office(staff_client):
    mailbox = Mailbox.objects.get(domain=DomainFactory())
    assert staff_client.get("/backoffice/domains/mailbox/").status_code == 200
    assert staff_client.get("/backoffice/domains/mailbox/add/").status_code == 403
    page = staff_client.get(f"/backoffice/domains/mailbox/{mailbox.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
