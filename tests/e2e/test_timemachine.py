"""Playwright in Debian's Chromium against the live server: the Time Machine as people use it.
Sign in, pick a day from the header's picker, open a message that is gone from the live mailbox,
download it as .eml. Screenshots at 1280 and 375 px go to test-artifacts/screenshots/."""

import datetime

import pytest
from django.utils import timezone

from mailstore.imap import imap_session
from tests.e2e.conftest import SCREENSHOTS
from tests.timemachine.conftest import mail, tm, tm_user  # noqa: F401 - fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900 if width > 600 else 800})
        page.screenshot(path=str(SCREENSHOTS / f"timemachine-{name}-{width}.png"), full_page=True)
        if width == 375:
            assert page.evaluate("document.documentElement.scrollWidth") <= 375 + 1, name
    page.set_viewport_size({"width": 1280, "height": 900})


def test_sign_in_pick_a_day_read_and_download_a_message(browser, live_server, tm_user):  # noqa: F811
    user = tm_user(log_in=False)
    earlier = timezone.localdate() - datetime.timedelta(days=3)
    original = mail(subject="Contratto firmato", body="Il contratto firmato è in allegato.\nA presto.")
    user.append(original)
    user.append(mail(subject="Promemoria", body="Riunione alle 10."))
    user.snapshot(earlier)
    with imap_session(user.address) as imap:  # the contract is deleted after that night
        imap.select_folder("INBOX")
        imap.delete_messages([1])
        imap.expunge()
    user.snapshot()
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
        assert open(download.path(), "rb").read() == original.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    finally:
        context.close()
