"""Reading a message. The HTML body is served by its own URL into a sandboxed <iframe> (no
scripts, no same-origin, popups only for links) under a Content-Security-Policy that allows
nothing but inline styles and images from the message itself (data:), plus http(s) images only
when the user asked to show remote images for this message."""

from __future__ import annotations

import re
from urllib.parse import quote

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin

from portalkit import rendering
from webmail.views.common import folder_param, mailbox_session, webmail_view

FRAME_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:{remote}; font-src 'none'; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'self'; "
    "sandbox allow-popups allow-popups-to-escape-sandbox"
)
DOWNLOAD_CSP = "default-src 'none'; sandbox"
FRAME_STYLE = (
    "body{margin:0;padding:.5rem;font:15px/1.5 system-ui,sans-serif;color:#1b1f24;overflow-wrap:anywhere}"
    "img{max-width:100%;height:auto}table{max-width:100%}pre{white-space:pre-wrap}"
)


def _message(request: HttpRequest, uid: int, *, mark_seen: bool = False):
    folder = folder_param(request)
    with mailbox_session(request) as mail:
        raw = mail.message_raw(folder, uid, mark_seen=mark_seen)
        prev_uid = next_uid = None
        if mark_seen:
            prev_uid, next_uid = mail.neighbours(folder, uid)
    return folder, raw, prev_uid, next_uid


def base_template(request: HttpRequest) -> str:
    """The reading pane (static/webmail/webmail.js) asks for the page's content alone."""
    return "webmail/pane.html" if request.GET.get("pane") == "1" else "webmail/base.html"


def part_links(uid: int, folder: str) -> rendering.PartLinks:
    """The webmail's URLs for the parts of message `uid` (inline images stay data: URIs: the
    body's frame allows no other images of ours)."""
    base = reverse("webmail:message_part", args=[uid, 0])[: -len("0/")]
    query = f"?f={quote(folder, safe='')}"
    return rendering.PartLinks(part=lambda index: f"{base}{index}/{query}")


@webmail_view
def message(request: HttpRequest, uid: int) -> HttpResponse:
    folder, raw, prev_uid, next_uid = _message(request, uid, mark_seen=True)
    allow_remote = request.GET.get("images") == "1"
    parsed = rendering.render(raw.raw, allow_remote=allow_remote, links=part_links(uid, folder))
    context = {
        "folder_name": folder,
        "uid": uid,
        "m": parsed,
        "flags": {f.decode() for f in raw.flags},
        "is_draft": b"\\Draft" in raw.flags or folder == "Drafts",
        "text_html": rendering.text_to_html(parsed.text) if not parsed.html else "",
        "images": allow_remote,
        "prev_uid": prev_uid,
        "next_uid": next_uid,
        "size": len(raw.raw),
    }
    context["base_template"] = base_template(request)
    return render(request, "webmail/message.html", context)


@xframe_options_sameorigin
@webmail_view
def body(request: HttpRequest, uid: int) -> HttpResponse:
    _folder, raw, _p, _n = _message(request, uid)
    allow_remote = request.GET.get("images") == "1"
    parsed = rendering.render(raw.raw, allow_remote=allow_remote)
    content = parsed.html or f"<pre>{rendering.text_to_html(parsed.text)}</pre>"
    document = (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f'<meta name="referrer" content="no-referrer"><style>{FRAME_STYLE}</style></head>'
        f"<body>{content}</body></html>"
    )
    response = HttpResponse(document, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = FRAME_CSP.format(remote=" https: http:" if allow_remote else "")
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "private, no-store"
    return response


_UNSAFE_NAME = re.compile(r'[\x00-\x1f"\\/;]')


def _download(content: bytes, *, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type or "application/octet-stream")
    safe = _UNSAFE_NAME.sub("_", filename) or "download"
    from urllib.parse import quote

    ascii_name = safe.encode("ascii", "replace").decode().replace("?", "_")
    response["Content-Disposition"] = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(safe)}"
    response["Content-Security-Policy"] = DOWNLOAD_CSP
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@webmail_view
def part(request: HttpRequest, uid: int, index: int) -> HttpResponse:
    _folder, raw, _p, _n = _message(request, uid)
    try:
        ctype, filename, payload = rendering.part_bytes(raw.raw, index)
    except IndexError as exc:
        raise Http404 from exc
    # Never rendered by the browser in our origin: always a download, sniffing off.
    if ctype.startswith("text/") or "html" in ctype or "xml" in ctype or "javascript" in ctype:
        ctype = "application/octet-stream"
    return _download(payload, filename=filename, content_type=ctype)


@webmail_view
def source(request: HttpRequest, uid: int) -> HttpResponse:
    _folder, raw, _p, _n = _message(request, uid)
    response = HttpResponse(raw.raw.decode("utf-8", "replace"), content_type="text/plain; charset=utf-8")
    response["Content-Security-Policy"] = DOWNLOAD_CSP
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@webmail_view
def eml(request: HttpRequest, uid: int) -> HttpResponse:
    _folder, raw, _p, _n = _message(request, uid)
    subject = rendering.render(raw.raw).subject.strip() or _("message")
    return _download(raw.raw, filename=f"{subject[:80]}.eml", content_type="message/rfc822")
