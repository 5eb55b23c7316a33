"""Reading a message: the webmail's URLs around portalkit.reading (the sandboxed body frame, the
downloads), which every portal that shows a message shares."""

from __future__ import annotations

from urllib.parse import quote

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_sameorigin

from portalkit import reading, rendering
from webmail.contacts import contacts_for, images_trusted
from webmail.views.common import folder_param, mailbox_session, webmail_view


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


def _rendered(request: HttpRequest, raw: bytes, links=None) -> tuple[rendering.Rendered, bool]:
    """(the message rendered, whether its remote images are shown): shown when the user asked
    for this message, or always for a sender on their list (the same sanitiser either way)."""
    allow_remote = request.GET.get("images") == "1"
    parsed = rendering.render(raw, allow_remote=allow_remote, links=links)
    if not allow_remote and parsed.remote_images and parsed.sender:
        if images_trusted(user=request.user, sender=parsed.sender[0].email):
            return rendering.render(raw, allow_remote=True, links=links), True
    return parsed, allow_remote


def _allow_remote(request: HttpRequest, raw: bytes) -> bool:
    """Remote images are shown when the user asked for this message, or always for a sender on
    their list (the same sanitiser either way)."""
    if request.GET.get("images") == "1":
        return True
    sender = rendering.sender_address(raw)
    return bool(sender) and images_trusted(user=request.user, sender=sender)


@webmail_view
def message(request: HttpRequest, uid: int) -> HttpResponse:
    folder, raw, prev_uid, next_uid = _message(request, uid, mark_seen=True)
    allow_remote = _allow_remote(request, raw.raw)
    context = reading.message_context(raw, allow_remote=allow_remote, links=part_links(uid, folder))
    fq = quote(folder, safe="")
    sender = context["m"].sender[0] if context["m"].sender else None
    context.update(
        {
            "folder_name": folder,
            "is_draft": b"\\Draft" in raw.flags or folder == "Drafts",
            "prev_uid": prev_uid,
            "next_uid": next_uid,
            "body_url": f"{reverse('webmail:message_body', args=[uid])}?f={fq}",
            "images_url": f"?f={fq}&images=1",
            "sender": sender,
            "sender_is_contact": bool(sender and sender.email)
            and contacts_for(user=request.user).filter(address__iexact=sender.email).exists(),
            "trust_sender_url": reverse("webmail:trusted_sender_add"),
            "here": request.get_full_path(),
            "base_template": base_template(request),
        }
    )
    return render(request, "webmail/message.html", context)


@xframe_options_sameorigin
@webmail_view
def body(request: HttpRequest, uid: int) -> HttpResponse:
    _folder, raw, _p, _n = _message(request, uid)
    return reading.body_response(raw.raw, allow_remote=_allow_remote(request, raw.raw))


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
