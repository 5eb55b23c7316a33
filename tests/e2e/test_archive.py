"""Playwright in Debian's Chromium against the live server: the Archive portal as people use it.
A Delegate logs in for the first time (enrolment of an authenticator forced), searches and opens
a message; the Manager then sees those reads in the control panel, and the owner on the Archive.
Screenshots at 1280 and 375 px go to test-artifacts/screenshots/ (gitignored)."""

import datetime as dt

import pyotp
import pytest
from django.utils import timezone

from archiving.indexing import archive_index_pending
from archiving.services import archive_attach
from domains import services
from tests.archive.conftest import journal, raw
from tests.e2e.conftest import SCREENSHOTS
from tests.factories import (
    MAILBOX_PASSWORD,
    MANAGER_PASSWORD,
    CustomerFactory,
    DomainFactory,
    MailboxFactory,
    ManagerFactory,
)

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


@pytest.fixture
def archive_world():
    customer = CustomerFactory(company_name="Acme S.p.A.")
    domain = DomainFactory(customer=customer, name="acme.test")
    services.domain_set_branding(domain=domain, brand_name="Acme Holding")
    manager = ManagerFactory(customer=customer, domains=[domain], username="boss.acme")
    owner = MailboxFactory(domain=domain, local_part="ceo")
    archive = archive_attach(mailbox=owner, retention_years=10).archive
    for n in range(3):
        journal(owner, raw(f"weekly report {n}", date=f"Tue, 1{n} Jun 2025 10:00:00 +0200"))
    body = "<p>meet in <b>Zanzibar</b></p>"
    html = raw("Quarterly budget", date="Fri, 20 Jun 2025 10:00:00 +0200", body=body)
    html = html.replace(b"text/plain", b"text/html")
    journal(owner, html)
    archive_index_pending()
    services.delegate_create(
        manager=manager,
        username="ada.auditor",
        password=DELEGATE_PASSWORD,
        name="Ada Auditor",
        email="ada@auditors.test",
        expires_on=timezone.localdate() + dt.timedelta(days=30),
        grants=[(owner, "full")],
    )
    return owner, archive


def test_a_delegate_searches_and_opens_a_message_and_the_manager_sees_it(page, live_server, archive_world):
    owner, archive = archive_world
    base = live_server.url
    # the Delegate's first login: password, then the authenticator is enrolled
    page.goto(f"{base}/archive/login/?domain=acme.test")
    assert "Acme Holding" in page.inner_text("header")
    page.fill("input[name=login]", "ada.auditor")
    page.fill("input[name=password]", DELEGATE_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/archive/login/enrol/")
    shot(page, "delegate-enrol")
    page.fill("input[name=token]", pyotp.TOTP(page.inner_text("#totp-secret").strip()).now())
    page.click("main button[type=submit]")
    assert page.locator("#backup-codes li").count() == 10
    page.click("main button[type=submit]")
    page.wait_for_url(f"**/archive/a/{archive.pk}/")
    assert "2025" in page.inner_text("main")
    shot(page, "years")

    # search a word of the body, open the message
    page.fill("input[name=q]", "zanzibar")
    page.click("form[role=search] button[type=submit]")
    page.wait_for_url("**/search/?**")
    assert "1 message found." in page.inner_text("main")
    shot(page, "search")
    page.click("text=Quarterly budget")
    page.wait_for_load_state("networkidle")
    assert page.inner_text("h1") == "Quarterly budget"
    frame = page.frame_locator("iframe.ar-body-frame")
    assert frame.locator("b").inner_text() == "Zanzibar"
    shot(page, "message")
    page.goto(f"{base}/archive/a/{archive.pk}/2025/received/?sort=-subject")
    assert page.locator("table.ar-list tbody tr").count() == 4
    shot(page, "list")

    # the Manager sees the Delegate's reads in the control panel
    manager = page.context.browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    panel = manager.new_page()
    panel.goto(f"{base}/mailadmin/login/")
    panel.fill("input[name=login]", "boss.acme")
    panel.fill("input[name=password]", MANAGER_PASSWORD)
    panel.click("main button[type=submit]")
    panel.wait_for_load_state()
    panel.goto(f"{base}/mailadmin/d/acme.test/archive-reads/")
    rows = panel.inner_text("table tbody")
    assert "ada.auditor" in rows and "archive.delegate.open" in rows and "archive.delegate.search" in rows
    shot(panel, "panel-archive-reads")
    manager.close()

    # and the owner sees who read their archive
    owner_context = page.context.browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    mine = owner_context.new_page()
    mine.goto(f"{base}/archive/login/")
    mine.fill("input[name=login]", owner.address)
    mine.fill("input[name=password]", MAILBOX_PASSWORD)
    mine.click("main button[type=submit]")
    mine.wait_for_url(f"**/archive/a/{archive.pk}/")
    mine.click("text=Who read my archive")
    assert "ada.auditor" in mine.inner_text("table tbody")
    shot(mine, "owner-readers")
    owner_context.close()
