"""The Archive's plan (issue 13, item 1): retention 1-10 years set when attaching; lengthening at
once; shortening after 30 days, emailed to the owner and the Manager, cancellable; a Postmaster
neither shortens nor removes; removal needs the address typed and stops journaling and billing
at once; an archive outlives its mailbox; billing from activation, not before."""

import datetime as dt

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone, translation

from archiving.journaling import archive_journal
from archiving.models import Archive, ArchivePlan
from archiving.retention import PurgeResult, archive_purge
from archiving.services import (
    RETENTION_SHORTENING_DELAY_DAYS,
    archive_attach,
    archive_remove,
    archive_remove_orphan,
    archive_retention_apply_due,
    archive_retention_cancel,
    archive_retention_change,
)
from billing.models import BilledArchive, LedgerEvent
from billing.selectors import customer_usage
from core.models import AuditEntry
from domains import services as domain_services
from tests.archiving.conftest import raw_message
from tests.archiving.test_retention import kept, rome
from tests.billing.conftest import PRICES, price_list  # noqa: F401 - fixture
from tests.factories import DomainFactory, MailboxFactory, ManagerFactory
from tests.panel.conftest import panel_client, postmaster_of

pytestmark = pytest.mark.django_db


def journal(mailbox, tag: str, at: dt.datetime):
    return archive_journal(
        data=raw_message(tag), fingerprint=tag.ljust(64, "0"), received_by=[mailbox.pk], at=at
    )


@pytest.fixture
def managed(db):
    """A mailbox of a domain with a Manager (who has an email address)."""
    domain = DomainFactory()
    manager = ManagerFactory(customer=domain.customer, domains=[domain], email="boss@example.test")
    domain.refresh_from_db()
    mailbox = MailboxFactory(domain=domain, local_part="owner")
    return manager, domain, mailbox


@pytest.mark.parametrize("years", [0, 11, "x", None])
def test_attaching_refuses_a_retention_outside_1_to_10_years(years):
    mailbox = MailboxFactory()
    with pytest.raises(ValidationError):
        archive_attach(mailbox=mailbox, retention_years=years)
    assert not ArchivePlan.objects.filter(mailbox=mailbox).exists()
    assert not BilledArchive.objects.filter(mailbox=mailbox).exists()


def test_lengthening_applies_at_once_and_cancels_a_pending_shortening(archived_mailbox):
    mailbox, archive = archived_mailbox(retention_years=5)
    archive_retention_change(mailbox=mailbox, retention_years=3, may_shorten=True)
    archive.refresh_from_db()
    assert (archive.retention_years, archive.pending_retention_years) == (5, 3)

    archive_retention_change(mailbox=mailbox, retention_years=8, may_shorten=False)  # a Postmaster may

    archive.refresh_from_db()
    assert (archive.retention_years, archive.pending_retention_years, archive.pending_retention_at) == (
        8,
        None,
        None,
    )
    assert ArchivePlan.objects.get(mailbox=mailbox).retention_years == 8


def test_shortening_waits_30_days_is_emailed_and_the_purge_keeps_the_old_retention_meanwhile(
    managed, django_capture_on_commit_callbacks
):
    # given an archive of 10 years holding a message archived in June 2020
    manager, domain, mailbox = managed
    archive = archive_attach(mailbox=mailbox, retention_years=10).archive
    journal(mailbox, "june-2020", rome(2020, 6, 1, 12))
    mail.outbox.clear()
    asked = timezone.now()

    # when the Manager shortens it to 5 years (the email in the site's language, Italian)
    with translation.override("it"), django_capture_on_commit_callbacks(execute=True):
        archive_retention_change(mailbox=mailbox, retention_years=5, may_shorten=True, actor=manager.user)

    # then nothing changes yet: pending for 30 days, and the message is kept by the purge
    archive.refresh_from_db()
    assert archive.retention_years == 10 and archive.pending_retention_years == 5
    due = archive.pending_retention_at
    assert (
        dt.timedelta(days=RETENTION_SHORTENING_DELAY_DAYS) <= due - asked < dt.timedelta(days=30, minutes=1)
    )
    assert archive_purge(now=asked).entries == 0
    # the owner and the Manager are told, with the date it takes effect
    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == sorted([mailbox.address, "boss@example.test"])
    assert "5 anni" in mail.outbox[0].body and "10 anni" in mail.outbox[0].body
    # asking again does not restart the 30 days
    with django_capture_on_commit_callbacks(execute=True):
        archive_retention_change(mailbox=mailbox, retention_years=5, may_shorten=True)
    archive.refresh_from_db()
    assert archive.pending_retention_at == due and len(mail.outbox) == 1

    # the day before it is due nothing applies; once due, the hourly task applies it
    assert archive_retention_apply_due(now=due - dt.timedelta(seconds=1)) == 0
    assert archive_purge(now=due - dt.timedelta(seconds=1)).entries == 0
    assert archive_retention_apply_due(now=due) == 1
    archive.refresh_from_db()
    assert (archive.retention_years, archive.pending_retention_years) == (5, None)
    assert ArchivePlan.objects.get(mailbox=mailbox).retention_years == 5
    # and the purge now uses 5 years: June 2020 + 5 years has passed
    assert archive_purge(now=due).entries == 1
    assert archive_retention_apply_due(now=due) == 0  # idempotent


