"""The webmail shell's weight: every stylesheet and script the webmail pages link (list, message,
conversation, compose, folders, settings), gzip-compressed as a server or proxy sends them,
stays under 150 KB in total (issue 11). The compose page's HTML editor (Squire) and sanitiser
(DOMPurify) count even before the compose page links them."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from django.conf import settings

from tests.webmail.conftest import message

pytestmark = pytest.mark.django_db(transaction=True)

BUDGET = 150 * 1024
STATIC = Path(settings.BASE_DIR) / "static"
ALWAYS = {"vendor/squire/squire.js", "vendor/dompurify/purify.min.js"}
ASSET = re.compile(rb'<(?:link[^>]+rel="stylesheet"[^>]+href|script[^>]+src)="([^"]+)"')


def linked_assets(html: bytes) -> set[str]:
    out = set()
    for url in ASSET.findall(html):
        url = url.decode().split("?", 1)[0]
        assert url.startswith(settings.STATIC_URL), f"{url}: not served by the project (no CDN)"
        out.add(url[len(settings.STATIC_URL) :])
    return out


def gzipped(path: str) -> int:
    return len(gzip.compress((STATIC / path).read_bytes(), compresslevel=9))


def test_the_webmail_shell_css_and_js_stay_under_150_kb_gzipped(webmail_user):
    user = webmail_user()
    uid = user.append(message(subject="Peso", body="Quanto pesa la pagina?"))
    user.append(message(subject="Re: Peso", body="Poco.", headers={"In-Reply-To": "<x@example.test>"}))
    pages = [
        "/webmail/",
        "/webmail/mail/?f=INBOX",
        f"/webmail/message/{uid}/?f=INBOX",
        f"/webmail/thread/{uid}/?f=INBOX",
        "/webmail/compose/",
        "/webmail/folders/",
        "/webmail/settings/",
    ]
    assets = set(ALWAYS)
    for url in pages:
        response = user.client.get(url, follow=True)
        assert response.status_code == 200, url
        found = linked_assets(response.content)
        assert any(a.endswith(".css") for a in found) and any(a.endswith(".js") for a in found), url
        assets |= found
    sizes = {a: gzipped(a) for a in sorted(assets)}
    total = sum(sizes.values())
    report = ", ".join(f"{a} {n / 1024:.1f} KB" for a, n in sizes.items())
    assert total < BUDGET, f"{total / 1024:.1f} KB gzipped > 150 KB: {report}"
    # the check counts what it should: the design system, the webmail's own files, the editor
    assert {"ds/ds.css", "ds/ds.js", "webmail/webmail.css", "webmail/webmail.js"} <= assets, report


def test_the_budget_check_counts_every_linked_file():
    html = (
        b'<link rel="stylesheet" href="/static/ds/ds.css">'
        b'<script src="/static/webmail/webmail.js" defer></script>'
        b'<link rel="icon" href="data:,">'
    )
    assert linked_assets(html) == {"ds/ds.css", "webmail/webmail.js"}
    assert gzipped("vendor/squire/squire.js") > 10 * 1024  # a real file, really compressed
