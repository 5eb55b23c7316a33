"""Access log: rows, scoped selector with filters, CSV export, purge."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from accounts.exports import access_log_csv
from accounts.models import AccessLogEntry
from accounts.services import access_log_purge, access_log_record
from accounts.tasks import purge_access_log
from domains.models import Mailbox
from domains.selectors import access_log_for
from mailsuite.beat import CELERY_BEAT_SCHEDULE
from tests.factories import DomainFactory, ManagerFactory

pytestmark = pytest.mark.django_db
ROME = ZoneInfo("Europe/Rome")


def record(login, **kwargs):
    values = dict(protocol="imap", remote_ip="198.51.100.7", tls=True, result="success")
    values.update(kwargs)
    return access_log_record(login=login, **values)


def at(row, when):
    AccessLogEntry.objects.filter(pk=row.pk).update(at=when)


@pytest.fixture
def postmaster(domain):
    return Mailbox.objects.get(domain=domain, is_postmaster=True).user


def test_record_finds_user_and_domain_from_the_login(mailbox):
    row = record("MARIO@example.test ", remote_ip="::ffff:198.51.100.7", tls=False, result="failure",
                 reason="bad_password")

    assert (row.login, row.user, row.domain, row.remote_ip, row.tls, row.result, row.reason) == (
        "mario@example.test", mailbox.user, mailbox.domain, "198.51.100.7", False, "failure", "bad_password")


def test_record_keeps_a_bad_address_as_null_and_refuses_unknown_protocols(db):
    assert record("x@nowhere.test", remote_ip="garbage").remote_ip is None
    with pytest.raises(ValueError):
        record("x@nowhere.test", protocol="telnet")


def test_postmaster_sees_only_the_rows_of_their_domain(mailbox, postmaster):
    other_domain = DomainFactory(name="other.test")
    mine = record("mario@example.test")
    record("someone@other.test")

    rows = access_log_for(actor=postmaster, domain=mailbox.domain)

    assert list(rows) == [mine]
    with pytest.raises(PermissionDenied):
        access_log_for(actor=postmaster, domain=other_domain)


def test_manager_of_the_domain_sees_it_other_manager_does_not(mailbox):
    manager = ManagerFactory(customer=mailbox.domain.customer, domains=[mailbox.domain])
    stranger = ManagerFactory()
    row = record("mario@example.test")

    assert list(access_log_for(actor=manager.user, domain=mailbox.domain)) == [row]
    with pytest.raises(PermissionDenied):
        access_log_for(actor=stranger.user, domain=mailbox.domain)


def test_ordinary_mailbox_and_anonymous_are_refused(mailbox):
    with pytest.raises(PermissionDenied):
        access_log_for(actor=mailbox.user, domain=mailbox.domain)
    with pytest.raises(PermissionDenied):
        access_log_for(actor=AnonymousUser(), domain=mailbox.domain)


def test_filters_login_protocol_result_address(mailbox, postmaster):
    a = record("mario@example.test", protocol="imap", result="success", remote_ip="192.0.2.1")
    b = record("mario@example.test", protocol="smtp", result="failure", remote_ip="192.0.2.2")
    c = record("ghost@example.test", protocol="smtp", result="blocked", remote_ip="192.0.2.2")

    def ids(**filters):
        return [r.pk for r in access_log_for(actor=postmaster, domain=mailbox.domain, **filters)]

    assert ids(login="MARIO") == [b.pk, a.pk]
    assert ids(protocol="smtp") == [c.pk, b.pk]
    assert ids(result="blocked") == [c.pk]
    assert ids(remote_ip="192.0.2.2", login="mario") == [b.pk]
    assert ids(remote_ip="not an ip") == []


def test_date_range_is_whole_days_in_rome_both_ends_included(mailbox, postmaster):
    before = record("mario@example.test")
    first = record("mario@example.test")
    last = record("mario@example.test")
    after = record("mario@example.test")
    at(before, datetime(2026, 3, 9, 23, 59, 59, tzinfo=ROME))
    at(first, datetime(2026, 3, 10, 0, 0, 0, tzinfo=ROME))
    at(last, datetime(2026, 3, 11, 23, 59, 59, tzinfo=ROME))
    at(after, datetime(2026, 3, 12, 0, 0, 0, tzinfo=ROME))

    rows = access_log_for(
        actor=postmaster, domain=mailbox.domain, since=date(2026, 3, 10), until=date(2026, 3, 11)
    )

    assert [r.pk for r in rows] == [last.pk, first.pk]


def test_csv_export_has_a_header_local_times_and_neutralised_formulas(mailbox, settings):
    settings.LANGUAGE_CODE = "en"
    row = record("=HYPERLINK(1)@example.test", protocol="smtp", result="failure", reason="bad_password",
                 tls=False)
    at(row, datetime(2026, 7, 1, 10, 0, 0, tzinfo=ZoneInfo("UTC")))

    with timezone.override(ROME):
        from django.utils import translation

        with translation.override("en"):
            lines = list(access_log_csv(AccessLogEntry.objects.all()))

    assert lines == [
        "When,Login,Protocol,IP address,TLS,Result,Reason\r\n",
        "2026-07-01 12:00:00,'=hyperlink(1)@example.test,smtp,198.51.100.7,no,failure,bad_password\r\n",
    ]


def test_purge_deletes_rows_older_than_the_retention(mailbox, settings):
    settings.ACCESS_LOG_RETENTION_DAYS = 30
    now = timezone.now()
    old = [record("mario@example.test") for _ in range(3)]
    kept = record("mario@example.test")
    for row in old:
        at(row, now - timedelta(days=31))
    at(kept, now - timedelta(days=29))

    assert access_log_purge() == 3
    assert list(AccessLogEntry.objects.all()) == [kept]
    assert purge_access_log() == 0  # idempotent


def test_purge_task_is_scheduled_daily():
    entry = CELERY_BEAT_SCHEDULE["accounts-purge-access-log"]

    assert entry["task"] == "accounts.tasks.purge_access_log"
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({3}, {30})
