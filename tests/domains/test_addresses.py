"""Aliases, lists, forwarders, catch-all and domain aliases in the domain layer: the registry
makes an address one thing only in the database (also under concurrent creation), a name is a
domain or a domain alias, loops are refused at save time and detected at expansion, a mailbox
reached twice is one final recipient, and a mailbox may send as what it receives."""

import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from domains import addresses, services
from domains.models import Address, AddressTarget, Domain, DomainAlias, Mailbox
from mta import routing
from tests.factories import CustomerFactory, DomainFactory, MailboxFactory


def refused(constraint: str):
    return pytest.raises(IntegrityError, match=constraint)


@pytest.fixture
def acme(db):
    return DomainFactory(name="acme.test")


@pytest.fixture
def anna(acme):
    return MailboxFactory(domain=acme, local_part="anna")


@pytest.fixture
def bob(acme):
    return MailboxFactory(domain=acme, local_part="bob")


def alias(domain, local_part, *targets, kind="alias", **kwargs):
    return services.address_create(
        domain=domain,
        kind=kind,
        local_part=local_part,
        targets=[t.registry_entry if isinstance(t, Mailbox) else t for t in targets],
        **kwargs,
    )


def test_a_mailbox_gets_its_registry_row_from_the_database(anna):
    row = Address.objects.get(mailbox=anna)
    assert (row.domain_id, row.local_part, row.kind) == (anna.domain_id, "anna", "mailbox")


def test_an_alias_with_a_mailboxs_address_is_refused_by_the_database(acme, anna):
    with refused("address_unique_per_domain"), transaction.atomic():
        Address.objects.create(domain=acme, local_part="anna", kind="alias")


