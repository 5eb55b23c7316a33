"""Every priced change writes one ledger event in its own transaction; a rollback leaves none.

Customer: one site, profile 2.0, 1 channel = 6 mailboxes included; its domain's postmaster is
mailbox 1. Prices: tests/billing/conftest.py.
"""

from decimal import Decimal

import pytest
from django.db import transaction

from archiving.models import Archive
from archiving.services import archive_attach, archive_remove, archive_remove_orphan
from billing.models import BilledArchive, LedgerEvent
from billing.selectors import customer_usage
from billing.services import NotInTransaction, charge_intervention, charge_mailbox_created
from domains import services
from domains.models import Mailbox
from tests.factories import CustomerFactory, DomainFactory, MailboxFactory

D = Decimal


@pytest.fixture
def domain(price_list, django_user_model):
    customer = CustomerFactory(site__voice_channels=1)  # 6 included
    return DomainFactory(customer=customer, name="ledger.test")


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(username="staff-ledger", password="x", is_staff=True)  # noqa: S106


def events(domain):
    return list(LedgerEvent.objects.filter(customer=domain.customer).order_by("at", "id"))


def fill_included(domain):
    """Postmaster + 5 = the 6 included mailboxes."""
    return [MailboxFactory(domain=domain, local_part=f"inc{i}") for i in range(5)]


@pytest.mark.django_db
def test_domain_registration_records_the_postmaster_as_a_free_mailbox(domain):
    [event] = events(domain)
    assert (
        event.kind,
        event.target,
        event.monthly_total_before,
        event.monthly_total_after,
        event.monthly_delta,
    ) == ("mailbox_created", "postmaster@ledger.test", D("0.00"), D("0.00"), D("0.00"))


@pytest.mark.django_db
def test_mailbox_beyond_the_included_count_costs_the_extra_fee(domain, staff):
    fill_included(domain)

    services.mailbox_create(domain=domain, local_part="seventh", password="Seventh-Pass-2026", actor=staff)

    last = events(domain)[-1]
    assert (last.kind, last.target, last.actor, last.actor_label) == (
        "mailbox_created",
        "seventh@ledger.test",
        staff,
        "staff-ledger",
    )
    assert (last.monthly_total_before, last.monthly_total_after, last.monthly_delta) == (
        D("0.00"),
        D("2.50"),
        D("2.50"),
    )
    assert last.price_list is not None and last.domain == domain and last.domain_name == "ledger.test"
    assert len(events(domain)) == 7


@pytest.mark.django_db
def test_mailbox_created_on_paid_tiers_costs_the_tiers_too(domain):
    fill_included(domain)

    services.mailbox_create(
        domain=domain, local_part="big", password="Big-Mailbox-2026", quota_tier=50, send_limit=5000
    )

    last = events(domain)[-1]
    assert (last.monthly_total_before, last.monthly_total_after) == (D("0.00"), D("15.50"))  # 2.50 + 5 + 8
    assert last.after == "50 GB, 5000/d"


@pytest.mark.django_db
def test_quota_and_send_limit_change_write_one_chained_event_each(domain, staff):
    mailbox = MailboxFactory(domain=domain, local_part="tiers")

    services.mailbox_update(mailbox=mailbox, quota_tier=25, send_limit=2000, actor=staff)

    quota, send = events(domain)[-2:]
    assert (quota.kind, quota.before, quota.after, quota.monthly_total_before, quota.monthly_total_after) == (
        "quota_changed",
        "8 GB",
        "25 GB",
        D("0.00"),
        D("3.00"),
    )
    assert (send.kind, send.before, send.after, send.monthly_total_before, send.monthly_total_after) == (
        "send_limit_changed",
        "250/d",
        "2000/d",
        D("3.00"),
        D("7.00"),
    )


@pytest.mark.django_db
def test_free_send_limit_change_is_recorded_with_zero_amount(domain):
    mailbox = MailboxFactory(domain=domain, local_part="free")

    services.mailbox_update(mailbox=mailbox, send_limit=1000)

    last = events(domain)[-1]
    assert (last.kind, last.before, last.after, last.monthly_delta) == (
        "send_limit_changed",
        "250/d",
        "1000/d",
        D("0.00"),
    )


@pytest.mark.django_db
def test_change_of_personal_data_writes_no_event(domain):
    mailbox = MailboxFactory(domain=domain, local_part="name")
    count = len(events(domain))

    services.mailbox_update(mailbox=mailbox, first_name="Giulia")

    assert len(events(domain)) == count


@pytest.mark.django_db
def test_deleting_an_extra_mailbox_with_archive_keeps_billing_the_archive_until_the_manager_removes_it(
    domain, staff
):
    fill_included(domain)
    extra = MailboxFactory(domain=domain, local_part="extra", quota_tier=100)
    archive_attach(mailbox=extra, retention_years=5, actor=staff)
    assert events(domain)[-1].monthly_total_after == D("13.00")  # 2.50 + 9.00 + 1.50

    services.mailbox_delete(mailbox=extra, actor=staff)

    # the mailbox's own fees stop; its archive, kept, stays billed
    last = events(domain)[-1]
    assert (
        last.kind,
        last.before,
        last.after,
        last.monthly_total_before,
        last.monthly_total_after,
        last.monthly_delta,
    ) == (
        "mailbox_deleted",
        "100 GB, 250/d, archive",
        "archive of a deleted mailbox",
        D("13.00"),
        D("1.50"),
        D("-11.50"),
    )
    billed = BilledArchive.objects.get()
    assert (billed.mailbox_id, billed.mailbox_key, billed.address) == (None, extra.pk, "extra@ledger.test")
    usage = customer_usage(domain.customer_id)
    assert (usage.archives, usage.deleted_archives) == (0, 1)

    # the Manager removes it: its charge stops at once
    archive_remove_orphan(
        archive=Archive.objects.get(mailbox_key=extra.pk), confirm_address="extra@ledger.test", actor=staff
    )

    last = events(domain)[-1]
    assert (
        last.kind,
        last.target,
        last.before,
        last.monthly_total_before,
        last.monthly_total_after,
        last.actor_id,
    ) == (
        "archive_removed",
        "extra@ledger.test",
        "archive of a deleted mailbox",
        D("1.50"),
        D("0.00"),
        staff.pk,
    )
    assert BilledArchive.objects.count() == 0


