"""The internal endpoint Dovecot's quota-warning script calls, and the selector of usage."""

import json

import pytest
from django.core import mail

from mailstore.models import QuotaUsage, QuotaWarning
from mailstore.selectors import quota_usage_for
from tests.factories import MailboxFactory

pytestmark = pytest.mark.django_db

URL = "/internal/quota-warning/"


def post(client, payload, *, key="dev-internal-token", remote="127.0.0.1"):
    return client.post(
        URL,
        data=json.dumps(payload),
        content_type="application/json",
        headers={"X-API-Key": key},
        REMOTE_ADDR=remote,
    )


@pytest.fixture(autouse=True)
def _token(settings):
    settings.INTERNAL_API_TOKEN = "dev-internal-token"  # noqa: S105 - test value


def test_crossing_a_level_emails_the_user_once_until_usage_falls_below(
    client, django_capture_on_commit_callbacks
):
    mailbox = MailboxFactory()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        first = post(client, {"user": mailbox.address, "level": 80})
        second = post(client, {"user": mailbox.address, "level": 80})
    assert (first.status_code, first.json(), second.json()) == (200, {"sent": True}, {"sent": False})
    assert [m.to for m in mail.outbox] == [[mailbox.address]]
    # usage goes back below 80 %, then crosses again: a new email
    assert post(client, {"user": mailbox.address, "level": 0}).json() == {"sent": False}
    assert QuotaWarning.objects.filter(username=mailbox.address).count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, {"user": mailbox.address, "level": 80}).json() == {"sent": True}
        assert post(client, {"user": mailbox.address, "level": 95}).json() == {"sent": True}
    assert len(mail.outbox) == 3


def test_email_is_in_the_users_language_with_usage(client, django_capture_on_commit_callbacks):
    mailbox = MailboxFactory(first_name="Anna", last_name="Rossi")
    mailbox.user.language = "en"
    mailbox.user.save(update_fields=["language"])
    QuotaUsage.objects.create(username=mailbox.address, bytes=8 * 1024**3 * 95 // 100, messages=10)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        post(client, {"user": mailbox.address, "level": 95})
    sent = mail.outbox[0]
    assert (sent.subject, sent.to) == (f"Your mailbox {mailbox.address} is 95% full", [mailbox.address])
    assert sent.body.startswith("Dear Anna Rossi,\n")
    assert f"the mailbox {mailbox.address} has used 95% of its space." in sent.body
    assert "Used: 7.6\xa0GB of 8.0\xa0GB." in sent.body


@pytest.mark.parametrize(("key", "remote"), [("wrong", "127.0.0.1"), ("dev-internal-token", "203.0.113.5")])
def test_refused_without_key_or_from_outside_loopback(client, key, remote):
    mailbox = MailboxFactory()
    mail.outbox.clear()
    response = post(client, {"user": mailbox.address, "level": 80}, key=key, remote=remote)
    assert (response.status_code, len(mail.outbox), QuotaWarning.objects.count()) == (403, 0, 0)


@pytest.mark.parametrize(
    "payload", [{"user": "a@b.test"}, {"user": "a@b.test", "level": "x"}, {"level": 101, "user": "a@b.test"}]
)
def test_bad_payload_is_400(client, payload):
    assert post(client, payload).status_code == 400


def test_unknown_mailbox_sends_nothing(client):
    mail.outbox.clear()
    assert post(client, {"user": "ghost@nowhere.test", "level": 80}).json() == {"sent": False}
    assert mail.outbox == []


def test_quota_usage_for_returns_zero_for_unreported_addresses():
    QuotaUsage.objects.create(username="a@x.test", bytes=2048, messages=3)
    assert quota_usage_for(["A@x.test", "b@x.test"]) == {"a@x.test": (2048, 3), "b@x.test": (0, 0)}
