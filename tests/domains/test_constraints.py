"""The rules the DATABASE itself enforces: rows inserted with .objects.create() or raw SQL,
bypassing full_clean() and the services, must be refused with an IntegrityError naming the
constraint. A bug in a form or a service cannot write these rows."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction

from domains.models import Customer, Delegate, Domain, Mailbox, Site
from tests.factories import CustomerFactory, DomainFactory, ManagerFactory

pytestmark = pytest.mark.django_db

User = get_user_model()


def refused(constraint: str):
    """Context: the statement inside must fail in the database on `constraint`."""
    return pytest.raises(IntegrityError, match=constraint)


def login(username: str):
    return User.objects.create(username=username, kind=User.Kind.MAILBOX)


def raw_insert(instance) -> None:
    """INSERT the instance's column values with plain SQL: no Django validation at all."""
    fields = [f for f in instance._meta.concrete_fields if not f.primary_key]
    values = [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {instance._meta.db_table} ({columns}) VALUES ({', '.join(['%s'] * len(values))})",  # noqa: S608
            values,
        )


def insert_mailbox(domain: Domain, local_part: str, **fields) -> Mailbox:
    with transaction.atomic():
        return Mailbox.objects.create(
            domain=domain, local_part=local_part, user=login(f"{local_part}@{domain.name}"), **fields
        )


# --- Domain -----------------------------------------------------------------------------------


def test_uppercase_domain_name_is_refused_by_the_database():
    # given an eligible customer
    customer = CustomerFactory()
    # when a domain row with capitals is inserted directly, then a CHECK refuses it (the
    # lower-case one, or the FQDN pattern, which is lower-case only; PostgreSQL picks the order)
    with refused("domain_name_lowercase|domain_name_fqdn"), transaction.atomic():
        Domain.objects.create(customer=customer, name="Example.COM")
    assert Domain.objects.count() == 0


@pytest.mark.parametrize(
    "name", ["localhost", "exa mple.com", "-bad.example", "example.123", "a..b.com", "ex_ample.com"]
)
def test_invalid_fqdn_is_refused_by_the_database(name):
    customer = CustomerFactory()
    with refused("domain_name_fqdn"), transaction.atomic():
        Domain.objects.create(customer=customer, name=name)
    assert Domain.objects.filter(name=name).exists() is False


def test_duplicate_domain_name_is_refused_by_raw_sql():
    # given a registered domain
    domain = DomainFactory(name="dup.test")
    # when the same name is inserted with raw SQL
    with refused("domains_domain_name_key"), transaction.atomic():
        raw_insert(Domain(customer_id=domain.customer_id, name="dup.test"))
    assert Domain.objects.filter(name="dup.test").count() == 1


# --- Mailbox ----------------------------------------------------------------------------------


def test_duplicate_local_part_in_a_domain_is_refused_by_the_database():
    domain = DomainFactory()
    insert_mailbox(domain, "mario")
    with refused("mailbox_unique_per_domain"), transaction.atomic():
        Mailbox.objects.create(domain=domain, local_part="mario", user=login("other-login"))
    assert Mailbox.objects.filter(domain=domain, local_part="mario").count() == 1


def test_same_local_part_in_two_domains_is_allowed():
    first, second = DomainFactory(), DomainFactory()
    insert_mailbox(first, "info")
    insert_mailbox(second, "info")
    assert Mailbox.objects.filter(local_part="info").count() == 2


def test_second_postmaster_in_a_domain_is_refused_by_the_database():
    # given a registered domain, which already has its postmaster
    domain = DomainFactory()
    # when a second postmaster row is inserted with raw SQL
    with refused("mailbox_one_postmaster_per_domain|mailbox_unique_per_domain"), transaction.atomic():
        user = login(f"second-postmaster@{domain.name}")
        raw_insert(Mailbox(domain=domain, local_part="postmaster", user=user, is_postmaster=True))
    # then there is still exactly one
    assert Mailbox.objects.filter(domain=domain, is_postmaster=True).count() == 1


def test_postmaster_flag_on_another_address_is_refused_by_the_database():
    domain = DomainFactory()
    Mailbox.objects.filter(domain=domain).delete()  # free the one-postmaster slot
    with refused("mailbox_postmaster_is_postmaster_address"):
        insert_mailbox(domain, "boss", is_postmaster=True)
    assert Mailbox.objects.filter(domain=domain, local_part="boss").exists() is False


def test_quota_tier_9_is_refused_by_the_database():
    domain = DomainFactory()
    with refused("mailbox_quota_tier_valid"):
        insert_mailbox(domain, "big", quota_tier=9)
    assert Mailbox.objects.filter(local_part="big").exists() is False


