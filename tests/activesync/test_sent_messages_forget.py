"""SendMail ClientIds are kept a month (a phone retrying a lost answer must not send twice), then
forgotten by the daily task, so the table does not grow with every message ever sent."""

import datetime

import pytest
from django.utils import timezone

from devices.models import SentMessage
from devices.services import SENT_MESSAGE_KEEP, device_seen, sent_message_claim
from devices.tasks import sent_messages_forget_task
from tests.factories import MailboxFactory

pytestmark = pytest.mark.django_db


def test_old_client_ids_are_forgotten_recent_ones_still_refuse_a_second_send():
    mailbox = MailboxFactory()
    device = device_seen(
        mailbox=mailbox, device_id="PHONE1", device_type="iPhone", user_agent="", protocol_version="14.1"
    )
    for n in range(7):
        assert sent_message_claim(device=device, client_id=f"old-{n}")
    assert sent_message_claim(device=device, client_id="recent")
    long_ago = timezone.now() - SENT_MESSAGE_KEEP - datetime.timedelta(minutes=1)
    SentMessage.objects.filter(client_id__startswith="old-").update(created_at=long_ago)

    from devices import services

    assert services.sent_messages_forget(batch=3) == 7  # in three batches
    assert list(SentMessage.objects.values_list("client_id", flat=True)) == ["recent"]
    assert not sent_message_claim(device=device, client_id="recent")  # still a duplicate
    assert sent_message_claim(device=device, client_id="old-1")  # forgotten: a new send
    assert sent_messages_forget_task() == 0  # nothing more to forget; idempotent
