"""LMTP delivery, quota enforcement and quota warnings against the real Dovecot."""

import time

import pytest
from django.core import mail

from domains.models import Mailbox
from mailstore.selectors import quota_usage_for
from mailstore.services import quota_override_set
from tests.protocol.helpers import lmtp_deliver, message

pytestmark = pytest.mark.protocol


def mailbox_of(address: str) -> Mailbox:
    local_part, _, domain = address.partition("@")
    return Mailbox.objects.select_related("domain").get(local_part=local_part, domain__name=domain)


def wait_for(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_lmtp_delivers_and_quota_usage_is_exported(running_mailplane, mailbox_factory):
    # given a mailbox
    address, _ = mailbox_factory()
    data = message("alice@example.net", address, size=3000)
    # when a message is delivered over LMTP
    rcpt, reply = lmtp_deliver(running_mailplane, address, data)
    # then it is accepted and its usage shows in PostgreSQL (quota_clone)
    assert rcpt[0] == 250
    assert reply[0] == 250
    assert "Saved" in reply[1]
    usage = wait_for(lambda: quota_usage_for([address])[address][1] == 1 and quota_usage_for([address]))
    assert usage[address][1] == 1
    assert usage[address][0] >= len(data)


def test_unknown_recipient_is_refused_at_rcpt(running_mailplane, mailbox_factory):
    address, _ = mailbox_factory()
    nobody = "nobody@" + address.split("@")[1]
    rcpt, reply = lmtp_deliver(running_mailplane, nobody, message("a@example.net", nobody))
    assert (rcpt[0], reply) == (550, None)
    assert rcpt[1].startswith("5.1.1")


def test_over_quota_mailbox_refuses_delivery_with_552_5_2_2(running_mailplane, mailbox_factory):
    # given a mailbox with a 20 KB quota holding a 15 KB message
    address, _ = mailbox_factory()
    quota_override_set(mailbox=mailbox_of(address), quota_bytes=20 * 1024)
    assert (
        lmtp_deliver(running_mailplane, address, message("a@example.net", address, size=15 * 1024))[1][0]
        == 250
    )
    # when a message that does not fit arrives, then DATA is refused permanently
    rcpt, reply = lmtp_deliver(running_mailplane, address, message("a@example.net", address, size=10 * 1024))
    assert rcpt[0] == 250
    assert reply[0] == 552
    assert reply[1].startswith("5.2.2")
    # when the quota is lowered under the usage, then even RCPT is refused permanently
    quota_override_set(mailbox=mailbox_of(address), quota_bytes=10 * 1024)
    rcpt, reply = lmtp_deliver(running_mailplane, address, message("a@example.net", address))
    assert (rcpt[0], reply) == (552, None)
    assert rcpt[1].startswith("5.2.2")


def test_crossing_80_percent_emails_the_user_once(running_mailplane, mailbox_factory):
    # given a mailbox with a 100 KB quota
    address, _ = mailbox_factory()
    quota_override_set(mailbox=mailbox_of(address), quota_bytes=100 * 1024)
    mail.outbox.clear()
    # when a delivery takes it from 0 to about 82 %
    assert (
        lmtp_deliver(running_mailplane, address, message("a@example.net", address, size=82 * 1024))[1][0]
        == 250
    )
    # then the user gets one warning email
    assert wait_for(lambda: len(mail.outbox) >= 1) is True
    assert [m.to for m in mail.outbox] == [[address]]
    assert "80%" in mail.outbox[0].subject
    # when another small message arrives (still between 80 and 95 %), then no second email
    assert lmtp_deliver(running_mailplane, address, message("a@example.net", address, size=1024))[1][0] == 250
    time.sleep(1.0)
    assert len(mail.outbox) == 1
