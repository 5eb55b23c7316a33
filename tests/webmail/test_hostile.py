"""A corpus of hostile messages: each is rendered without running code, without fetching
remote content and without a server error. The reading page and the body frame are checked,
and the frame's Content-Security-Policy forbids scripts and remote loads."""

import base64
import re

import pytest
from django.utils import translation
from django.utils.translation import ngettext

HTML = "text/html; charset=utf-8"


def mime(body: str | bytes, *, ctype: str = HTML, subject: str = "hostile", extra: str = "") -> bytes:
    if isinstance(body, str):
        body = body.encode("utf-8")
    head = (
        f"From: Mallory <mallory@evil.test>\r\nTo: victim@example.test\r\nSubject: {subject}\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: {ctype}\r\n{extra}\r\n"
    )
    return head.encode() + body


CORPUS = {
    "script_tags": mime(
        '<p>hi</p><script>alert(1)</script><SCRIPT SRC="http://evil.test/x.js"></SCRIPT>'
        "<scr<script>ipt>alert(2)</script>"
    ),
    "event_handlers": mime(
        '<img src="x" onerror="alert(1)"><body onload="alert(2)"><div onmouseover="alert(3)">'
        'x</div><svg onload="alert(4)"></svg><a href="#" onclick="alert(5)">c</a>'
    ),
    "javascript_links": mime(
        '<a href="javascript:alert(1)">a</a><a href="JaVaScRiPt:alert(2)">b</a>'
        '<a href=" javascript:alert(3)">c</a><a href="jav&#x09;ascript:alert(4)">d</a>'
        '<form action="javascript:alert(5)"><button>e</button></form>'
    ),
    "data_links": mime(
        '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>'
        '<iframe src="data:text/html,<script>alert(1)</script>"></iframe>'
        '<object data="data:text/html,x"></object><embed src="data:image/svg+xml,x">'
    ),
    "css_expressions": mime(
        '<div style="width: expression(alert(1)); color: red">a</div>'
        '<div style="background:url(http://evil.test/track.png)">b</div>'
        '<div style="behavior: url(x.htc)">c</div>'
        "<style>@import url(http://evil.test/x.css); body{background:url(http://evil.test/b)}</style>"
        '<link rel="stylesheet" href="http://evil.test/s.css">'
    ),
    "remote_images": mime(
        '<p>news</p><img src="http://evil.test/pixel.gif" width="1" height="1">'
        '<img src="https://evil.test/banner.png"><img src="//evil.test/proto.png">'
        '<table background="http://evil.test/bg.png"><tr><td>t</td></tr></table>'
        '<video poster="http://evil.test/p.png"></video><meta http-equiv="refresh" '
        'content="0;url=http://evil.test/">'
    ),
    "malformed_mime": (
        b"From: x@evil.test\r\nTo: v@example.test\r\nSubject: broken\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="AAA"\r\n\r\n--AAA\r\nContent-Type: multipart/'
        b'alternative; boundary="BBB"\r\n\r\n--BBB\r\nContent-Type: text/html\r\nContent-Transfer-'
        b"Encoding: base64\r\n\r\n!!!not base64!!!\r\n--CCC\r\nContent-Type: text/plain; charset="
        b'"x-unknown-charset"\r\n\r\n\xff\xfe half\r\n--AAA\r\nContent-Type: application/octet-'
        b'stream; name="=?bogus?Q?x?="\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ='
        b"\r\n"
    ),
    "wrong_charset": mime(
        "<p>caff\u00e8 \u20ac</p>".encode("cp1252"),
        ctype="text/html; charset=utf-8",
        subject="=?x-nonsense?B?Zm9v?=",
    ),
    "big_attachment": None,  # built in the test (20 MB)
    "long_plain_text": mime(
        "\n".join(f"line {i} <script>alert({i})</script>" for i in range(10_000)),
        ctype="text/plain; charset=utf-8",
    ),
}


def big_attachment() -> bytes:
    payload = base64.encodebytes(b"\0" * (20 * 1024 * 1024))
    return (
        b"From: x@evil.test\r\nTo: v@example.test\r\nSubject: big\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=ZZ\r\n\r\n--ZZ\r\nContent-Type: text/html\r\n\r\n"
        b'<p>see attachment</p><img src="http://evil.test/x.png">\r\n--ZZ\r\nContent-Type: application/zip; '
        b"name=big.zip\r\nContent-Disposition: attachment; filename=big.zip\r\nContent-Transfer-Encoding: "
        b"base64\r\n\r\n" + payload + b"\r\n--ZZ--\r\n"
    )


