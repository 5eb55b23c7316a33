"""End-of-day notice: one email per customer whose costs changed that day, exactly once."""

import datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from billing.models import DailyNotice, LedgerEvent
from domains import services
from monitor import notices
from monitor.tasks import send_daily_notices
from tests.factories import CustomerFactory, DomainFactory, MailboxFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def changed(price_list, django_user_model):
    """A customer with 6 included mailboxes and one extra mailbox created today by staff."""
    staff = django_user_model.objects.create_user(username="staff-notice", password="x")  # noqa: S106
    customer = CustomerFactory(
        site__voice_channels=1,
        company_name="Cambiata S.r.l.",
        legal_rep_name="Anna Rossi",
        legal_rep_email="anna@cambiata.test",
    )
    domain = DomainFactory(customer=customer, name="cambiata.test")
    for i in range(5):
        MailboxFactory(domain=domain, local_part=f"inc{i}")
    services.mailbox_create(
        domain=domain, local_part="extra", password="Extra-Mailbox-2026", quota_tier=25, actor=staff
    )
    mail.outbox.clear()
    return customer


@pytest.fixture
def unchanged(price_list):
    """A customer whose only changes today are free (mailboxes within the included count)."""
    customer = CustomerFactory(site__voice_channels=10, legal_rep_email="legal@ferma.test")
    domain = DomainFactory(customer=customer, name="ferma.test")
    MailboxFactory(domain=domain, local_part="free", send_limit=1000)
    mail.outbox.clear()
    return customer


def test_one_email_to_the_legal_representative_with_what_changed_and_the_totals(changed, unchanged, settings):
    settings.LANGUAGE_CODE = (
        "en"  # the notice is written in the site language; English keeps this test stable
    )
    today = timezone.localdate()

    outcome = notices.daily_notices_send(day=today)

    assert outcome == {"sent": 1, "failed": 0, "skipped": 0}
    [message] = mail.outbox
    assert message.to == ["anna@cambiata.test"]
    assert (
        message.extra_headers["Message-ID"]
        == f"<billing-notice-{changed.pk}-{today.isoformat()}@mail.localhost>"
    )
    assert "Cambiata S.r.l." in message.subject
    assert "extra@cambiata.test" in message.body
    assert "staff-notice" in message.body
    lines = message.body.splitlines()
    at = timezone.localtime(LedgerEvent.objects.get(target="extra@cambiata.test").at).strftime("%H:%M")
    # 2.50 for the mailbox beyond the 6 included + 3.00 for 25 GB.
    assert (
        f"- {at} Mailbox created: extra@cambiata.test [- → 25 GB, 250/d], by staff-notice; monthly +5.50"
        in lines
    )
    assert "Monthly total before: 0.00 EUR" in lines
    assert "Monthly total now: 5.50 EUR" in lines
    notice = DailyNotice.objects.get()
    assert (notice.customer, notice.day, notice.state, notice.attempts) == (changed, today, "sent", 1)
    assert (notice.monthly_total_before, notice.monthly_total_after) == (Decimal("0.00"), Decimal("5.50"))


def test_job_run_twice_sends_one_email(changed):
    today = timezone.localdate()

    first = send_daily_notices.apply(kwargs={"day": today.isoformat()}).get()
    second = send_daily_notices.apply(kwargs={"day": today.isoformat()}).get()

    assert (first, second) == ({"sent": 1, "failed": 0, "skipped": 0}, {"sent": 0, "failed": 0, "skipped": 1})
    assert len(mail.outbox) == 1
    assert DailyNotice.objects.count() == 1


def test_customer_with_no_cost_change_gets_none(unchanged):
    assert notices.daily_notices_send(day=timezone.localdate()) == {"sent": 0, "failed": 0, "skipped": 0}
    assert mail.outbox == []
    assert DailyNotice.objects.count() == 0


def test_a_change_of_another_day_is_not_reported(changed):
    LedgerEvent.objects.update(at=timezone.now() - datetime.timedelta(days=2))

    notices.daily_notices_send(day=timezone.localdate())

    assert mail.outbox == []


def test_crash_after_claim_is_not_resent_before_the_timeout_then_sent_once(changed, monkeypatch):
    today = timezone.localdate()

    def crash(notice):
        raise KeyboardInterrupt  # the worker dies between claim and mark

    monkeypatch.setattr(notices, "_send", crash)
    with pytest.raises(KeyboardInterrupt):
        notices.daily_notices_send(day=today)
    monkeypatch.undo()
    assert DailyNotice.objects.get().state == "sending"

    rerun = notices.daily_notices_send(day=today)  # a second run right away: someone may be sending
    assert (rerun, mail.outbox) == ({"sent": 0, "failed": 0, "skipped": 1}, [])

    DailyNotice.objects.update(
        claimed_at=timezone.now() - notices.NOTICE_CLAIM_TIMEOUT - datetime.timedelta(1)
    )
    late = notices.daily_notices_send(day=today)
    again = notices.daily_notices_send(day=today)

    assert (late["sent"], again["sent"], len(mail.outbox)) == (1, 0, 1)
    notice = DailyNotice.objects.get()
    assert (notice.state, notice.attempts) == ("sent", 2)


def test_smtp_failure_is_recorded_and_the_next_run_sends_it(changed, settings):
    today = timezone.localdate()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens

    failed = notices.daily_notices_send(day=today)

    notice = DailyNotice.objects.get()
    assert (failed["failed"], notice.state, notice.error != "") == (1, "failed", True)

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    retried = notices.daily_notices_send(day=today)

    assert (retried["sent"], len(mail.outbox)) == (1, 1)
    assert DailyNotice.objects.get().state == "sent"


def test_beat_runs_after_midnight_rome_for_the_day_just_ended():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["billing-daily-notices"]
    assert entry["task"] == "billing.tasks.send_daily_notices"
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({0}, {5})
    assert settings.CELERY_TIMEZONE == "Europe/Rome"
