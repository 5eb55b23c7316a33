"""Playwright in Debian's Chromium: rich compose and contacts as people use them. Alice imports
a vCard, picks Bob from her contacts in the recipient field, writes an HTML message with bold
text and an inline image, drags a file onto the form (uploaded with progress), sends it; Bob
sees it formatted, the image displayed. Screenshots of every step at 375, 768 and 1280 px, light
and dark, in test-artifacts/screenshots/."""

import base64
import time

import pytest

from tests.e2e.conftest import SCREENSHOTS
from tests.webmail.conftest import WebmailUser, webmail_plane, wm  # noqa: F401 - fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = (375, 768, 1280)
PNG = base64.b64decode(  # 8x8 red PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEklEQVR4nGP4z8CAFWEXHbQSACj/P8Fu7N9hAAAAAElFTkSuQmCC"
)


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for theme in ("light", "dark"):
        page.emulate_media(color_scheme=theme)
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900 if width > 600 else 800})
            page.wait_for_timeout(30)
            page.screenshot(path=str(SCREENSHOTS / f"rich-{name}-{width}-{theme}.png"), full_page=True)
            if width == 375:
                assert page.evaluate("document.documentElement.scrollWidth") <= 376, (name, theme)
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 1280, "height": 900})


def sign_in(page, base, address, password):
    page.goto(f"{base}/webmail/login/")
    page.fill("input[name=login]", address)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    page.wait_for_load_state()


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


PASTE_IMAGE = """(b64) => {
    const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], "incollata.png", {type: "image/png"}));
    document.querySelector("[data-editor]").dispatchEvent(
        new ClipboardEvent("paste", {clipboardData: dt, bubbles: true, cancelable: true}));
}"""

DROP_FILE = """([selector, name, text]) => {
    const dt = new DataTransfer();
    dt.items.add(new File([text], name, {type: "text/plain"}));
    const target = document.querySelector(selector);
    for (const type of ["dragenter", "dragover", "drop"]) {
        target.dispatchEvent(new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true}));
    }
}"""


def test_contacts_import_pick_recipient_compose_html_with_image_and_dropped_attachment(
    browser,
    live_server,
    wm,  # noqa: F811
    mailbox_factory,
    tmp_path,
):
    base = live_server.url
    a_addr, a_pw = mailbox_factory()
    b_addr, b_pw = mailbox_factory()  # another domain: found through alice's contacts only
    bob = WebmailUser(client=None, address=b_addr, password=b_pw)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="it-IT")
    a = context.new_page()
    b_context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="it-IT")
    b = b_context.new_page()
    try:
        sign_in(a, base, a_addr, a_pw)
        # alice imports a vCard with Bob in it
        a.click("a[href='/webmail/contacts/']")
        a.wait_for_load_state()
        card = tmp_path / "rubrica.vcf"
        card.write_text(
            f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Roberto Bianchi\r\nEMAIL:{b_addr}\r\nORG:Bianchi S.p.A.\r\n"
            "END:VCARD\r\n"
        )
        a.set_input_files("[data-import] input[type=file]", str(card))
        shot(a, "contacts-import-chosen")
        a.click("[data-import] button[type=submit]")
        a.wait_for_load_state()
        assert a.locator("[data-contacts] td:has-text('Roberto Bianchi')").count() == 1
        shot(a, "contacts-imported")
        # she composes: Bob picked from the suggestions
        a.click(".wm-compose")
        a.wait_for_load_state()
        a.wait_for_selector("[data-editor]")
        assert a.is_hidden("#body")  # the plain-text textarea is the no-JavaScript fallback
        a.click("#to")
        a.keyboard.type("Robe")
        a.wait_for_selector(".wm-suggest li:has-text('Roberto Bianchi')")
        shot(a, "compose-suggest")
        a.click(".wm-suggest li:has-text('Roberto Bianchi')")
        assert b_addr in a.input_value("#to")
        a.fill("#subject", "Proposta formattata")
        # bold text typed with the toolbar
        a.click("[data-editor]")
        a.keyboard.type("Ciao Roberto, ecco la ")
        a.click("[data-cmd=bold]")
        assert a.get_attribute("[data-cmd=bold]", "aria-pressed") == "true"
        a.keyboard.type("proposta")
        a.click("[data-cmd=bold]")
        a.keyboard.type(" con il grafico:")
        a.keyboard.press("Enter")
        # an image inserted inline (uploaded to the draft, shown from its URL)
        image = tmp_path / "grafico.png"
        image.write_bytes(PNG)
        a.set_input_files("[data-insert-image]", str(image))
        a.wait_for_selector("[data-editor] img[src*='/inline/']")
        assert a.evaluate("document.querySelector('[data-editor] img').naturalWidth") == 8
        # and one pasted from the clipboard (a screenshot: an image file, no text)
        a.evaluate(PASTE_IMAGE, base64.b64encode(PNG).decode())
        a.wait_for_selector("[data-editor] img[src*='/inline/'] >> nth=1")
        # a file dragged onto the form becomes an attachment (XHR upload with progress)
        a.evaluate(DROP_FILE, ["[data-dropzone]", "preventivo.txt", "Totale: 1.000 EUR"])
        a.wait_for_selector("[data-attachments] li .name:text('preventivo.txt')")
        assert a.locator("[data-editor] b:text('proposta')").count() == 1
        shot(a, "compose-html")
        a.click("[data-send]")
        a.wait_for_load_state()
        assert a.locator(".alert-success").count() >= 1
        # bob sees it formatted: bold text, the image displayed, the attachment listed
        assert wait_for(lambda: bool(bob.uids("INBOX")))
        sign_in(b, base, b_addr, b_pw)
        b.click(".wm-row a.subject:text('Proposta formattata')")
        b.wait_for_load_state()
        frame = b.frame_locator(".wm-body-frame")
        assert frame.locator("b").inner_text() == "proposta"
        frame.locator("img").first.wait_for()
        frame_handle = b.query_selector(".wm-body-frame").content_frame()
        assert wait_for(lambda: frame_handle.evaluate("document.querySelector('img').naturalWidth") == 8)
        assert b.locator(".wm-attachments a:has-text('preventivo.txt')").count() == 1
        assert b.locator(".wm-attachments a:has-text('grafico.png')").count() == 0  # inline, not attached
        assert frame.locator("img").count() == 2
        shot(b, "received-formatted")
        # and the text alternative is there for plain-text readers
        with bob.imap() as imap:
            imap.select_folder("INBOX", readonly=True)
            uid = imap.search(["ALL"])[0]
            raw = imap.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
        assert b"multipart/alternative" in raw and b"multipart/related" in raw and b"data:image" not in raw
    finally:
        context.close()
        b_context.close()
