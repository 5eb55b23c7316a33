import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from core.models import AuditEntry
from domains.models import Domain, Manager
from domains.services import manager_create, manager_set_domains
from tests.factories import MANAGER_PASSWORD, CustomerFactory, DomainFactory, ManagerFactory

pytestmark = pytest.mark.django_db

User = get_user_model()


def manager_of(*names: str) -> list:
    return list(
        Domain.objects.filter(name__in=names).order_by("name").values_list("name", "manager__user__username")
    )


def test_create_manager_with_the_customers_domains():
    # given a customer with two domains
    customer = CustomerFactory()
    a, b = DomainFactory(customer=customer, name="a.test"), DomainFactory(customer=customer, name="b.test")
    # when a Manager is created for both
    manager = manager_create(
        customer=customer,
        username="IT.Manager",
        password=MANAGER_PASSWORD,
        email="IT@Acme.test",
        domains=[b, a],
    )
    # then the login is lower-case, of kind manager, and both domains point at it
    assert (manager.user.username, manager.user.email, manager.user.kind) == (
        "it.manager",
        "it@acme.test",
        "manager",
    )
    assert manager.user.check_password(MANAGER_PASSWORD) is True
    assert manager_of("a.test", "b.test") == [("a.test", "it.manager"), ("b.test", "it.manager")]
    entry = AuditEntry.objects.get(action="manager.create")
    assert (entry.customer_id, entry.target, entry.after) == (
        customer.pk,
        "it.manager",
        {"domains": ["a.test", "b.test"]},
    )


def test_create_with_another_customers_domain_is_refused_and_writes_nothing():
    customer = CustomerFactory()
    foreign = DomainFactory(name="foreign.test")
    users_before = User.objects.count()
    with pytest.raises(ValidationError) as exc:
        manager_create(customer=customer, username="m1", password=MANAGER_PASSWORD, domains=[foreign])
    assert list(exc.value.message_dict) == ["domains"]
    assert "foreign.test" in exc.value.message_dict["domains"][0]
    assert (Manager.objects.count(), User.objects.count()) == (0, users_before)
    assert manager_of("foreign.test") == [("foreign.test", None)]


def test_second_manager_for_a_domain_is_refused():
    domain = DomainFactory(name="taken.test")
    first = ManagerFactory(customer=domain.customer, domains=[domain])
    with pytest.raises(ValidationError) as exc:
        manager_create(customer=domain.customer, username="m2", password=MANAGER_PASSWORD, domains=[domain])
    assert list(exc.value.message_dict) == ["domains"]
    assert "taken.test" in exc.value.message_dict["domains"][0]
    assert Manager.objects.count() == 1
    assert manager_of("taken.test") == [("taken.test", first.user.username)]


def test_duplicate_login_is_refused_on_username():
    ManagerFactory(username="boss")
    with pytest.raises(ValidationError) as exc:
        manager_create(customer=CustomerFactory(), username="BOSS", password=MANAGER_PASSWORD)
    assert list(exc.value.message_dict) == ["username"]
    assert Manager.objects.count() == 1


def test_weak_password_is_refused_on_password():
    with pytest.raises(ValidationError) as exc:
        manager_create(customer=CustomerFactory(), username="m3", password="abc")
    assert list(exc.value.message_dict) == ["password"]
    assert User.objects.filter(username="m3").exists() is False


def test_set_domains_moves_domains_and_audits_before_and_after():
    # given a Manager with a.test and b.test, and a free c.test of the same customer
    customer = CustomerFactory()
    a, b, c = (DomainFactory(customer=customer, name=f"{x}.test") for x in "abc")
    manager = ManagerFactory(customer=customer, domains=[a, b])
    # when its domains become b.test and c.test
    manager_set_domains(manager=manager, domains=[c, b])
    # then a.test is free, b.test and c.test are its own
    assert manager_of("a.test", "b.test", "c.test") == [
        ("a.test", None),
        ("b.test", manager.user.username),
        ("c.test", manager.user.username),
    ]
    entry = AuditEntry.objects.get(action="manager.domains")
    assert (entry.before, entry.after) == (
        {"domains": ["a.test", "b.test"]},
        {"domains": ["b.test", "c.test"]},
    )


def test_set_domains_with_another_customers_domain_is_refused_and_changes_nothing():
    customer = CustomerFactory()
    own = DomainFactory(customer=customer, name="own.test")
    foreign = DomainFactory(name="foreign.test")
    manager = ManagerFactory(customer=customer, domains=[own])
    with pytest.raises(ValidationError) as exc:
        manager_set_domains(manager=manager, domains=[foreign])
    assert list(exc.value.message_dict) == ["domains"]
    assert manager_of("foreign.test", "own.test") == [
        ("foreign.test", None),
        ("own.test", manager.user.username),
    ]
    assert AuditEntry.objects.filter(action="manager.domains").count() == 0


def test_set_domains_cannot_take_a_domain_of_another_manager():
    customer = CustomerFactory()
    domain = DomainFactory(customer=customer, name="shared.test")
    first = ManagerFactory(customer=customer, domains=[domain])
    second = ManagerFactory(customer=customer)
    with pytest.raises(ValidationError) as exc:
        manager_set_domains(manager=second, domains=[domain])
    assert list(exc.value.message_dict) == ["domains"]
    assert manager_of("shared.test") == [("shared.test", first.user.username)]


def test_set_domains_to_empty_frees_every_domain():
    customer = CustomerFactory()
    domain = DomainFactory(customer=customer, name="free.test")
    manager = ManagerFactory(customer=customer, domains=[domain])
    manager_set_domains(manager=manager, domains=[])
    assert manager_of("free.test") == [("free.test", None)]