def test_a_mailbox_with_an_alias_address_is_refused_by_the_database_and_the_service(acme, anna):
    alias(acme, "sales", anna)
    # raw row: the trigger's insert into the registry fails
    with refused("address_unique_per_domain"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO domains_mailbox (domain_id, local_part, user_id, first_name, last_name,"
                " quota_tier, send_limit, is_postmaster, is_active, require_2fa, created_at, updated_at)"
                " VALUES (%s, 'sales', %s, '', '', 8, 250, false, true, false, now(), now())",
                [acme.pk, get_user_model().objects.create(username="sales@acme.test", kind="mailbox").pk],
            )
    # the service says it on the field
    with pytest.raises(ValidationError) as exc:
        services.mailbox_create(domain=acme, local_part="sales", password="Some-Long-Pass-2026")
    assert "local_part" in exc.value.message_dict


def test_one_catch_all_per_domain_and_only_an_alias(acme, anna, bob):
    services.address_create(
        domain=acme, kind="alias", local_part="", catch_all=True, targets=[anna.registry_entry]
    )
    with pytest.raises(ValidationError):
        services.address_create(
            domain=acme, kind="alias", local_part="", catch_all=True, targets=[bob.registry_entry]
        )
    with refused("address_unique_per_domain"), transaction.atomic():
        Address.objects.create(domain=acme, local_part="", kind="alias")
    acme2 = DomainFactory(name="acme2.test")
    with refused("address_catch_all_is_an_alias"), transaction.atomic():
        Address.objects.create(domain=acme2, local_part="", kind="list")


def test_target_rows_are_checked_by_the_database(acme, anna):
    sales = alias(acme, "sales", anna)
    with refused("address_target_not_itself"), transaction.atomic():
        AddressTarget.objects.create(address=sales, target=sales)
    with refused("address_target_one_kind"), transaction.atomic():
        AddressTarget.objects.create(address=sales, target=anna.registry_entry, external="x@example.org")
    with refused("address_owner_iff_forwarder"), transaction.atomic():
        Address.objects.create(domain=acme, local_part="fwd", kind="forwarder")


@pytest.mark.django_db(transaction=True)
def test_concurrent_mailbox_and_alias_of_one_address_one_wins():
    # given an alias row inserted and not yet committed by one transaction
    domain = DomainFactory(name="race.test")
    anna = MailboxFactory(domain=domain, local_part="anna")
    inserted, results = threading.Event(), {}

    def create_alias():
        try:
            with transaction.atomic():
                Address.objects.create(domain_id=domain.pk, local_part="x", kind="alias")
                inserted.set()
                time.sleep(0.5)
            results["alias"] = "ok"
        finally:
            connection.close()

    def create_mailbox():
        inserted.wait(5)
        started = time.monotonic()
        try:
            services.mailbox_create(domain=domain, local_part="x", password="Some-Long-Pass-2026")
            results["mailbox"] = "ok"
        except ValidationError as exc:
            results["mailbox"] = exc.message_dict
        finally:
            results["waited"] = time.monotonic() - started
            connection.close()

    threads = [threading.Thread(target=create_alias), threading.Thread(target=create_mailbox)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    # then the mailbox waited for the alias to commit and was refused on its address
    assert results["alias"] == "ok"
    assert "local_part" in results["mailbox"], results
    assert results["waited"] > 0.3
    assert list(
        Address.objects.filter(domain=domain).order_by("local_part").values_list("local_part", "kind")
    ) == [
        ("anna", "mailbox"),
        ("postmaster", "mailbox"),
        ("x", "alias"),
    ]
    assert not Mailbox.objects.filter(domain=domain, local_part="x").exists()
    del anna


@pytest.mark.django_db(transaction=True)
def test_a_name_is_a_domain_or_a_domain_alias_even_concurrently():
    acme = DomainFactory(name="acme-main.test")
    with refused("acme-main.test is already a domain"), transaction.atomic():
        DomainAlias.objects.create(name="acme-main.test", domain=acme)
    inserted, results = threading.Event(), {}
    customer_id = acme.customer_id

    def insert_domain():
        try:
            with transaction.atomic():
                Domain.objects.create(name="dup.test", customer_id=customer_id)
                inserted.set()
                time.sleep(0.5)
        finally:
            connection.close()

    def insert_alias():
        inserted.wait(5)
        try:
            with transaction.atomic():
                DomainAlias.objects.create(name="dup.test", domain_id=acme.pk)
            results["alias"] = "ok"
        except IntegrityError as exc:
            results["alias"] = str(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=insert_domain), threading.Thread(target=insert_alias)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert "dup.test is already a domain" in results["alias"]
    assert not DomainAlias.objects.filter(name="dup.test").exists()


def test_a_loop_is_refused_at_save_time(acme, anna):
    sales = alias(acme, "sales", anna)
    team = alias(acme, "team", sales)
    with pytest.raises(ValidationError) as exc:
        services.address_update(address=sales, targets=[team])
    assert "targets" in exc.value.message_dict
    assert list(sales.targets.values_list("target_id", flat=True)) == [anna.registry_entry.pk]


def test_a_loop_written_behind_the_services_back_is_detected_at_expansion(acme, anna):
    sales = alias(acme, "sales", anna)
    team = alias(acme, "team", sales)
    AddressTarget.objects.create(address=sales, target=team)  # raw: no check
    result = addresses.expand(addresses.nodes([sales.pk])[sales.pk])
    assert result.error == addresses.LOOP
    route = routing.resolve("sales@acme.test")
    expanded = routing.expand_route(route, poster=None, rcpt="sales@acme.test")
    assert expanded.reply.startswith("550 5.4.6")


def test_expansion_dedupes_and_limits_depth_and_size(acme, anna, bob, settings):
    sales = alias(acme, "sales", anna, bob)
    everyone = alias(acme, "everyone", sales, anna, kind="list")
    result = addresses.expand(addresses.nodes([everyone.pk])[everyone.pk])
    assert [m.address for m in result.mailboxes] == ["anna@acme.test", "bob@acme.test"]
    assert result.members[everyone.pk] == frozenset({anna.pk, bob.pk})
    # a chain of 3 aliases above `sales`
    top = sales
    for n in range(3):
        top = alias(acme, f"chain{n}", top)
    assert addresses.expand(addresses.nodes([top.pk])[top.pk], max_depth=3).error == addresses.TOO_DEEP
    assert addresses.expand(addresses.nodes([top.pk])[top.pk], max_depth=4).error == ""
    assert addresses.expand(addresses.nodes([sales.pk])[sales.pk], max_size=1).error == addresses.TOO_MANY


def test_targets_must_belong_to_the_same_customer(acme, anna):
    foreign = MailboxFactory(
        domain=DomainFactory(customer=CustomerFactory(), name="foreign.test"), local_part="x"
    )
    with pytest.raises(ValidationError) as exc:
        alias(acme, "sales", foreign)
    assert "targets" in exc.value.message_dict


def test_forwarders_send_only_outside_and_need_a_mailbox_of_the_domain(acme, anna):
    with pytest.raises(ValidationError) as exc:
        services.address_create(
            domain=acme, kind="forwarder", local_part="f", externals=["x@acme.test"], owner=anna
        )
    assert "external" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.address_create(domain=acme, kind="forwarder", local_part="f", externals=["x@example.org"])
    assert "owner" in exc.value.message_dict
    fwd = services.address_create(
        domain=acme,
        kind="forwarder",
        local_part="f",
        externals=["X@Example.ORG", "x@example.org"],
        owner=anna,
    )
    assert list(fwd.targets.values_list("external", flat=True)) == ["X@example.org"]


def test_domain_alias_resolves_as_the_domain_and_sends_as(acme, anna):
    services.domain_alias_create(domain=acme, name="Alias.TEST.")
    sales = alias(acme, "sales", anna)
    route = routing.resolve("Anna@alias.test")
    assert (route.kind, route.address, route.mailbox_id) == (routing.Kind.LOCAL, "anna@acme.test", anna.pk)
    assert routing.resolve("sales@alias.test").address_id == sales.pk
    with pytest.raises(ValidationError):
        services.domain_alias_create(domain=acme, name="acme.test")
    sender = routing.sender_for(anna.pk)
    assert routing.addresses_a_mailbox_may_send_as(sender) == {
        "anna@acme.test",
        "anna@alias.test",
        "sales@acme.test",
        "sales@alias.test",
    }


def test_catch_all_takes_unknown_addresses_only(acme, anna, bob):
    services.address_create(
        domain=acme, kind="alias", local_part="", catch_all=True, targets=[anna.registry_entry]
    )
    assert routing.resolve("bob@acme.test").mailbox_id == bob.pk
    route = routing.resolve("nobody@acme.test")
    assert route.kind == routing.Kind.ADDRESS
    expanded = routing.expand_route(route, poster=None, rcpt="nobody@acme.test")
    assert [r.address for r in expanded.routes] == ["anna@acme.test"]


def test_addresses_are_free_and_not_counted_as_mailboxes(acme, anna):
    from billing.models import LedgerEvent
    from billing.selectors import customer_usage

    usage, ledger = customer_usage(acme.customer_id), LedgerEvent.objects.count()
    sales = alias(acme, "sales", anna)
    alias(acme, "team", sales, kind="list")
    services.address_create(
        domain=acme, kind="forwarder", local_part="f", externals=["x@example.org"], owner=anna
    )
    services.address_create(
        domain=acme, kind="alias", local_part="", catch_all=True, targets=[anna.registry_entry]
    )
    services.domain_alias_create(domain=acme, name="acme-other.test")
    assert customer_usage(acme.customer_id) == usage
    assert LedgerEvent.objects.count() == ledger
