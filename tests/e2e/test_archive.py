"""Playwright in Debian's Chromium against the live server: the Archive as people use it, the
Done-when flow of issue 13 in one test. The Manager attaches an archive to a mailbox of the real
Dovecot in the control panel, maps its folders in the import wizard and watches the import's
progress while a real Celery worker runs it; a Delegate logs in for the first time (enrolment of
an authenticator forced), searches and opens an imported message; the Manager then sees those
reads in the control panel. Screenshots at 1280 and 375 px go to
test-artifacts/screenshots/ (gitignored)."""

import datetime as dt
import os
import signal

import pyotp
import pytest
from django.conf import settings
from django.utils import timezone

from archiving.indexing import archive_index_pending
from archiving.models import ArchivedMessage, ArchiveImport
from domains import services
from domains.models import Mailbox
from mailstore.imap import LiveMailbox
from mailstore.reader import mail_session
from tests.archive.conftest import raw
from tests.archiving.worker import import_queue, start_worker, stop_worker, wait_for
from tests.e2e.conftest import SCREENSHOTS
from tests.factories import CustomerFactory, DomainFactory, ManagerFactory
from tests.panel.conftest import panel_client

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DELEGATE_PASSWORD = "Delegate-Pass-2026-x"  # noqa: S105 - test data


@pytest.fixture(autouse=True)
def _blobs(settings, tmp_path):
    settings.ARCHIVE_BLOB_DIR = tmp_path / "archive"


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    yield page
    context.close()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900 if width > 600 else 800})
        page.screenshot(path=str(SCREENSHOTS / f"archive-{name}-{width}.png"), full_page=True)
        if width == 375:
            assert page.evaluate("document.documentElement.scrollWidth") <= 375 + 1, name
    page.set_viewport_size({"width": 1280, "height": 900})


