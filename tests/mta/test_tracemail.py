import csv
import datetime as dt
import io

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from accounts.models import User
from mta import services
from mta.models import HandledCopy, TracemailEntry, TracemailEvent
from mta.selectors import tracemail_csv, tracemail_for
from tests.factories import CustomerFactory, DomainFactory, MailboxFactory, ManagerFactory


@pytest.fixture
def world(db):
    customer = CustomerFactory()
    acme = DomainFactory(customer=customer, name="acme.test")
    other = DomainFactory(name="other.test")
    manager = ManagerFactory(customer=customer, domains=[acme])
    mario = MailboxFactory(domain=acme, local_part="mario")

    def row(sender, recipient, direction, status, sender_domain=None, recipient_domain=None, subject="s"):
        trace = services.MessageTrace(
            sender=sender,
            sender_domain_id=sender_domain and sender_domain.pk,
            subject=subject,
            message_id=f"<{subject}@x>",
        )
        return services.tracemail_record(
            trace=trace,
            recipient=recipient,
            recipient_domain_id=recipient_domain and recipient_domain.pk,
            direction=direction,
            status=status,
        )

    rows = {
        "in": row(
            "ext@far.example", "mario@acme.test", "in", "delivered", recipient_domain=acme, subject="Fattura"
        ),
        "out": row(
            "mario@acme.test", "ext@far.example", "out", "bounced", sender_domain=acme, subject="=SUM(A1)"
        ),
        "rejected": row("spam@far.example", "nobody@acme.test", "in", "rejected", recipient_domain=acme),
        "foreign": row("x@other.test", "y@far.example", "out", "delivered", sender_domain=other),
    }
    postmaster = User.objects.get(username="postmaster@acme.test")
    return {
        "acme": acme,
        "other": other,
        "manager": manager.user,
        "postmaster": postmaster,
        "mario": mario.user,
        "rows": rows,
    }


def test_postmaster_and_manager_see_the_domain_rows_newest_first(world):
    expected = [world["rows"][k].pk for k in ("rejected", "out", "in")]
    for actor in (world["postmaster"], world["manager"]):
        assert [e.pk for e in tracemail_for(actor=actor, domain=world["acme"])] == expected


def test_a_plain_mailbox_and_another_domains_postmaster_are_refused(world):
    other_postmaster = User.objects.get(username="postmaster@other.test")
    for actor in (world["mario"], other_postmaster):
        with pytest.raises(PermissionDenied):
            tracemail_for(actor=actor, domain=world["acme"])


def test_filters(world):
    acme, pm, rows = world["acme"], world["postmaster"], world["rows"]

    def ids(**filters):
        return {e.pk for e in tracemail_for(actor=pm, domain=acme, **filters)}

    assert ids(direction="out") == {rows["out"].pk}
    assert ids(status="rejected") == {rows["rejected"].pk}
    assert ids(mailbox="MARIO@acme.test") == {rows["in"].pk, rows["out"].pk}
    assert ids(text="fattura") == {rows["in"].pk}
    today = timezone.localdate()
    assert ids(since=today, until=today) == {rows["in"].pk, rows["out"].pk, rows["rejected"].pk}
    assert ids(until=today - dt.timedelta(days=1)) == set()


def test_csv_export_has_a_header_the_rows_and_no_formulas(world):
    text = tracemail_csv(actor=world["manager"], domain=world["acme"], direction="out")
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == [
        "received",
        "last_change",
        "direction",
        "status",
        "from",
        "to",
        "subject",
        "message_id",
        "size",
        "client_ip",
        "remote_host",
        "queue_id",
        "reason",
        "filter_verdict",
        "spam_score",
    ]
    assert len(lines) == 2
    assert lines[1][2:7] == ["out", "bounced", "mario@acme.test", "ext@far.example", "'=SUM(A1)"]


def test_purge_deletes_rows_older_than_the_retention(world, settings):
    settings.TRACEMAIL_RETENTION_DAYS = 30
    old = world["rows"]["in"]
    TracemailEntry.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=31))
    HandledCopy.objects.create(fingerprint="f" * 64, recipient="a@b.c")
    HandledCopy.objects.update(at=timezone.now() - dt.timedelta(days=4))
    assert services.tracemail_purge() == 1
    assert not TracemailEntry.objects.filter(pk=old.pk).exists()
    assert not TracemailEvent.objects.filter(entry_id=old.pk).exists()
    assert TracemailEntry.objects.count() == 3
    assert HandledCopy.objects.count() == 0