def test_send_limit_300_is_refused_by_the_database():
    domain = DomainFactory()
    with refused("mailbox_send_limit_valid"):
        insert_mailbox(domain, "sender", send_limit=300)
    assert Mailbox.objects.filter(local_part="sender").exists() is False


@pytest.mark.parametrize("local_part", ["a..b", ".a", "a.", "with space", "a@b", "", "è"])
def test_invalid_local_part_is_refused_by_the_database(local_part):
    domain = DomainFactory()
    with refused("mailbox_local_part_dot_atom"):
        insert_mailbox(domain, local_part)
    assert Mailbox.objects.filter(domain=domain).count() == 1  # only the postmaster


def test_uppercase_local_part_is_refused_by_the_database():
    domain = DomainFactory()
    with refused("mailbox_local_part_lowercase|mailbox_local_part_dot_atom"):
        insert_mailbox(domain, "Mario.Rossi")


@pytest.mark.parametrize("local_part", ["a.b", "mario_rossi", "x+tag", "o'brien", "1"])
def test_valid_dot_atom_local_parts_are_accepted(local_part):
    domain = DomainFactory()
    assert insert_mailbox(domain, local_part).local_part == local_part


# --- Site and customer ------------------------------------------------------------------------


def test_negative_voice_channels_are_refused_by_the_database():
    customer = CustomerFactory(site=False)
    # (PositiveIntegerField's own CHECK and ours both refuse it)
    with refused("site_voice_channels_non_negative|domains_site_voice_channels_check"), transaction.atomic():
        Site.objects.create(customer=customer, name="Bad", profile="2.0", voice_channels=-1)
    assert customer.sites.count() == 0


def test_profile_zero_is_refused_by_the_database():
    customer = CustomerFactory(site=False)
    with refused("site_profile_positive"), transaction.atomic():
        Site.objects.create(customer=customer, name="Zero", profile="0.0", voice_channels=1)
    assert customer.sites.count() == 0


def test_empty_vat_number_is_refused_by_the_database():
    with refused("customer_vat_number_not_empty"), transaction.atomic():
        Customer.objects.create(
            company_name="X", vat_number="", legal_rep_name="R", legal_rep_email="r@x.test"
        )


# --- Manager and Delegate ---------------------------------------------------------------------


def test_manager_of_another_customer_on_a_domain_is_refused_by_the_database():
    # given a domain of customer A and a Manager of customer B
    domain = DomainFactory()
    other_manager = ManagerFactory()
    assert other_manager.customer_id != domain.customer_id
    # when the domain is pointed at B's Manager directly (the check is deferred: force it now)
    with refused("domain_manager_same_customer"), transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SET CONSTRAINTS domain_manager_same_customer IMMEDIATE")
        Domain.objects.filter(pk=domain.pk).update(manager=other_manager)
    domain.refresh_from_db()
    assert domain.manager_id is None


@pytest.mark.django_db(transaction=True)
def test_manager_of_another_customer_is_refused_at_commit():
    domain = DomainFactory()
    other_manager = ManagerFactory()
    with refused("domain_manager_same_customer"), transaction.atomic():
        Domain.objects.filter(pk=domain.pk).update(manager=other_manager)
    assert Domain.objects.get(pk=domain.pk).manager_id is None


def test_manager_of_the_same_customer_is_accepted_by_the_database():
    domain = DomainFactory()
    manager = ManagerFactory(customer=domain.customer)
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SET CONSTRAINTS domain_manager_same_customer IMMEDIATE")
        Domain.objects.filter(pk=domain.pk).update(manager=manager)
    assert Domain.objects.get(pk=domain.pk).manager_id == manager.pk


def test_delegate_window_reversed_is_refused_by_the_database():
    manager = ManagerFactory()
    user = User.objects.create(username="delegate.one", kind=User.Kind.DELEGATE)
    with refused("delegate_window_ordered"), transaction.atomic():
        Delegate.objects.create(
            user=user,
            manager=manager,
            name="Auditor",
            email="a@x.test",
            expires_on=datetime.date(2027, 1, 1),
            window_start=datetime.date(2026, 6, 1),
            window_end=datetime.date(2026, 1, 1),
        )
    assert Delegate.objects.count() == 0


def test_user_login_is_unique_ignoring_case():
    User.objects.create(username="Mario@acme.test")
    with refused("accounts_user_username_ci_unique"), transaction.atomic():
        User.objects.create(username="mario@ACME.test")