def signed_in(context, base: str, user) -> None:
    """`context` logged into the control panel as `user` (its login page is the panel's tests'
    and tests/e2e/test_panel.py's: here a session cookie saves the password hashing)."""
    client = panel_client(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies(
        [{"name": cookie.key, "value": cookie.value, "url": base, "secure": settings.SESSION_COOKIE_SECURE}]
    )


@pytest.fixture
def archive_world(mailplane, mailbox_factory):
    """acme.test with its Manager, the mailbox ceo@ on the real Dovecot with mail in INBOX and
    Sent (no archive yet), and a Delegate granted its full content."""
    customer = CustomerFactory(company_name="Acme S.p.A.")
    domain = DomainFactory(customer=customer, name="acme.test")
    services.domain_set_branding(domain=domain, brand_name="Acme Holding")
    manager = ManagerFactory(customer=customer, domains=[domain], username="boss.acme")
    address, _password = mailbox_factory(domain=domain, local_part="ceo")
    owner = Mailbox.objects.get(domain=domain, local_part="ceo")
    html = raw(
        "Quarterly budget", date="Fri, 20 Jun 2025 10:00:00 +0200", body="<p>meet in <b>Zanzibar</b></p>"
    )
    reply = raw("Re: dinner", date="Tue, 01 Jul 2025 09:00:00 +0200", sender=address, to="alice@far.example")
    with mail_session(LiveMailbox(address)) as store:
        if "Sent" not in store.folder_names():
            store.folder_create("Sent")
        for n in range(3):
            store.append("INBOX", raw(f"weekly report {n}", date=f"Tue, 1{n} Jun 2025 10:00:00 +0200"))
        store.append("INBOX", html.replace(b"text/plain", b"text/html"))
        store.append("Sent", reply)
    services.delegate_create(
        manager=manager,
        username="ada.auditor",
        password=DELEGATE_PASSWORD,
        name="Ada Auditor",
        email="ada@auditors.test",
        expires_on=timezone.localdate() + dt.timedelta(days=30),
        grants=[(owner, "full")],
    )
    return owner, manager.user


@pytest.fixture
def archive_worker(mailplane, settings, tmp_path):
    """A real Celery worker on an import queue of this test's own, started first (it boots
    while the data is made and the browser works); yields (process, log)."""
    queue = import_queue()
    settings.ARCHIVE_IMPORT_QUEUE = queue
    log = tmp_path / "worker.log"
    process = start_worker(queue, log, batch=2, pause=0.2)
    yield process, log
    os.kill(process.pid, signal.SIGCONT)  # in case the test stopped before resuming it
    stop_worker(process, graceful=False)  # idle by then: no warm shutdown to wait for


def test_the_manager_imports_a_delegate_reads_and_the_manager_sees_the_reads(
    archive_worker, page, live_server, archive_world
):
    owner, manager_user = archive_world
    worker, log = archive_worker
    base = live_server.url

    # the Manager attaches an archive (the price confirmed) and lands on the import wizard
    manager_context = page.context.browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="en-US"
    )
    panel = manager_context.new_page()
    signed_in(manager_context, base, manager_user)
    panel.goto(f"{base}/mailadmin/d/acme.test/m/{owner.pk}/")
    panel.select_option("select[name=retention_years]", "5")
    panel.click("button:has-text('Attach an archive')")
    panel.click("button:has-text('Confirm and pay')")
    panel.wait_for_url(f"**/mailadmin/d/acme.test/m/{owner.pk}/archive/import/")
    wizard = panel.inner_text("table[data-import-folders] tbody")
    assert "Inbox" in wizard and "Sent" in wizard
    shot(panel, "panel-import-wizard")

    # the worker is held (SIGSTOP) while the import is queued, so the page shows it waiting and
    # then follows it by itself (archive/import.js polls) to the end; the mapping is the wizard's
    # own (INBOX to Received, Sent to Sent)
    os.kill(worker.pid, signal.SIGSTOP)
    panel.click("button:has-text('Start the import')")
    panel.wait_for_url("**/archive/import/*/")
    assert panel.inner_text("[data-import-state]") == "Queued"
    assert panel.get_attribute("[data-import-bar]", "value") == "0"
    os.kill(worker.pid, signal.SIGCONT)
    panel.wait_for_function(
        "document.querySelector('[data-import-state]').textContent.trim() === 'Done'", timeout=90_000
    )
    assert panel.get_attribute("[data-import-bar]", "value") == "100"
    assert panel.inner_text("[data-import-count=imported]") == "5"
    shot(panel, "panel-import-progress")
    job = wait_for(lambda: ArchiveImport.objects.filter(state="done").first(), 10, "the job row", log)
    archive = job.archive
    folders = sorted(ArchivedMessage.objects.filter(archive=archive).values_list("folder", "subject"))
    assert folders[-1] == ("sent", "Re: dinner") and len(folders) == 5
    archive_index_pending()  # the bodies become searchable (a beat task in production)

    # the Delegate's first login: password, then the authenticator is enrolled
    page.goto(f"{base}/archive/login/?domain=acme.test")
    assert "Acme Holding" in page.inner_text("header")
    page.fill("input[name=login]", "ada.auditor")
    page.fill("input[name=password]", DELEGATE_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/archive/login/enrol/")
    page.fill("input[name=token]", pyotp.TOTP(page.inner_text("#totp-secret").strip()).now())
    page.click("main button[type=submit]")
    assert page.locator("#backup-codes li").count() == 10
    page.click("main button[type=submit]")
    page.wait_for_url(f"**/archive/a/{archive.pk}/")

    # searches a word of the body and opens the message
    page.fill("input[name=q]", "zanzibar")
    page.click("form[role=search] button[type=submit]")
    page.wait_for_url("**/search/?**")
    assert "1 message found." in page.inner_text("main")
    page.click("text=Quarterly budget")
    page.wait_for_load_state("networkidle")
    assert page.inner_text("h1") == "Quarterly budget"
    frame = page.frame_locator("iframe.ar-body-frame")
    assert frame.locator("b").inner_text() == "Zanzibar"
    shot(page, "message")

    # the Manager sees the Delegate's reads in the control panel
    panel.goto(f"{base}/mailadmin/d/acme.test/archive-reads/")
    rows = panel.inner_text("table tbody")
    assert "ada.auditor" in rows and "archive.delegate.open" in rows and "archive.delegate.search" in rows
    shot(panel, "panel-archive-reads")
    manager_context.close()