def test_a_pending_shortening_can_be_cancelled_until_it_is_due(archived_mailbox):
    mailbox, archive = archived_mailbox(retention_years=10)
    journal(mailbox, "june-2020", rome(2020, 6, 1, 12))
    archive_retention_change(mailbox=mailbox, retention_years=2, may_shorten=True)
    archive.refresh_from_db()
    due = archive.pending_retention_at

    archive_retention_cancel(mailbox=mailbox)

    archive.refresh_from_db()
    assert (archive.retention_years, archive.pending_retention_years, archive.pending_retention_at) == (
        10,
        None,
        None,
    )
    assert archive_retention_apply_due(now=due + dt.timedelta(days=1)) == 0
    assert archive_purge(now=due + dt.timedelta(days=1)).entries == 0
    assert kept(archive) == ["june-2020"]
    with pytest.raises(ValidationError):  # nothing left to cancel
        archive_retention_cancel(mailbox=mailbox)
    assert AuditEntry.objects.filter(action="archive.retention", target=mailbox.address).count() == 2


def test_a_postmaster_cannot_shorten(archived_mailbox):
    mailbox, archive = archived_mailbox(retention_years=6)
    with pytest.raises(ValidationError):
        archive_retention_change(mailbox=mailbox, retention_years=5, may_shorten=False)
    archive.refresh_from_db()
    assert (archive.retention_years, archive.pending_retention_years) == (6, None)


def test_removing_needs_the_address_and_stops_journaling_and_billing_at_once(archived_mailbox):
    mailbox, archive = archived_mailbox(retention_years=10)
    assert journal(mailbox, "before", timezone.now()).entries == 1
    with pytest.raises(ValidationError):
        archive_remove(mailbox=mailbox, confirm_address="someone@else.test")
    assert BilledArchive.objects.filter(mailbox=mailbox).exists()

    archive_remove(mailbox=mailbox, confirm_address=f"  {mailbox.address.upper()} ")

    assert not BilledArchive.objects.filter(mailbox=mailbox).exists()
    assert journal(mailbox, "after", timezone.now()).entries == 0
    archive.refresh_from_db()
    assert archive.removed_at is not None
    assert kept(archive) == ["before"]  # still readable until the purge, 30 days later


@pytest.mark.usefixtures("price_list")
def test_billing_starts_at_activation_not_before_and_removal_stops_it(managed):
    _manager, domain, mailbox = managed
    before = customer_usage(domain.customer_id).archives
    assert not LedgerEvent.objects.filter(kind="archive_attached", target=mailbox.address).exists()
    # a refused attach bills nothing
    with pytest.raises(ValidationError):
        archive_attach(mailbox=mailbox, retention_years=12)
    assert customer_usage(domain.customer_id).archives == before

    start = timezone.now()
    archive_attach(mailbox=mailbox, retention_years=3)

    billed = BilledArchive.objects.get(mailbox=mailbox)
    attached = LedgerEvent.objects.get(kind="archive_attached", target=mailbox.address)
    assert billed.since >= start and attached.at >= start
    assert customer_usage(domain.customer_id).archives == before + 1

    archive_remove(mailbox=mailbox, confirm_address=mailbox.address)

    assert customer_usage(domain.customer_id).archives == before
    removed = LedgerEvent.objects.get(kind="archive_removed", target=mailbox.address)
    assert attached.monthly_delta > 0 and removed.monthly_delta == -attached.monthly_delta


@pytest.mark.usefixtures("price_list")
def test_an_archive_outlives_its_mailbox_until_its_retention_ends(archived_mailbox):
    # given an archived mailbox with one message, then the mailbox deleted
    mailbox, archive = archived_mailbox(retention_years=1)
    journal(mailbox, "kept", rome(2026, 3, 1, 12))
    address, mailbox_pk, customer_id = mailbox.address, mailbox.pk, mailbox.domain.customer_id
    domain_services.mailbox_delete(mailbox=mailbox)

    # then the archive and its entries remain, no longer journaled, not marked removed, and
    # still billed, as an archive of a deleted mailbox
    archive.refresh_from_db()
    assert (archive.mailbox_id, archive.mailbox_key, archive.address) == (None, mailbox_pk, address)
    assert archive.removed_at is None
    assert kept(archive) == ["kept"]
    assert BilledArchive.objects.filter(mailbox_key=mailbox_pk, mailbox__isnull=True).exists()
    assert customer_usage(customer_id).deleted_archives == 1
    # the purge keeps it (and its charge) through its retention (2026-03-01 + 1 year)
    assert archive_purge(now=rome(2027, 3, 1, 23)) == PurgeResult(entries=0, blobs=0, archives=0)
    assert customer_usage(customer_id).deleted_archives == 1
    # and the day after removes the message and, nothing more coming in, the archive: its
    # charge stops with it
    assert archive_purge(now=rome(2027, 3, 2, 1)) == PurgeResult(entries=1, blobs=1, archives=1)
    assert not Archive.objects.filter(pk=archive.pk).exists()
    assert not BilledArchive.objects.filter(mailbox_key=mailbox_pk).exists()
    assert customer_usage(customer_id).deleted_archives == 0
    stopped = LedgerEvent.objects.filter(kind="archive_removed", target=address).get()
    assert (stopped.actor_label, stopped.monthly_delta) == ("system", -PRICES["archive"])


