"""The shared renderer builds no URL of its own: the calling portal passes PartLinks, and each
attachment and inline image gets the URL the portal's function makes (webmail, Time Machine
and Archive differ only in those functions)."""

from __future__ import annotations

import base64

from portalkit.rendering import PartLinks, render

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def message_with_parts() -> bytes:
    png = base64.b64encode(PNG).decode()
    return (
        "From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: Parts\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=OUT\r\n\r\n"
        "--OUT\r\nContent-Type: multipart/related; boundary=REL\r\n\r\n"
        "--REL\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        '<p>Logo: <img src="cid:logo@x"></p>\r\n'
        "--REL\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
        f"{png}\r\n--REL--\r\n"
        "--OUT\r\nContent-Type: application/pdf\r\n"
        'Content-Disposition: attachment; filename="offer.pdf"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--OUT--\r\n"
    ).encode()


def test_without_links_attachments_have_no_url_and_inline_images_are_data_uris():
    # when a message is rendered without links
    rendered = render(message_with_parts())
    # then the attachment has no URL and the cid: image is inlined
    assert [(a.filename, a.url) for a in rendered.attachments] == [("offer.pdf", "")]
    assert 'src="data:image/png;base64,' in rendered.html


def test_the_callers_functions_build_every_url():
    # given a portal's own URL functions (a Time Machine day, say)
    links = PartLinks(
        part=lambda index: f"/timemachine/2026-03-01/message/7/part/{index}/",
        inline_image=lambda index: f"https://tm.example.test/2026-03-01/message/7/inline/{index}/",
    )
    # when the message is rendered with them
    rendered = render(message_with_parts(), links=links)
    # then the attachment links to the portal's part URL (its index in the MIME walk)
    assert [(a.filename, a.index) for a in rendered.attachments] == [("offer.pdf", 4)]
    assert rendered.attachments[0].url == "/timemachine/2026-03-01/message/7/part/4/"
    # and the inline image is the portal's URL of the image part, not a data: URI, and not listed
    assert '<img src="https://tm.example.test/2026-03-01/message/7/inline/3/">' in rendered.html
    assert "data:" not in rendered.html


def test_only_the_webmail_part_urls_change_with_links():
    # given links for attachments only (what the webmail passes)
    links = PartLinks(part=lambda index: f"/webmail/message/3/part/{index}/?f=INBOX")
    # when rendered
    with_links = render(message_with_parts(), links=links)
    without = render(message_with_parts())
    # then the body is the same as without links, and only the URLs are added
    assert with_links.html == without.html
    assert with_links.attachments[0].url == "/webmail/message/3/part/4/?f=INBOX"
