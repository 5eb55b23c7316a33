"""The webmail's own submission tokens: purged daily by a Celery task, never shown as the
user's app passwords in the control panel."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AppPassword
from accounts.selectors import app_passwords_for
from accounts.services import app_password_create
from mailsuite.beat import CELERY_BEAT_SCHEDULE
from tests.factories import DomainFactory, MailboxFactory
from tests.panel.conftest import panel_client, postmaster_of
from webmail.services import SESSION_TOKEN_PREFIX, session_token_create
from webmail.tasks import purge_session_tokens

pytestmark = pytest.mark.django_db


def test_purge_task_revokes_only_expired_session_tokens(settings):
    # given a session token older than the session age, a fresh one, and an old real app password
    settings.SESSION_COOKIE_AGE = 3600
    mailbox = MailboxFactory()
    stale, _t1 = session_token_create(user=mailbox.user, remote_ip="192.0.2.1")
    fresh, _t2 = session_token_create(user=mailbox.user, remote_ip="192.0.2.1")
    phone, _t3 = app_password_create(user=mailbox.user, name="Phone")
    two_hours_ago = timezone.now() - timedelta(hours=2)
    AppPassword.objects.filter(pk__in=[stale.pk, phone.pk]).update(created_at=two_hours_ago)

    # when the daily task runs (twice: it is idempotent)
    first = purge_session_tokens.apply().get()
    second = purge_session_tokens.apply().get()

    # then only the stale session token is revoked
    assert (first, second) == (1, 0)
    revoked = {ap.pk for ap in AppPassword.objects.filter(revoked_at__isnull=False)}
    assert revoked == {stale.pk}


def test_purge_task_is_scheduled_daily():
    entry = CELERY_BEAT_SCHEDULE["webmail-purge-session-tokens"]

    assert entry["task"] == "webmail.tasks.purge_session_tokens"
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({3}, {50})
    assert entry["schedule"].day_of_week == set(range(7))


def test_selector_tells_session_tokens_apart_by_kind():
    mailbox = MailboxFactory()
    phone, _t = app_password_create(user=mailbox.user, name="Phone")
    token, _t = session_token_create(user=mailbox.user, remote_ip=None)

    # the user's own app passwords (the default) leave the webmail's session token out
    assert list(app_passwords_for(user=mailbox.user)) == [phone]
    assert list(app_passwords_for(user=mailbox.user, kind=AppPassword.Kind.USER)) == [phone]
    # the token is there, of its own kind, whatever its name
    assert list(app_passwords_for(user=mailbox.user, kind=AppPassword.Kind.WEBMAIL_SESSION)) == [token]
    assert AppPassword.objects.filter(user=mailbox.user).count() == 2


def test_control_panel_does_not_list_webmail_session_tokens():
    # given a mailbox with one real app password and one webmail session token
    domain = DomainFactory(name="tokens.test")
    postmaster = postmaster_of(domain)
    mailbox = MailboxFactory(domain=domain, local_part="user")
    app_password_create(user=mailbox.user, name="Thunderbird")
    session_token_create(user=mailbox.user, remote_ip="198.51.100.7")

    # when the postmaster opens the mailbox page
    client = panel_client(postmaster.user)
    response = client.get(reverse("mailadmin:mailbox", args=[domain.name, mailbox.pk]))

    # then only the real app password is listed
    assert response.status_code == 200
    assert [ap.name for ap in response.context["app_passwords"]] == ["Thunderbird"]
    assert SESSION_TOKEN_PREFIX.encode() not in response.content
    assert b"198.51.100.7" not in response.content
