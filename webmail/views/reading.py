"""Reading a message. The HTML body is served by its own URL into a sandboxed <iframe>; the
frame's and the downloads' headers are portalkit.downloads' (shared with the Archive)."""

from __future__ import annotations

from urllib.parse import quote

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin

from portalkit import downloads, rendering
from webmail.views.common import folder_param, mailbox_session, webmail_view


def _message(request: HttpRequest, uid: int, *, mark_seen: bool = False):
    folder = folder_param(request)
    with mailbox_session(request) as mail:
        raw = mail.message_raw(folder, uid, mark_seen=mark_seen)
        prev_uid = next_uid = None
        if mark_seen:
            prev_uid, next_uid = mail.neighbours(folder, uid)
    return folder, raw, prev_uid, next_uid


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
    return render(request, "webmail/message.html", context)


@xframe_options_sameorigin
@webmail_view
def body(request: HttpRequest, uid: int) -> HttpResponse:
    _folder, raw, _p, _n = _message(request, uid)
    allow_remote = request.GET.get("images") == "1"
    parsed = rendering.render(raw.raw, allow_remote=allow_remote)
    return downloads.body_frame(parsed, allow_remote=allow_remote)


@webmail_view
def part(request: HttpRequest, uid: int, index: int) -> HttpResponse:
    _folder, raw, _p, _n = _message(request, uid)
    try:
        ctype, filename, payload = rendering.part_bytes(raw.raw, index)
    except IndexError as exc:
        raise Http404 from exc
    return downloads.part_download(payload, filename=filename, content_type=ctype)


@webmail_view
def source(request: HttpRequest, uid: int) -> HttpResponse:
    _folder, raw, _p, _n = _message(request, uid)
    return downloads.source(raw.raw)


@webmail_view
def eml(request: HttpRequest, uid: int) -> HttpResponse:
    _folder, raw, _p, _n = _message(request, uid)
    subject = rendering.render(raw.raw).subject.strip() or _("message")
    return downloads.download(raw.raw, filename=f"{subject[:80]}.eml", content_type="message/rfc822")
