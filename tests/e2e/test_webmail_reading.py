"""Playwright in Debian's Chromium: reading in the webmail at 375, 768 and 1280 px, in the light and
the dark theme. On a wide screen a message opens in the reading pane beside the list (the address
bar follows, Back returns to the list, the keyboard opens the next one); on narrower screens it
opens its own page. A conversation opens with all its messages. Screenshots of every step go to
test-artifacts/screenshots/ (gitignored)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import SCREENSHOTS
from tests.webmail.conftest import WebmailUser, login, message, webmail_plane, wm  # noqa: F401 - fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = (375, 768, 1280)
THEMES = ("light", "dark")


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"webmail-reading-{name}.png"), full_page=True)


def sign_in(page, base, address, password):
    page.goto(f"{base}/webmail/login/")
    page.fill("input[name=login]", address)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    page.wait_for_load_state()


def test_reading_pane_and_conversations_at_every_width_and_theme(
    browser,
    live_server,
    wm,  # noqa: F811
    mailbox_factory,
):
    address, password = mailbox_factory()
    user = WebmailUser(client=None, address=address, password=password)
    first = "<gita-0@example.test>"
    user.append(message(subject="Gita", body="Andiamo al lago sabato?", headers={"Message-ID": first}))
    for i in (1, 2):
        headers = {"Message-ID": f"<gita-{i}@example.test>", "In-Reply-To": first, "References": first}
        user.append(message(subject="Re: Gita", body=f"Risposta numero {i}", headers=headers))
    single = user.append(message(subject="Bolletta", body="La bolletta di marzo è arrivata."))
    base = live_server.url
    for theme in THEMES:
        for width in WIDTHS:
            step = f"{width}-{theme}"
            context = browser.new_context(
                viewport={"width": width, "height": 900 if width > 600 else 800},
                locale="it-IT",
                color_scheme=theme,
            )
            page = context.new_page()
            try:
                sign_in(page, base, address, password)
                assert page.locator(".wm-row").count() == 2  # the conversation is one row
                assert page.locator(".wm-row.thread .wm-thread-count").inner_text() == "3"
                assert page.evaluate("document.documentElement.scrollWidth") <= width + 1, step
                shot(page, f"list-{step}")

                # read a message
                page.click(".wm-row:not(.thread) a.subject")
                message_url = f"/webmail/message/{single}/?f=INBOX"
                if width >= 1024:
                    page.wait_for_selector(".wm-pane .wm-message")
                    assert page.locator(".wm-list").is_visible()  # the list stays
                    assert page.url.endswith(message_url)  # and the address bar follows
                    assert "bolletta di marzo" in page.inner_text(".wm-pane .wm-body-text")
                else:
                    page.wait_for_url(f"**{message_url}")
                    assert page.locator(".wm-list").count() == 0  # phones: list, then message
                    assert "bolletta di marzo" in page.inner_text(".wm-body-text")
                assert page.evaluate("document.documentElement.scrollWidth") <= width + 1, step
                shot(page, f"message-{step}")

                # back to the list, then the conversation
                page.go_back()
                page.wait_for_selector(".wm-row.thread")
                if width >= 1024:
                    assert page.locator(".wm-pane .wm-message").count() == 0
                page.click(".wm-row.thread a.subject")
                scope = ".wm-pane " if width >= 1024 else ""
                page.wait_for_selector(f"{scope}.wm-thread")
                assert page.locator(f"{scope}.wm-thread-msg").count() == 3
                # (read ones are folded: their text is there, not shown)
                bodies = page.locator(f"{scope}.wm-thread").text_content()
                assert bodies.index("lago sabato") < bodies.index("Risposta numero 1") < bodies.index(
                    "Risposta numero 2"
                )
                assert page.evaluate("document.documentElement.scrollWidth") <= width + 1, step
                shot(page, f"thread-{step}")

                if width >= 1024:
                    # the keyboard: down to the first row, Enter reads it in the pane
                    page.goto(f"{base}/webmail/")
                    page.keyboard.press("ArrowDown")
                    page.keyboard.press("Enter")
                    page.wait_for_selector(".wm-pane .wm-pane-content")
                    assert "/webmail/" in page.url and page.locator(".wm-list").is_visible()
                    shot(page, f"keyboard-{step}")
                # nothing is unread any more: the tab title has no count
                page.goto(f"{base}/webmail/")
                assert not page.title().startswith("(")
            finally:
                context.close()
