"""Compose, reply, reply-all, forward; drafts saved to Drafts; sending through our submission
server with the session's token; a copy in Sent."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.client_address import client_ip
from mailstore.errors import NotFound
from mailstore.reader import MailSession
from portalkit import rendering
from webmail import compose, identities, submission
from webmail.htmltext import html_to_plain
from webmail.selectors import preferences_for
from webmail.services import recipients_record, session_token_create
from webmail.views.auth import TOKEN_KEY
from webmail.views.common import folder_param, mailbox_session, webmail_view
from webmail.views.mail import list_url

FIELDS = ("to", "cc", "bcc", "subject", "body", "html", "format")
HTML_MAX = 1_000_000  # characters of the editor's HTML (images travel as parts, not in it)


@webmail_view
def compose_new(request: HttpRequest) -> HttpResponse:
    state = compose.state_new(request)
    prefs = preferences_for(user=request.user)
    signature = compose.signature_text(prefs)
    signature_html = compose.signature_html(prefs)
    initial = {
        "to": request.GET.get("to", "")[:500],
        "cc": "",
        "bcc": "",
        "subject": "",
        "body": signature,
        "html": signature_html,
        "format": "html",
    }
    folder = folder_param(request)
    for mode in ("reply", "forward", "draft"):
        uid = request.GET.get(mode, "")
        if not uid.isdigit():
            continue
        with mailbox_session(request) as mail:
            raw = mail.message_raw(folder, int(uid)).raw
        if mode == "draft" and folder != "Drafts":
            raise Http404
        # The original's images shown in its HTML come along as inline images of this window.
        compose.inline_images_restore(request, state, raw)
        if mode == "draft":
            fill = compose.draft_fields(raw, cid_src=compose.editor_cid_src(request, state))
            compose.draft_attachments_restore(request, state, raw)
            state.draft_uid = int(uid)
        else:
            parsed = rendering.render(raw, cid_src=compose.html_cid_src(request, state))
            if mode == "reply":
                fill = compose.reply_prefill(
                    parsed, me=request.mailbox.address, reply_all=request.GET.get("all") == "1"
                )
                state.answered = (folder, int(uid))
            else:
                fill = compose.forward_prefill(parsed)
                compose.draft_attachments_restore(request, state, raw)
                state.forwarded = (folder, int(uid))
            fill["body"] = signature + fill["body"]
            fill["html"] = signature_html + fill["html"]
        compose.inline_unused_drop(request, state, fill["html"])
        state.in_reply_to = fill.pop("in_reply_to", "")
        state.references = fill.pop("references", "")
        initial.update(fill)
        break
    state.initial = initial
    compose.state_save(request, state)
    return redirect("webmail:compose", cid=state.cid)


def _state_or_404(request: HttpRequest, cid: str) -> compose.ComposeState:
    state = compose.state_get(request, cid)
    if state is None:
        raise Http404
    return state


def _fields(request: HttpRequest) -> dict:
    # NUL has no place in a text message (and the SMTP server's bookkeeping in PostgreSQL
    # refuses it: the send failed as "server unavailable").
    limits = {"body": 200_000, "html": HTML_MAX}
    return {name: request.POST.get(name, "")[: limits.get(name, 5000)].replace("\x00", "") for name in FIELDS}


def _draft(request: HttpRequest, state: compose.ComposeState, fields: dict) -> tuple[compose.Draft, dict]:
    errors = {}
    parsed = {}
    for name in ("to", "cc", "bcc"):
        good, bad = compose.parse_addresses(fields[name])
        parsed[name] = good
        if bad:
            errors[name] = _("Not a valid address: %(list)s") % {"list": ", ".join(bad)}
    prefs = preferences_for(user=request.user)
    html, inline_used, body = "", frozenset(), fields["body"]
    if fields["format"] == "html":
        # The editor's HTML, cleaned with the reading rules; the text part is made from it.
        html, inline_used = compose.clean_html(state, fields["html"])
        body = html_to_plain(html) if html else ""
    draft = compose.Draft(
        sender_name=prefs.display_name or request.mailbox.full_name,
        sender=identities.chosen_sender(request.mailbox, request.POST.get("from", "")),
        to=parsed["to"],
        cc=parsed["cc"],
        bcc=parsed["bcc"],
        subject=fields["subject"].replace("\r", " ").replace("\n", " ").strip(),
        body=body,
        html=html,
        inline_used=inline_used,
    )
    return draft, errors


def _render(request, state, fields, *, errors=None, send_error=None, status=200) -> HttpResponse:
    context = {
        "state": state,
        "fields": fields,
        "errors": errors or {},
        "send_error": send_error,
        "max_mb": compose.max_message_size() // (1024 * 1024),
        "max_bytes": compose.max_attachments_size(),
        "folder": None,
        "attachments": [a for a in state.attachments if not a.get("inline")],
        "editor_html": _editor_html(request, state, fields),
        "identities": identities.sender_choices(request.mailbox),
        "chosen_from": identities.chosen_sender(request.mailbox, request.POST.get("from", "")),
    }
    return render(request, "webmail/compose.html", context, status=status)


def _editor_html(request, state, fields) -> str:
    """What the HTML editor starts from: the form's HTML (its images shown from this window's
    URLs), or the plain text as HTML when the message is plain text."""
    if fields.get("format") == "html" and fields.get("html"):
        html, _used = compose.clean_html(state, fields["html"])
        cid_src = compose.editor_cid_src(request, state)
        shown, _blocked = rendering.sanitize_html(
            html, cids={}, used_cids=set(), allow_remote=False, cid_src=cid_src, allow_data_images=False
        )
        return shown
    return compose.text_as_html(fields.get("body", ""))


def _save_draft(request, mail: MailSession, state: compose.ComposeState, draft: compose.Draft) -> int | None:
    msg = compose.build(request, state, draft, for_draft=True)
    uid = mail.append("Drafts", msg.as_bytes(), flags=(b"\\Draft", b"\\Seen"))
    if state.draft_uid:
        mail.message_delete_now("Drafts", state.draft_uid)
    state.draft_uid = uid
    compose.state_save(request, state)
    return uid


@webmail_view
def compose_view(request: HttpRequest, cid: str) -> HttpResponse:
    state = _state_or_404(request, cid)
    if request.method == "GET":
        fields = dict(state.initial)
        if state.draft_uid:
            with mailbox_session(request) as mail:
                try:
                    raw = mail.message_raw("Drafts", state.draft_uid).raw
                    loaded = compose.draft_fields(raw, cid_src=compose.editor_cid_src(request, state))
                    fields.update({k: loaded[k] for k in FIELDS})
                except NotFound:
                    state.draft_uid = None
                    compose.state_save(request, state)
        return _render(request, state, fields)
    fields = _fields(request)
    for f in request.FILES.getlist("file"):  # the form without JavaScript
        try:
            compose.attachment_add(
                request, state, name=f.name, content_type=f.content_type, chunks=f.chunks()
            )
        except ValidationError as exc:
            compose.state_save(request, state)
            return _render(request, state, fields, errors={"file": " ".join(exc.messages)}, status=400)
    compose.state_save(request, state)
    draft, errors = _draft(request, state, fields)
    if request.POST.get("action") == "save":
        with mailbox_session(request) as mail:
            _save_draft(request, mail, state, draft)
        messages.success(request, _("Draft saved."))
        return redirect("webmail:compose", cid=cid)
    if not (draft.to or draft.cc or draft.bcc):
        errors.setdefault("to", _("Add at least one recipient."))
    if errors:
        return _render(request, state, fields, errors=errors, status=400)
    msg = compose.build(request, state, draft, for_draft=False)
    data = msg.as_bytes()
    if len(data) > compose.max_message_size():
        return _render(
            request,
            state,
            fields,
            send_error=submission.SendRefused(_("The message is larger than the server accepts.")),
            status=400,
        )
    recipients = [a for _n, a in draft.to + draft.cc + draft.bcc]
    try:
        result = _send(request, recipients=recipients, data=data)
    except submission.SendRefused as exc:
        return _render(request, state, fields, send_error=exc, status=400 if not exc.temporary else 503)
    with mailbox_session(request) as mail:
        mail.append("Sent", data, flags=(b"\\Seen",))
        if state.draft_uid:
            mail.message_delete_now("Drafts", state.draft_uid)
        for source, flag in ((state.answered, b"\\Answered"), (state.forwarded, b"$Forwarded")):
            if source:
                try:
                    mail.flag_add(source[0], source[1], flag)
                except NotFound:
                    pass
    recipients_record(user=request.user, recipients=draft.to + draft.cc + draft.bcc)
    compose.state_drop(request, cid)
    if result.refused:
        for _rcpt, why in result.refused.items():
            messages.warning(request, why)
    messages.success(request, _("Message sent."))
    return redirect(list_url("INBOX"))


def _send(request: HttpRequest, *, recipients: list[str], data: bytes) -> submission.SendResult:
    address = request.mailbox.address
    for attempt in (1, 2):
        token = request.session.get(TOKEN_KEY)
        if not token:
            app_password, clear = session_token_create(user=request.user, remote_ip=client_ip(request))
            token = {"id": app_password.pk, "token": clear}
            request.session[TOKEN_KEY] = token
            request.session.save()
        try:
            return submission.send(
                login=address, token=token["token"], sender=address, recipients=recipients, data=data
            )
        except submission.SendRefused as exc:
            if exc.auth and attempt == 1:
                request.session.pop(TOKEN_KEY, None)  # revoked elsewhere: make a new one
                continue
            raise
    raise AssertionError("unreachable")


@require_POST
@webmail_view
def autosave(request: HttpRequest, cid: str) -> JsonResponse:
    state = _state_or_404(request, cid)
    draft, _errors = _draft(request, state, _fields(request))
    with mailbox_session(request) as mail:
        uid = _save_draft(request, mail, state, draft)
    return JsonResponse({"draft_uid": uid})


@require_POST
@webmail_view
def upload(request: HttpRequest, cid: str) -> JsonResponse:
    state = _state_or_404(request, cid)
    files = request.FILES.getlist("file")
    if not files:
        return JsonResponse({"error": _("No file received.")}, status=400)
    inline = request.POST.get("inline") == "1"  # an image pasted or dropped into the HTML editor
    added = []
    for f in files:
        try:
            item = compose.attachment_add(
                request, state, name=f.name, content_type=f.content_type, chunks=f.chunks(), inline=inline
            )
            if inline:
                item = {
                    **item,
                    "url": request.build_absolute_uri(
                        reverse("webmail:compose_inline", args=[cid, item["id"]])
                    ),
                }
            added.append(item)
        except ValidationError as exc:
            return JsonResponse({"error": " ".join(exc.messages), "attachments": added}, status=413)
    # No session write: the files and their descriptions are on disk (compose.state_get).
    return JsonResponse({"attachments": added})


@webmail_view
def inline_image(request: HttpRequest, cid: str, aid: str) -> HttpResponse:
    """An inline image of this compose window, as the editor shows it (this session only)."""
    state = _state_or_404(request, cid)
    item = next((a for a in state.attachments if a["id"] == aid and a.get("inline")), None)
    path = compose.compose_dir(request, cid) / aid
    if item is None or item["type"] not in rendering.INLINE_IMAGE_TYPES or not path.exists():
        raise Http404
    response = HttpResponse(path.read_bytes(), content_type=item["type"])
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_POST
@webmail_view
def attachment_remove(request: HttpRequest, cid: str, aid: str) -> HttpResponse:
    state = _state_or_404(request, cid)
    if not compose.attachment_remove(request, state, aid):
        raise Http404
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"ok": True})
    return redirect(reverse("webmail:compose", kwargs={"cid": cid}))
