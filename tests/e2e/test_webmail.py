"""Playwright in Debian's Chromium against the live server: the webmail as people use it.
Log in, read, compose with an attachment to another mailbox, which sees it and replies; the
reply threads under the original subject; a draft survives a reload; a vacation reply arrives.
Screenshots at 1280 and 375 px wide go to test-artifacts/screenshots/ (gitignored)."""

import time

import pytest

from tests.e2e.conftest import SCREENSHOTS
from tests.webmail.conftest import WebmailUser, login, message, webmail_plane, wm  # noqa: F401 - fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]





def new_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="it-IT")
    return context, context.new_page()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900 if width > 600 else 800})
        page.screenshot(path=str(SCREENSHOTS / f"webmail-{name}-{width}.png"), full_page=True)
        if width == 375:
            assert page.evaluate("document.documentElement.scrollWidth") <= 375 + 1, name
    page.set_viewport_size({"width": 1280, "height": 900})


def sign_in(page, base, address, password):
    page.goto(f"{base}/webmail/login/")
    page.fill("input[name=login]", address)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def test_read_compose_with_attachment_reply_threads_draft_and_vacation(
    browser,
    live_server,
    wm,  # noqa: F811
    mailbox_factory,  # noqa: F811
    tmp_path,
):
    base = live_server.url
    a_addr, a_pw = mailbox_factory()
    b_addr, b_pw = mailbox_factory()
    alice = WebmailUser(client=None, address=a_addr, password=a_pw)
    bob = WebmailUser(client=None, address=b_addr, password=b_pw)
    alice.append(message(subject="Benvenuta", body="Ciao Alice, benvenuta nel nuovo webmail."))
    a_ctx, a = new_page(browser)
    b_ctx, b = new_page(browser)
    try:
        # alice logs in and reads a message
        sign_in(a, base, a_addr, a_pw)
        assert "/webmail/" in a.url and a.locator(".wm-row.unread").count() == 1
        shot(a, "inbox")
        a.click(".wm-row a.subject")
        a.wait_for_load_state()
        assert "benvenuta nel nuovo webmail" in a.inner_text(".wm-body-text")
        shot(a, "message")
        # she composes with an attachment (uploaded with progress) to bob
        a.click(".wm-compose")
        a.wait_for_load_state()
        attachment = tmp_path / "preventivo.txt"
        attachment.write_text("Totale: 1.000 EUR\n")
        a.set_input_files("input[data-file]", str(attachment))
        a.wait_for_selector("[data-attachments] li .name:text('preventivo.txt')")
        a.fill("#to", b_addr)
        a.fill("#subject", "Preventivo")
        a.fill("#body", "Ecco il preventivo.")
        shot(a, "compose")
        a.click("[data-send]")
        a.wait_for_load_state()
        assert a.locator(".alert-success").count() >= 1
        # bob sees it in his webmail, with the attachment, and replies
        assert wait_for(lambda: bool(bob.uids("INBOX")))
        sign_in(b, base, b_addr, b_pw)
        b.click(".wm-row a.subject:text('Preventivo')")
        b.wait_for_load_state()
        assert b.locator(".wm-attachments a:has-text('preventivo.txt')").count() == 1
        b.click("a[data-key=r]")
        b.wait_for_load_state()
        assert b.input_value("#subject") == "Re: Preventivo"
        b.fill("#body", "Approvato.\n\n" + b.input_value("#body"))
        b.click("[data-send]")
        b.wait_for_load_state()
        # the reply reaches alice and threads under the original's subject
        assert wait_for(lambda: len(alice.uids("INBOX")) == 2)
        a.goto(f"{base}/webmail/")
        assert a.locator(".wm-row a.subject:text('Re: Preventivo')").count() == 1
        a.click(".wm-row a.subject:text('Re: Preventivo')")
        a.wait_for_load_state()
        assert "Approvato." in a.inner_text(".wm-body-text") and "> Ecco il preventivo." in a.inner_text(
            ".wm-body-text"
        )
        with alice.imap() as imap:
            imap.select_folder("INBOX", readonly=True)
            uid = max(imap.search(["ALL"]))
            headers = imap.fetch([uid], ["BODY.PEEK[HEADER.FIELDS (IN-REPLY-TO REFERENCES)]"])[uid]
            sent_uid = max(imap.select_folder("Sent") and imap.search(["ALL"]))
            sent_id = imap.fetch([sent_uid], ["ENVELOPE"])[sent_uid][b"ENVELOPE"].message_id
        threading = headers[b"BODY[HEADER.FIELDS (IN-REPLY-TO REFERENCES)]"]
        assert threading.count(sent_id) == 2  # In-Reply-To and References name alice's message
        # a draft survives a reload
        a.click(".wm-compose")
        a.wait_for_load_state()
        a.fill("#subject", "Bozza importante")
        a.fill("#body", "Da finire domani")
        a.wait_for_selector("[data-compose][data-saved='1']", timeout=15000)
        a.reload()
        a.wait_for_load_state()
        assert (
            a.input_value("#subject") == "Bozza importante" and a.input_value("#body") == "Da finire domani"
        )
        # bob turns on his vacation reply; alice writes again and receives it
        b.goto(f"{base}/webmail/settings/vacation/")
        b.check("input[name=enabled]")
        b.fill("input[name=subject]", "Fuori ufficio")
        b.fill("textarea[name=body]", "Rientro lunedì.")
        shot(b, "vacation")
        b.click("form.form button[type=submit]")
        b.wait_for_load_state()
        a.goto(f"{base}/webmail/compose/?to={b_addr}")
        a.fill("#subject", "Domanda")
        a.fill("#body", "Ci sei?")
        a.click("[data-send]")
        a.wait_for_load_state()
        assert wait_for(lambda: len(alice.uids("INBOX")) == 3)
        a.goto(f"{base}/webmail/")
        assert a.locator(".wm-row a.subject:text('Fuori ufficio')").count() == 1
        shot(a, "inbox-after")
    finally:
        a_ctx.close()
        b_ctx.close()
