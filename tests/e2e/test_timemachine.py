"""Playwright in Debian's Chromium against the live server: the Time Machine as people use it.
Sign in, pick a day from the header's picker, open a message that is gone from the live mailbox,
download it as .eml; then bring the mailbox back to that day: see the price, confirm, watch the
progress while a real Celery worker (queue `restores`) runs the restore, and find the messages
and the deleted folder back in the webmail. Screenshots at 1280 and 375 px go to
test-artifacts/screenshots/."""

import datetime
import re
import threading
from decimal import Decimal

import pytest
import redis
from django.utils import timezone

from billing.models import LedgerEvent, PriceList
from mailstore.imap import imap_session
from snapshots.models import RestoreRequest, RestoreState
from tests.e2e.conftest import SCREENSHOTS
from tests.snapshots.test_restore_worker_kill import kill9, start_worker, worker_env
from tests.timemachine.conftest import mail, tm, tm_user  # noqa: F401 - fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# A Redis database of this test's own for the Celery broker (the kill -9 restore test uses 13).
BROKER_URL = "redis://127.0.0.1:6379/12"


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900 if width > 600 else 800})
        page.screenshot(path=str(SCREENSHOTS / f"timemachine-{name}-{width}.png"), full_page=True)
        if width == 375:
            assert page.evaluate("document.documentElement.scrollWidth") <= 375 + 1, name
    page.set_viewport_size({"width": 1280, "height": 900})


@pytest.fixture
def restore_worker(tm, tmp_path):  # noqa: F811
    """A real Celery worker on the `restores` queue, started at once (it warms up while the
    browser signs in), with a broker of its own that the live server's threads publish to."""
    from mailsuite.celery import app

    broker = redis.Redis.from_url(BROKER_URL)
    broker.flushdb()
    conf = app.conf
    saved = (conf.broker_url, conf.result_backend, conf.task_always_eager)
    conf.broker_url, conf.result_backend, conf.task_always_eager = BROKER_URL, BROKER_URL, False
    _forget_connections(app)
    log = tmp_path / "worker.log"
    worker = start_worker(worker_env(BROKER_URL), log)
    try:
        yield log
    finally:
        kill9(worker)
        conf.broker_url, conf.result_backend, conf.task_always_eager = saved
        _forget_connections(app)
        broker.flushdb()


def _forget_connections(app) -> None:
    """Celery caches its producer pool and result backend: drop them after a broker change."""
    app._pool = None
    app.amqp._producer_pool = None
    app._backend_cache = None
    app._local = threading.local()


def test_sign_in_read_download_then_restore_the_day_into_the_webmail(
    browser,
    live_server,
    tm_user,  # noqa: F811
    restore_worker,
):
    user = tm_user(log_in=False)
    earlier = timezone.localdate() - datetime.timedelta(days=3)
    original = mail(subject="Contratto firmato", body="Il contratto firmato è in allegato.\nA presto.")
    user.append(original, flags=(b"\\Seen",))
    user.append(mail(subject="Promemoria", body="Riunione alle 10."))
    user.append(mail(subject="Preventivo 2026", body="In allegato il preventivo."), folder="Progetti")
    user.snapshot(earlier)
    with imap_session(user.address) as imap:  # the contract and the folder are deleted after that night
        imap.select_folder("INBOX")
        imap.delete_messages([1])
        imap.expunge()
        imap.select_folder("INBOX")
        imap.delete_folder("Progetti")
    user.snapshot()
    PriceList.objects.create(
        valid_from=timezone.localdate().replace(day=1),
        **dict.fromkeys(
            ["mailbox_extra", "quota_25", "quota_50", "quota_100", "send_2000", "send_5000", "archive"],
            Decimal("1.00"),
        ),
        intervention=Decimal("80.00"),
        timemachine_restore=Decimal("40.00"),
    )
    base = live_server.url
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="it-IT", accept_downloads=True
    )
    page = context.new_page()
    try:
        # signing in from the portal's address leads to the login and back to the day picker
        page.goto(f"{base}/timemachine/")
        assert "/timemachine/login/" in page.url
        shot(page, "login")
        page.fill("input[name=login]", user.address)
        page.fill("input[name=password]", user.password)
        page.click("main button[type=submit]")
        page.wait_for_load_state()
        assert page.url.rstrip("/").endswith("/timemachine")
        assert page.locator("tr[data-day]").count() == 2
        shot(page, "days")
        # today's snapshot no longer has the contract
        page.click(f"tr[data-day='{timezone.localdate().isoformat()}'] th a")
        page.wait_for_load_state()
        assert "Contratto firmato" not in page.inner_text(".wm-list")
        # picking the earlier day in the header shows the mailbox as it was then
        page.select_option("#tm-day", earlier.isoformat())
        page.click(".tm-picker button")
        page.wait_for_load_state()
        assert f"/timemachine/d/{earlier.isoformat()}/" in page.url
        assert "Contratto firmato" in page.inner_text(".wm-list")
        shot(page, "list")
        page.click(".wm-row a.subject >> text=Contratto firmato")
        page.wait_for_load_state()
        assert "Il contratto firmato è in allegato." in page.inner_text(".wm-body-text")
        shot(page, "message")
        with page.expect_download() as download_info:
            page.click("[data-eml]")
        download = download_info.value
        assert download.suggested_filename == "Contratto firmato.eml"
        with open(download.path(), "rb") as eml:
            assert eml.read() == original.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")

        # bring the whole mailbox back to that day: what comes back and the price, before paying
        page.goto(f"{base}/timemachine/")
        page.click(f"tr[data-day='{earlier.isoformat()}'] [data-restore]")
        page.wait_for_load_state()
        facts = page.inner_text("dl.facts")
        assert re.search(r"€ 40[,.]00", facts), facts
        assert "Progetti" in facts
        assert RestoreRequest.objects.count() == 0  # nothing asked, nothing charged yet
        shot(page, "restore-confirm")
        page.click("main form button[type=submit]")
        page.wait_for_load_state()
        assert re.search(r"/timemachine/restore/\d+/$", page.url), page.url
        # the bar follows the worker's progress (polled JSON) up to the end
        page.wait_for_function("document.querySelector('[data-progress-bar]').value === 100", timeout=90_000)
        request = RestoreRequest.objects.get()
        assert request.state == RestoreState.DONE, (request.error, restore_worker.read_text()[-2000:])
        assert (request.planned_messages, request.restored_messages) == (2, 2)
        assert page.inner_text("[data-progress-count]").startswith("2 ")
        page.reload()  # the page as served once done (its history table too)
        assert page.locator("progress[data-progress-bar]").get_attribute("value") == "100"
        shot(page, "restore-progress")
        assert [e.one_off_amount for e in LedgerEvent.objects.filter(kind="intervention")] == [
            Decimal("40.00")
        ]

        # the webmail shows the contract back in the inbox (still read) and the folder re-created
        page.goto(f"{base}/webmail/login/")
        page.fill("input[name=login]", user.address)
        page.fill("input[name=password]", user.password)
        page.click("main button[type=submit]")
        page.wait_for_load_state()
        inbox = page.locator(".wm-row", has_text="Contratto firmato")
        assert inbox.count() == 1 and "unread" not in (inbox.get_attribute("class") or "")
        assert page.locator(".wm-row", has_text="Promemoria").count() == 1
        shot(page, "restored-webmail")
        page.click(".wm-folders a >> text=Progetti")
        page.wait_for_load_state()
        assert page.locator(".wm-row a.subject", has_text="Preventivo 2026").count() == 1
    finally:
        context.close()
