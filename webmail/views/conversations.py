"""Conversations (THREAD=REFERENCES through mailstore) and the print view of a message."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from portalkit import rendering
from portalkit.reading import FRAME_STYLE
from webmail import services
from webmail.views.common import folder_param, mailbox_session, webmail_view
from webmail.views.reading import base_template, part_links

THREAD_MAX = 50  # messages of a conversation shown on its page (the newest)
PRINT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src 'none'; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'none'; sandbox"
)


@webmail_view
def thread(request: HttpRequest, uid: int) -> HttpResponse:
    """The conversation message `uid` belongs to, oldest first; the unread ones (and the last)
    open, and now read."""
    folder = folder_param(request)
    with mailbox_session(request) as mail:
        uids = mail.thread_of(folder, uid)
        raws = mail.messages_raw(folder, uids[-THREAD_MAX:], mark_seen=True)
    entries = []
    for i, raw in enumerate(raws):
        parsed = rendering.render(raw.raw, links=part_links(raw.uid, folder))
        entries.append(
            {
                "uid": raw.uid,
                "m": parsed,
                "unread": b"\\Seen" not in raw.flags,
                "open": b"\\Seen" not in raw.flags or i == len(raws) - 1,
                "text_html": rendering.text_to_html(parsed.text) if not parsed.html else "",
            }
        )
    context = {
        "folder_name": folder,
        "uid": uid,
        "entries": entries,
        "subject": entries[0]["m"].subject if entries else "",
        "count": len(uids),
        "hidden": len(uids) - len(raws),
        "base_template": base_template(request),
    }
    return render(request, "webmail/thread.html", context)


@webmail_view
def print_view(request: HttpRequest, uid: int) -> HttpResponse:
    """One message as a document of its own for printing: its headers and its body, no portal
    around it. The sender's HTML is inline here, so the page has the body frame's policy: no
    script at all, no request anywhere (remote images stay blocked)."""
    folder = folder_param(request)
    with mailbox_session(request) as mail:
        raw = mail.message_raw(folder, uid)
    parsed = rendering.render(raw.raw)
    body = parsed.html or f'<pre class="text">{rendering.text_to_html(parsed.text)}</pre>'
    document = render_to_string(
        "webmail/print.html", {"m": parsed, "body": body, "frame_style": FRAME_STYLE}, request=request
    )
    response = HttpResponse(document, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = PRINT_CSP
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
@webmail_view
def conversations_switch(request: HttpRequest) -> HttpResponse:
    """The list's switch: messages grouped into conversations, or one row per message."""
    services.preferences_update(user=request.user, threaded=request.POST.get("threaded") == "1")
    next_url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(next_url)
    return redirect("webmail:home")