FORBIDDEN = [
    re.compile(r"<script", re.I),
    re.compile(r"\son[a-z]+\s*=", re.I),
    re.compile(r"javascript:", re.I),
    re.compile(r"(src|href|action|data|poster|background)\s*=\s*[\"']?\s*(https?:)?//evil", re.I),
    re.compile(r"href\s*=\s*[\"']?data:", re.I),
    re.compile(r"expression\s*\(", re.I),
    re.compile(r"url\s*\(", re.I),
    re.compile(r"<(iframe|object|embed|form|link|meta|style|svg|video)\b", re.I),
]


@pytest.fixture(scope="module")
def big():
    return big_attachment()


@pytest.mark.parametrize("case", list(CORPUS))
def test_hostile_message_renders_inertly(case, webmail_user, big):
    # given a hostile message in the inbox
    user = webmail_user()
    raw = big if case == "big_attachment" else CORPUS[case]
    uid = user.append(raw)
    # when the user opens it
    page = user.client.get(f"/webmail/message/{uid}/", {"f": "INBOX"})
    frame = user.client.get(f"/webmail/message/{uid}/body/", {"f": "INBOX"})
    # then both answer 200, nothing executable or remote survives in the message's own markup
    assert page.status_code == 200 and frame.status_code == 200
    body = frame.content.decode()
    content = body.split("<body>", 1)[1]
    for pattern in FORBIDDEN:
        assert not pattern.search(content), (case, pattern.pattern)
    article = page.content.decode().split('<header class="wm-msghead">', 1)[1]
    article_content = article.split("</header>", 1)[1].split("</article>", 1)[0]
    for pattern in FORBIDDEN[:7]:
        assert not pattern.search(article_content), (case, pattern.pattern)
    # and the frame's policy forbids scripts and remote loads even if something slipped through
    csp = frame["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "img-src data:;" in csp
    assert "sandbox allow-popups allow-popups-to-escape-sandbox" in csp
    assert (
        'sandbox="allow-popups allow-popups-to-escape-sandbox"' in page.content.decode()
        or "wm-body-text" in page.content.decode()
    )


def test_remote_images_are_blocked_until_allowed_for_that_message(webmail_user):
    user = webmail_user()
    uid = user.append(CORPUS["remote_images"])
    page = user.client.get(f"/webmail/message/{uid}/", {"f": "INBOX"}).content.decode()
    with translation.override("it"):
        notice = ngettext(
            "%(n)s remote image was blocked to protect your privacy.",
            "%(n)s remote images were blocked to protect your privacy.",
            2,
        ) % {"n": 2}
    assert notice in page  # http and https; the protocol-relative one is dropped as a relative URL
    assert "?f=INBOX&amp;images=1" in page
    allowed = user.client.get(f"/webmail/message/{uid}/body/", {"f": "INBOX", "images": "1"})
    assert '<img src="http://evil.test/pixel.gif"' in allowed.content.decode()
    assert "img-src data: https: http:;" in allowed["Content-Security-Policy"]
    # protocol-relative and background images stay blocked even then
    assert (
        "//evil.test/proto.png" not in allowed.content.decode() and "bg.png" not in allowed.content.decode()
    )


def test_cid_images_are_inlined_and_not_listed_as_attachments(webmail_user):
    user = webmail_user()
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    raw = (
        b"From: a@example.test\r\nTo: b@example.test\r\nSubject: cid\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/related; boundary=R\r\n\r\n--R\r\nContent-Type: text/html\r\n\r\n"
        b'<p>logo <img src="cid:logo@x"></p>\r\n--R\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(png) + b"\r\n--R--\r\n"
    )
    uid = user.append(raw)
    frame = user.client.get(f"/webmail/message/{uid}/body/", {"f": "INBOX"}).content.decode()
    assert '<img src="data:image/png;base64,' + base64.b64encode(png).decode() + '"' in frame
    page = user.client.get(f"/webmail/message/{uid}/", {"f": "INBOX"}).content.decode()
    assert "wm-attachments" not in page


def test_html_attachment_is_downloaded_never_rendered(webmail_user):
    user = webmail_user()
    raw = (
        b"From: a@evil.test\r\nTo: b@example.test\r\nSubject: att\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=Q\r\n\r\n--Q\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
        b'--Q\r\nContent-Type: text/html; name="x.html"\r\n'
        b'Content-Disposition: attachment; filename="x.html"\r\n'
        b"\r\n<script>alert(document.cookie)</script>\r\n--Q--\r\n"
    )
    uid = user.append(raw)
    part = user.client.get(f"/webmail/message/{uid}/part/2/", {"f": "INBOX"})
    assert part.status_code == 200
    assert part["Content-Type"] == "application/octet-stream"
    assert part["Content-Disposition"].startswith("attachment;")
    assert (
        part["X-Content-Type-Options"] == "nosniff"
        and part["Content-Security-Policy"] == "default-src 'none'; sandbox"
    )
