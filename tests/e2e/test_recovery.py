"""Playwright: a mailbox user who forgot the password asks for a link on the webmail's login
page, reads it in the email (Django's locmem outbox: the live server runs in this process),
chooses a new password and logs in with it. Screenshots at 375 and 1280 px."""

import re
import uuid

import pytest
import redis
from django.conf import settings
from django.core import mail

from domains.models import Mailbox
from domains.services.recovery import recovery_address_confirm, recovery_address_set
from mailsuite.celery import app as celery_app
from tests.e2e.conftest import SCREENSHOTS
from tests.factories import DomainFactory, MailboxFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "Nuova-Password-2026-ok"  # noqa: S105 - test data


@pytest.fixture
def recovery_env(settings):
    """The link is sent by a task: eager here (Celery's own switch); counters under a prefix
    of this test, removed afterwards."""
    settings.BRUTEFORCE_KEY_PREFIX = prefix = f"test-{uuid.uuid4().hex[:12]}:bf"
    saved = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = saved
    client = redis.Redis.from_url(settings.BRUTEFORCE_REDIS_URL)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)


def confirmed_mailbox(email: str) -> Mailbox:
    from django.core import signing

    from domains.services.recovery import _CONFIRM_SALT

    mailbox = MailboxFactory(domain=DomainFactory(name="ricorda.test"), local_part="anna")
    recovery_address_set(mailbox=mailbox, email=email)
    token = signing.dumps({"u": mailbox.user_id, "e": email}, salt=_CONFIRM_SALT)
    assert recovery_address_confirm(token=token) is not None
    return mailbox


def shot(page, name: str) -> None:
    """The current page at 1280 and at 375 px wide: nothing wider than a phone's screen."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900 if width > 600 else 800})
        page.screenshot(path=str(SCREENSHOTS / f"recovery-{name}-{width}.png"), full_page=True)
        if width == 375:
            assert page.evaluate("document.documentElement.scrollWidth") <= 375 + 1, name


@pytest.mark.parametrize("width", [375, 1280])
def test_forgot_password_email_link_new_password_then_login(browser, live_server, recovery_env, width):
    mailbox = confirmed_mailbox("anna@personale.example")
    mail.outbox.clear()
    base = live_server.url
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="it-IT")
    page = context.new_page()
    try:
        page.goto(f"{base}/webmail/login/")
        page.click("a[data-forgot-password]")
        page.wait_for_load_state()
        assert page.url == f"{base}/webmail/password/forgot/"
        shot(page, "forgot")
        page.fill("input[name=login]", mailbox.address)
        page.click("main form button[type=submit]")
        page.wait_for_load_state()
        assert page.locator("[data-recovery-answer]").count() == 1
        shot(page, "answer")
        # the email: one, to the recovery address, with the link on this server
        assert [m.to for m in mail.outbox] == [["anna@personale.example"]]
        link = re.search(r"http://\S+/webmail/password/reset/\S+/", mail.outbox[0].body).group(0)
        path = link[len(settings.PUBLIC_BASE_URL.rstrip("/")):]
        page.goto(f"{base}{path}")
        shot(page, "reset")
        page.fill("input[name=new_password1]", NEW_PASSWORD)
        page.fill("input[name=new_password2]", NEW_PASSWORD)
        page.click("main form button[type=submit]")
        page.wait_for_load_state()
        # not logged in by the link: the login page, with the notice
        assert page.url == f"{base}/webmail/login/?reset=1"
        assert page.locator("[data-reset-done]").count() == 1
        shot(page, "login-after-reset")
        page.fill("input[name=login]", mailbox.address)
        page.fill("input[name=password]", NEW_PASSWORD)
        page.click("main form button[type=submit]")
        page.wait_for_load_state()
        assert page.url == f"{base}/webmail/"
        # the link worked once
        page.goto(f"{base}{path}")
        assert page.locator("[data-reset-invalid]").count() == 1
    finally:
        context.close()
