"""A message as every portal serves it (webmail, Time Machine, Archive): the reader page's context, the
HTML body for a sandboxed <iframe>, attachments, the source and the .eml, all as HTTP answers
that the browser never renders as our own pages.

The HTML body is served by its own URL into a sandboxed <iframe> (no scripts, no same-origin,
popups only for links) under a Content-Security-Policy that allows nothing but inline styles
and images from the message itself (data:), plus http(s) images only when the user asked to
show remote images for this message. Downloads are attachments with sniffing off and a CSP
that sandboxes them should a browser show them anyway. The portal only fetches the raw
message (mailstore.reader) and builds its own URLs (rendering.PartLinks)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote

from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.utils.translation import gettext as _

from mailstore.reader import RawMessage
from portalkit import rendering

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
_UNSAFE_NAME = re.compile(r'[\x00-\x1f"\\/;]')


def message_context(raw: RawMessage, *, allow_remote: bool, links: rendering.PartLinks) -> dict:
    """What the reader templates show of a message (portalkit/_message.html)."""
    parsed = rendering.render(raw.raw, allow_remote=allow_remote, links=links)
    return {
        "uid": raw.uid,
        "m": parsed,
        "flags": {f.decode() if isinstance(f, bytes) else f for f in raw.flags},
        "text_html": rendering.text_to_html(parsed.text) if not parsed.html else "",
        "images": allow_remote,
        "size": len(raw.raw),
    }


def body_response(raw: bytes, *, allow_remote: bool) -> HttpResponse:
    """The sanitised body as the document of the reader's sandboxed frame."""
    parsed = rendering.render(raw, allow_remote=allow_remote)
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


def attachment_disposition(filename: str) -> str:
    """A Content-Disposition naming `filename` (RFC 6266, with an ASCII fallback)."""
    safe = _UNSAFE_NAME.sub("_", filename) or "download"
    ascii_name = safe.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(safe)}"


def attachment_headers(response: HttpResponse, *, filename: str) -> HttpResponse:
    """Make `response` (plain, streaming or file) a download named `filename`, never rendered."""
    response["Content-Disposition"] = attachment_disposition(filename)
    response["Content-Security-Policy"] = DOWNLOAD_CSP
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def download_response(content: bytes, *, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type or "application/octet-stream")
    return attachment_headers(response, filename=filename)


def streamed_download(chunks: Iterable[bytes], *, filename: str, content_type: str) -> StreamingHttpResponse:
    """A download written while it is produced (folder and archive exports)."""
    return attachment_headers(StreamingHttpResponse(chunks, content_type=content_type), filename=filename)


def part_response(raw: bytes, index: int) -> HttpResponse:
    """Part `index` of the message as a download (404 when there is no such part)."""
    try:
        ctype, filename, payload = rendering.part_bytes(raw, index)
    except IndexError as exc:
        raise Http404 from exc
    # Never rendered by the browser in our origin: always a download, sniffing off.
    if ctype.startswith("text/") or "html" in ctype or "xml" in ctype or "javascript" in ctype:
        ctype = "application/octet-stream"
    return download_response(payload, filename=filename, content_type=ctype)


def source_response(raw: bytes) -> HttpResponse:
    response = HttpResponse(raw.decode("utf-8", "replace"), content_type="text/plain; charset=utf-8")
    response["Content-Security-Policy"] = DOWNLOAD_CSP
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def eml_response(raw: bytes) -> HttpResponse:
    """The message as a .eml file named after its subject."""
    subject = rendering.render(raw).subject.strip() or _("message")
    return download_response(raw, filename=f"{subject[:80]}.eml", content_type="message/rfc822")