def test_an_empty_archive_of_a_live_mailbox_is_kept(archived_mailbox):
    mailbox, archive = archived_mailbox(retention_years=1)
    journal(mailbox, "kept", rome(2026, 3, 1, 12))
    assert archive_purge(now=rome(2027, 3, 2, 1)).entries == 1
    assert Archive.objects.filter(pk=archive.pk).exists()  # still journaling


def test_the_manager_removes_the_archive_of_a_deleted_mailbox(archived_mailbox):
    # given the archive of a deleted mailbox
    mailbox, archive = archived_mailbox(retention_years=1)
    journal(mailbox, "kept", rome(2026, 3, 1, 12))
    address = mailbox.address
    domain_services.mailbox_delete(mailbox=mailbox)

    # when the Manager removes it (the address typed): readable 30 more days, then deleted whole
    with pytest.raises(ValidationError):  # the address typed must be the archive's
        archive_remove_orphan(archive=archive, confirm_address="someone@else.test")
    archive_remove_orphan(archive=archive, confirm_address=address)
    archive.refresh_from_db()
    assert archive.removed_at is not None
    with pytest.raises(ValidationError):
        archive_remove_orphan(archive=archive, confirm_address=address)
    assert archive_purge(now=archive.removed_at + dt.timedelta(days=29)).archives == 0
    assert archive_purge(now=archive.removed_at + dt.timedelta(days=32)).archives == 1
    assert not Archive.objects.filter(pk=archive.pk).exists()


# The control panel --------------------------------------------------------------------------


@pytest.fixture
def panel(managed):
    manager, domain, mailbox = managed
    archive_attach(mailbox=mailbox, retention_years=5)
    postmaster = postmaster_of(domain)
    return manager, domain, mailbox, panel_client(manager.user), panel_client(postmaster.user)


def test_panel_postmaster_may_lengthen_but_neither_shorten_nor_remove(panel):
    _manager, domain, mailbox, _as_manager, as_postmaster = panel
    url = reverse("mailadmin:mailbox_archive_retention", args=[domain.name, mailbox.pk])
    archive = mailbox.archive_plan.archive

    assert as_postmaster.post(url, {"retention_years": "4"}).status_code == 400
    archive.refresh_from_db()
    assert (archive.retention_years, archive.pending_retention_years) == (5, None)

    assert as_postmaster.post(url, {"retention_years": "7"}).status_code == 302
    archive.refresh_from_db()
    assert archive.retention_years == 7

    remove = reverse("mailadmin:mailbox_archive", args=[domain.name, mailbox.pk])
    assert (
        as_postmaster.post(remove, {"action": "remove", "confirm_address": mailbox.address}).status_code
        == 403
    )
    assert ArchivePlan.objects.filter(mailbox=mailbox).exists()
    page = as_postmaster.get(reverse("mailadmin:mailbox", args=[domain.name, mailbox.pk])).content.decode()
    assert "archive-retention" in page and 'value="remove"' not in page


def test_panel_manager_shortens_sees_it_pending_and_cancels_it(panel):
    _manager, domain, mailbox, as_manager, _as_postmaster = panel
    url = reverse("mailadmin:mailbox_archive_retention", args=[domain.name, mailbox.pk])
    archive = mailbox.archive_plan.archive

    assert as_manager.post(url, {"retention_years": "2"}).status_code == 302
    archive.refresh_from_db()
    assert (archive.retention_years, archive.pending_retention_years) == (5, 2)
    page = as_manager.get(reverse("mailadmin:mailbox", args=[domain.name, mailbox.pk])).content.decode()
    assert 'value="cancel"' in page

    assert as_manager.post(url, {"action": "cancel"}).status_code == 302
    archive.refresh_from_db()
    assert archive.pending_retention_years is None
    assert as_manager.post(url, {"retention_years": "0"}).status_code == 400


def test_panel_retention_urls_refuse_other_domains_and_anonymous(panel, client):
    _manager, domain, mailbox, _as_manager, _as_postmaster = panel
    url = reverse("mailadmin:mailbox_archive_retention", args=[domain.name, mailbox.pk])
    assert client.post(url, {"retention_years": "9"}).status_code == 302  # to the login
    stranger = MailboxFactory()
    other = panel_client(postmaster_of(stranger.domain).user)
    assert other.post(url, {"retention_years": "9"}).status_code == 404
    mailbox.archive_plan.archive.refresh_from_db()
    assert mailbox.archive_plan.archive.retention_years == 5
