"""snapshots.restore without Dovecot: what a request must name, the give-up rule, resumption."""

import datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from snapshots.models import RestoreRequest, RestoreState, Snapshot, SnapshotStatus
from snapshots.restore import MAX_ATTEMPTS, RestoreWhat, restore_request_create, restore_run, restores_pending
from tests.factories import MailboxFactory

pytestmark = pytest.mark.django_db

DAY = datetime.date(2026, 11, 30)


def test_a_request_names_a_snapshot_day_and_what_to_restore():
    mailbox = MailboxFactory()
    with pytest.raises(ValidationError) as no_day:
        restore_request_create(
            mailbox=mailbox, what=RestoreWhat(day=DAY, scope="mailbox"), actor=None, accepted_price=Decimal(0)
        )
    assert "day" in no_day.value.message_dict
    Snapshot.objects.create(
        mailbox=mailbox,
        day=DAY,
        status=SnapshotStatus.TAKEN,
        taken_at=datetime.datetime(2026, 11, 30, tzinfo=datetime.UTC),
    )
    for what, field in [
        (RestoreWhat(day=DAY, scope="folder"), "folder"),
        (RestoreWhat(day=DAY, scope="messages", folder="INBOX"), "uids"),
        (RestoreWhat(day=DAY, scope="everything"), "scope"),
    ]:
        with pytest.raises(ValidationError) as error:
            restore_request_create(mailbox=mailbox, what=what, actor=None, accepted_price=Decimal(0))
        assert field in error.value.message_dict
    assert RestoreRequest.objects.count() == 0


def test_a_request_interrupted_too_often_fails_and_the_user_is_told():
    mailbox = MailboxFactory()
    request = RestoreRequest.objects.create(
        mailbox=mailbox, day=DAY, scope="mailbox", state="running", attempts=MAX_ATTEMPTS
    )
    assert restores_pending() == [request.pk]
    done = restore_run(request_id=request.pk)
    assert done.state == RestoreState.FAILED and done.finished_at is not None
    assert restores_pending() == []
    assert restore_run(request_id=request.pk) is None  # finished: nothing to do


def test_the_end_email_names_the_day(django_capture_on_commit_callbacks):
    mailbox = MailboxFactory()
    request = RestoreRequest.objects.create(
        mailbox=mailbox, day=DAY, scope="mailbox", state="running", attempts=MAX_ATTEMPTS
    )
    with django_capture_on_commit_callbacks(execute=True):
        restore_run(request_id=request.pk)
    assert [m.to for m in mail.outbox] == [[mailbox.address]]
    assert "2026-11-30" in mail.outbox[0].subject
