"""The user's own mailbox as one download (issue 15 item 6): a .zip with an mbox per folder,
streamed (portalkit.exports.mailbox_zip_stream), every download audited."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.audit import audit_record
from domains.selectors import quota_usage
from mailstore.imap import LiveMailbox
from portalkit.exports import mailbox_export_response
from webmail.views.common import webmail_view


@webmail_view
def export_page(request: HttpRequest) -> HttpResponse:
    mailbox = request.mailbox
    used, messages = quota_usage([mailbox.address]).get(mailbox.address, (0, 0))
    return render(
        request,
        "webmail/settings_export.html",
        {"folder": None, "section": "settings_export", "used": used, "message_count": messages},
    )


@webmail_view
def export_download(request: HttpRequest) -> HttpResponse:
    mailbox = request.mailbox
    audit_record(
        actor=request.user,
        action="mailbox.export",
        domain=mailbox.domain,
        target=mailbox.address,
        after={"by": "owner"},
    )
    source = LiveMailbox(mailbox.address, client_name="mailsuite-export")
    return mailbox_export_response(source, address=mailbox.address)
