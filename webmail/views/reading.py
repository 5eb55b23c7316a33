"""Reading a message: the webmail's URLs around portalkit.reading (the sandboxed body frame, the
downloads), which every portal that shows a message shares."""

from __future__ import annotations

from urllib.parse import quote

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_sameorigin

from portalkit import reading, rendering
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
    context = reading.message_context(raw, allow_remote=allow_remote, links=part_links(uid, folder))
    fq = quote(folder, safe="")
    context.update(
        {
            "folder_name": folder,
            "is_draft": b"\\Draft" in raw.flags or folder == "Drafts",
            "prev_uid": prev_uid,
            "next_uid": next_uid,
            "body_url": f"{reverse('webmail:message_body', args=[uid])}?f={fq}",
            "images_url": f"?f={fq}&images=1",
        }
    )
    return render(request, "webmail/message.html", context)


@xframe_options_sameorigin
@webmail_view
def body(request: HttpRequest, uid: int) -> HttpResponse:
    _folder, raw, _p, _n = _message(request, uid)
    return reading.body_response(raw.raw, allow_remote=request.GET.get("images") == "1")


@webmail_view
def part(request: HttpRequest, uid: int, index: int) -> HttpResponse:
    _folder, raw, _p, _n = _message(request, uid)
    return reading.part_response(raw.raw, index)


@webmail_view
def source(request: HttpRequest, uid: int) -> HttpResponse:
    _folder, raw, _p, _n = _message(request, uid)
    return reading.source_response(raw.raw)


@webmail_view
def eml(request: HttpRequest, uid: int) -> HttpResponse:
    _folder, raw, _p, _n = _message(request, uid)
    return reading.eml_response(raw.raw)