@pytest.mark.django_db
def test_archive_attach_and_remove_through_the_archive_services(domain, staff):
    mailbox = MailboxFactory(domain=domain, local_part="arc")

    archive_attach(mailbox=mailbox, retention_years=3, actor=staff)
    archive_remove(mailbox=mailbox, confirm_address=mailbox.address, actor=staff)

    attached, removed = events(domain)[-2:]
    assert (attached.kind, attached.monthly_total_before, attached.monthly_total_after) == (
        "archive_attached",
        D("0.00"),
        D("1.50"),
    )
    assert (removed.kind, removed.monthly_total_before, removed.monthly_total_after) == (
        "archive_removed",
        D("1.50"),
        D("0.00"),
    )


@pytest.mark.django_db
def test_intervention_is_one_off_and_leaves_the_monthly_total(domain, staff):
    mailbox = MailboxFactory(domain=domain, local_part="restore", quota_tier=25)

    with transaction.atomic():
        restore = charge_intervention(
            kind="timemachine_restore", mailbox=mailbox, actor=staff, description="2026-11-20"
        )
    with transaction.atomic():
        other = charge_intervention(kind="other", domain=domain, actor=staff, description="DNS migration")

    assert (
        restore.kind,
        restore.intervention,
        restore.one_off_amount,
        restore.monthly_total_before,
        restore.monthly_total_after,
    ) == ("intervention", "timemachine_restore", D("50.00"), D("3.00"), D("3.00"))
    assert (other.target, other.one_off_amount, other.monthly_delta) == ("ledger.test", D("80.00"), D("0.00"))


# --- real commits and rollbacks: transactional database ----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_charge_outside_a_transaction_is_refused(price_list):
    domain = DomainFactory(customer=CustomerFactory(site__voice_channels=1), name="outside.test")

    with pytest.raises(NotInTransaction):
        charge_mailbox_created(mailbox=domain.mailboxes.get(), actor=None)


@pytest.mark.django_db(transaction=True)
def test_service_failing_after_its_change_leaves_neither_the_change_nor_the_event(price_list, monkeypatch):
    customer = CustomerFactory(site__voice_channels=1)
    domain = DomainFactory(customer=customer, name="fails.test")
    before = LedgerEvent.objects.count()
    import domains.services.mailboxes as mailboxes_module

    real_charge = mailboxes_module.charge_mailbox_created

    def charge_then_fail(**kwargs):
        real_charge(**kwargs)  # the mailbox row and its event are written ...
        raise RuntimeError("failure after the change")  # ... then the service fails

    monkeypatch.setattr(mailboxes_module, "charge_mailbox_created", charge_then_fail)

    with pytest.raises(RuntimeError):
        services.mailbox_create(domain=domain, local_part="ghost", password="Ghost-Mailbox-2026")

    assert Mailbox.objects.filter(local_part="ghost").exists() is False
    assert LedgerEvent.objects.count() == before


@pytest.mark.django_db(transaction=True)
def test_change_rolled_back_by_the_caller_leaves_no_event(price_list):
    domain = DomainFactory(customer=CustomerFactory(site__voice_channels=1), name="rollback.test")
    mailbox = MailboxFactory(domain=domain, local_part="tier")
    before = LedgerEvent.objects.count()

    with pytest.raises(RuntimeError), transaction.atomic():
        services.mailbox_update(mailbox=mailbox, quota_tier=100)
        raise RuntimeError("caller fails")

    assert Mailbox.objects.get(pk=mailbox.pk).quota_tier == 8
    assert LedgerEvent.objects.count() == before


@pytest.mark.django_db(transaction=True)
def test_concurrent_changes_of_one_customer_chain_their_totals(price_list):
    """Two mailboxes beyond the included count created at the same time in two connections: the
    customer lock serializes the charges, so the second event starts where the first ended."""
    import threading
    import time

    from django.db import connection

    domain = DomainFactory(customer=CustomerFactory(site__voice_channels=1), name="race.test")
    for i in range(5):
        MailboxFactory(domain=domain, local_part=f"inc{i}")  # 6 of 6 included in use
    inserted = threading.Event()
    errors = []

    def first():  # creates its mailbox, then keeps its transaction open for a while
        try:
            with transaction.atomic():
                services.mailbox_create(domain=domain, local_part="race1", password="Race-Mailbox-2026")
                inserted.set()
                time.sleep(0.5)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            inserted.set()
        finally:
            connection.close()

    def second():  # starts while the first is still open: must wait for it, then count its mailbox
        try:
            inserted.wait(10)
            services.mailbox_create(domain=domain, local_part="race2", password="Race-Mailbox-2026")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    first, second = events(domain)[-2:]
    assert (first.monthly_total_before, first.monthly_total_after) == (D("0.00"), D("2.50"))
    assert (second.monthly_total_before, second.monthly_total_after) == (D("2.50"), D("5.00"))
