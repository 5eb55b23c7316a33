"""How every portal that shows a message answers its body frame, its source and its downloads
(webmail, Archive): the HTML body goes into a sandboxed <iframe> (no scripts, no same-origin,
popups only for links) under a Content-Security-Policy that allows nothing but inline styles and
images from the message itself (data:), plus http(s) images only when the user asked for remote
images; a download is never rendered by the browser in our origin."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote

from django.http import HttpResponse, StreamingHttpResponse

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


def body_frame(parsed: rendering.Rendered, *, allow_remote: bool) -> HttpResponse:
    """The document of the body frame of a rendered message."""
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
    safe = _UNSAFE_NAME.sub("_", filename) or "download"
    ascii_name = safe.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(safe)}"


def _download_headers(response: HttpResponse | StreamingHttpResponse, filename: str) -> None:
    response["Content-Disposition"] = attachment_disposition(filename)
    response["Content-Security-Policy"] = DOWNLOAD_CSP
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"


def download(content: bytes, *, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type or "application/octet-stream")
    _download_headers(response, filename)
    return response


def streamed_download(chunks: Iterable[bytes], *, filename: str, content_type: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(chunks, content_type=content_type)
    _download_headers(response, filename)
    return response


def part_download(payload: bytes, *, filename: str, content_type: str) -> HttpResponse:
    """An attachment: a type the browser would render (text, HTML, XML, script) is sent as
    application/octet-stream."""
    ctype = content_type
    if ctype.startswith("text/") or "html" in ctype or "xml" in ctype or "javascript" in ctype:
        ctype = "application/octet-stream"
    return download(payload, filename=filename, content_type=ctype)


def source(raw: bytes) -> HttpResponse:
    """A message's source as plain text, never rendered as anything else."""
    response = HttpResponse(raw.decode("utf-8", "replace"), content_type="text/plain; charset=utf-8")
    response["Content-Security-Policy"] = DOWNLOAD_CSP
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
