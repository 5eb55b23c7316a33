"""The Addresses pages of the control panel: four clients on every URL (nothing leaks, nothing
changes), and the right admins (Postmaster and Manager) create, change and delete aliases,
lists, forwarders and the catch-all; a loop is refused on the form."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from core.models import AuditEntry
from domains import services
from domains.models import Address, AddressTarget
from tests.factories import MailboxFactory
from tests.panel.conftest import panel_client

pytestmark = pytest.mark.django_db


def registry() -> list:
    return [
        list(Address.objects.order_by("pk").values_list("pk", "local_part", "kind", "posting", "owner_id")),
        list(AddressTarget.objects.order_by("pk").values_list("address_id", "target_id", "external")),
        AuditEntry.objects.count(),
    ]


@pytest.fixture
def anna(world):
    return MailboxFactory(domain=world.domain, local_part="anna")


@pytest.fixture
def sales(world, anna):
    return services.address_create(
        domain=world.domain,
        kind="alias",
        local_part="sales",
        targets=[anna.registry_entry],
        description="Secret sales team",
    )


def urls(world, sales):
    name = world.domain.name
    return {
        "addresses": reverse("mailadmin:addresses", args=[name]),
        "address_create": reverse("mailadmin:address_create", args=[name]) + "?kind=alias",
        "address_edit": reverse("mailadmin:address_edit", args=[name, sales.pk]),
        "address_delete": reverse("mailadmin:address_delete", args=[name, sales.pk]),
    }


def test_every_address_url_refuses_outsiders(world, sales, anna):
    outsiders = {
        "anonymous": Client(),
        "other customer's postmaster": panel_client(world.foreign_postmaster.user),
        "same customer, no rights": panel_client(world.sibling_postmaster.user),
        "plain mailbox of the domain": panel_client(anna.user),
    }
    post = {
        "kind": "alias",
        "local_part": "intruder",
        "targets": [anna.registry_entry.pk],
        "posting": "anyone",
    }
    before = registry()
    for url_name, url in urls(world, sales).items():
        for who, client in outsiders.items():
            for method in ("get", "post"):
                response = getattr(client, method)(url, post)
                if who == "anonymous":
                    assert response.status_code == 302, (url_name, who, method)
                    assert response["Location"].startswith("/mailadmin/login/?next="), (url_name, who, method)
                elif who == "plain mailbox of the domain":
                    # a mailbox that administers nothing is not let into the panel at all
                    assert response.status_code in (302, 403, 404), (url_name, who, method)
                else:
                    assert response.status_code == 404, (url_name, who, method)
                body = response.content.decode()
                assert "sales@acme.test" not in body and "Secret sales team" not in body, (url_name, who)
    assert registry() == before


@pytest.mark.parametrize("who", ["manager", "postmaster"])
def test_the_right_admins_see_every_address_page(world, sales, who, manager_client, postmaster_client):
    client = manager_client if who == "manager" else postmaster_client
    for url_name, url in urls(world, sales).items():
        response = client.get(url)
        assert response.status_code == 200, url_name
    body = client.get(urls(world, sales)["addresses"]).content.decode()
    assert "sales@acme.test" in body and "anna@acme.test" in body and "Secret sales team" in body


def test_postmaster_creates_an_alias_a_list_a_forwarder_and_a_catch_all(world, anna, postmaster_client):
    url = reverse("mailadmin:address_create", args=[world.domain.name])
    target = anna.registry_entry.pk
    # when the Postmaster posts each kind
    cases = [
        {"kind": "alias", "local_part": "Info", "targets": [target]},
        {"kind": "list", "local_part": "team", "targets": [target], "posting": "members"},
        {
            "kind": "forwarder",
            "local_part": "fwd",
            "external": "a@example.org\nb@example.org",
            "owner": anna.pk,
        },
        {"kind": "catchall", "targets": [target]},
    ]
    for data in cases:
        response = postmaster_client.post(url, data)
        assert response.status_code == 302, (data, response.content.decode()[-2000:])
    # then the registry holds them, one thing each, and nothing is billed as a mailbox
    rows = dict(Address.objects.filter(domain=world.domain).values_list("local_part", "kind"))
    assert rows == {
        "postmaster": "mailbox",
        "anna": "mailbox",
        "info": "alias",
        "team": "list",
        "fwd": "forwarder",
        "": "alias",
    }
    team = Address.objects.get(domain=world.domain, local_part="team")
    assert team.posting == "members"
    fwd = Address.objects.get(domain=world.domain, local_part="fwd")
    assert fwd.owner == anna
    assert sorted(fwd.targets.values_list("external", flat=True)) == ["a@example.org", "b@example.org"]
    assert AuditEntry.objects.filter(action__startswith="address.create").count() == 4


def test_an_address_taken_by_a_mailbox_is_refused_on_the_form(world, anna, manager_client):
    url = reverse("mailadmin:address_create", args=[world.domain.name])
    response = manager_client.post(
        url, {"kind": "alias", "local_part": "anna", "targets": [anna.registry_entry.pk]}
    )
    assert response.status_code == 400
    with translation.override("it"):
        assert translation.gettext("This address already exists.") in response.content.decode()


def test_a_loop_is_refused_on_the_form(world, anna, sales, manager_client):
    # given sales → anna and a second alias team → sales
    team = services.address_create(domain=world.domain, kind="alias", local_part="team", targets=[sales])
    before = registry()
    # when the Manager points sales at team
    url = reverse("mailadmin:address_edit", args=[world.domain.name, sales.pk])
    response = manager_client.post(url, {"targets": [team.pk], "posting": "anyone"})
    # then the form says why and nothing changed
    assert response.status_code == 400
    assert 'class="field has-error"' in response.content.decode()
    assert registry() == before


def test_another_customers_mailbox_cannot_be_a_target(world, sales, manager_client):
    foreign = MailboxFactory(domain=world.foreign, local_part="spy")
    url = reverse("mailadmin:address_edit", args=[world.domain.name, sales.pk])
    before = registry()
    response = manager_client.post(url, {"targets": [foreign.registry_entry.pk], "posting": "anyone"})
    assert response.status_code == 400  # not among the choices
    assert registry() == before


def test_delete_removes_the_alias_only(world, anna, sales, postmaster_client):
    url = reverse("mailadmin:address_delete", args=[world.domain.name, sales.pk])
    assert postmaster_client.post(url).status_code == 302
    assert not Address.objects.filter(pk=sales.pk).exists()
    assert Address.objects.filter(mailbox=anna).exists()
