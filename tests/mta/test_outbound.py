import datetime as dt
import email
from pathlib import Path

import pytest
from django.utils import timezone

from mta import services
from mta.models import OutboundRecipient, TracemailEntry

MESSAGE = (
    b"From: alice@remote.example\r\nTo: bob@far.example\r\nSubject: hello\r\n"
    b"Message-ID: <m1@remote.example>\r\n\r\nbody line\r\n"
)


def _enqueue(recipients, sender="alice@remote.example"):
    trace = services.MessageTrace(
        sender=sender,
        sender_domain_id=None,
        message_id="<m1@remote.example>",
        subject="hello",
        size=len(MESSAGE),
    )
    return services.outbound_enqueue(trace=trace, recipients=recipients, data=MESSAGE)


@pytest.mark.django_db(transaction=True)
def test_queued_message_is_durable_and_delivered_to_the_relay(relay_sink, spool_dir):
    # given a message queued for one remote recipient (eager Celery runs the attempt on commit)
    message = _enqueue(["bob@far.example"])
    # then the relay received exactly that copy
    assert [(m.mail_from, m.rcpt_tos, m.content) for m in relay_sink.messages] == [
        ("alice@remote.example", ["bob@far.example"], MESSAGE)
    ]
    # and the row is delivered, Tracemail says so, and the spool file is gone
    rcpt = OutboundRecipient.objects.get(message=message)
    assert (rcpt.status, rcpt.attempts) == ("delivered", 1)
    entry = TracemailEntry.objects.get(recipient="bob@far.example")
    assert (entry.direction, entry.status, entry.remote_host) == (
        "out",
        "delivered",
        relay_sink_host(relay_sink),
    )
    assert [e.status for e in entry.events.all()] == ["accepted", "delivered"]
    assert not Path(message.spool_path).exists()
    assert list(spool_dir.iterdir()) == []


def relay_sink_host(_sink):
    from django.conf import settings

    return settings.OUTBOUND_RELAY


@pytest.mark.django_db(transaction=True)
def test_permanent_failure_bounces_with_a_dsn_to_the_sender(relay_sink):
    # given a recipient the relay refuses with 550 5.1.1
    message = _enqueue(["reject-me@far.example"])
    # then the copy is bounced and the sender got a multipart/report DSN with a null sender
    rcpt = OutboundRecipient.objects.get(message=message)
    assert rcpt.status == "bounced"
    assert rcpt.last_error == "550 5.1.1 <reject-me@far.example>: no such user here"
    assert len(relay_sink.messages) == 1
    dsn = relay_sink.messages[0]
    assert (dsn.mail_from, dsn.rcpt_tos) == ("<>", ["alice@remote.example"])
    parsed = email.message_from_bytes(dsn.content)
    assert parsed.get_content_type() == "multipart/report"
    assert parsed.get_param("report-type") == "delivery-status"
    status_part = parsed.get_payload()[1]
    assert status_part.get_content_type() == "message/delivery-status"
    status_text = status_part.as_string()
    assert "Final-Recipient: rfc822; reject-me@far.example" in status_text
    assert "Status: 5.1.1" in status_text
    assert "Action: failed" in status_text
    entry = TracemailEntry.objects.get(recipient="reject-me@far.example")
    assert (entry.status, entry.reason) == ("bounced", "550 5.1.1 <reject-me@far.example>: no such user here")


@pytest.mark.django_db(transaction=True)
def test_temporary_failure_defers_with_backoff_then_expires_into_a_bounce(relay_sink, settings):
    settings.OUTBOUND_RETRY_BASE = 60
    # given a recipient the relay answers 451 (first attempt already ran on commit)
    message = _enqueue(["tempfail@far.example"])
    rcpt = OutboundRecipient.objects.get(message=message)
    assert (rcpt.status, rcpt.attempts, rcpt.last_error) == ("deferred", 1, "451 4.3.0 try again later")
    # when a second attempt fails too, the next one is twice as far
    before = timezone.now()
    outcome = services.outbound_attempt(recipient_id=rcpt.pk)
    assert (outcome.status, outcome.retry_in) == ("deferred", 120)
    rcpt.refresh_from_db()
    assert (
        before + dt.timedelta(seconds=119) < rcpt.next_attempt_at < timezone.now() + dt.timedelta(seconds=121)
    )
    # when the message is older than the maximum age
    outcome = services.outbound_attempt(
        recipient_id=rcpt.pk, now=timezone.now() + dt.timedelta(seconds=settings.OUTBOUND_MAX_AGE + 1)
    )
    # then it bounces with 4.4.7 and the sender gets a DSN
    assert outcome.status == "bounced"
    dsn = email.message_from_bytes(relay_sink.messages[-1].content)
    assert "Status: 4.4.7" in dsn.get_payload()[1].as_string()
    entry = TracemailEntry.objects.get(recipient="tempfail@far.example")
    assert [e.status for e in entry.events.all()] == ["accepted", "deferred", "deferred", "bounced"]


@pytest.mark.django_db(transaction=True)
def test_an_attempt_on_a_delivered_copy_does_nothing(relay_sink):
    message = _enqueue(["bob@far.example"])
    rcpt = OutboundRecipient.objects.get(message=message)
    outcome = services.outbound_attempt(recipient_id=rcpt.pk)
    assert outcome.status == "delivered"
    assert len(relay_sink.messages) == 1


@pytest.mark.django_db(transaction=True)
def test_requeue_schedules_overdue_copies(relay_sink):
    # given a copy deferred long ago (its task was lost)
    message = _enqueue(["tempfail@far.example"])
    OutboundRecipient.objects.filter(message=message).update(
        next_attempt_at=timezone.now() - dt.timedelta(hours=1)
    )
    # when the sweeper runs
    count = services.outbound_requeue_due()
    # then the copy was attempted again
    assert count == 1
    assert OutboundRecipient.objects.get(message=message).attempts == 2
