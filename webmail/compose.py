"""Composing: the compose state of a web session, uploaded attachments on disk, address
parsing, reply/forward prefill and the MIME message itself."""

from __future__ import annotations

import email.utils
import hashlib
import json
import mimetypes
import re
import secrets
import shutil
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from html import escape
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _

from portalkit import rendering
from webmail.htmltext import html_to_plain

SESSION_KEY = "webmail_compose"
MAX_COMPOSES = 20  # compose windows remembered per session


_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def upload_root() -> Path:
    return Path(settings.WEBMAIL_UPLOAD_DIR or (Path(settings.DATA_DIR) / "webmail-uploads"))


def max_message_size() -> int:
    return int(settings.SMTP_MAX_MESSAGE_SIZE)


def max_attachments_size() -> int:
    """Raw bytes that still fit once base64 (4/3) and headers are added."""
    return max_message_size() * 3 // 4 - 64 * 1024


@dataclass
class ComposeState:
    cid: str
    draft_uid: int | None = None
    in_reply_to: str = ""
    references: str = ""
    answered: tuple[str, int] | None = None  # (folder, uid) flagged \\Answered after sending
    forwarded: tuple[str, int] | None = None
    # {id, name, type, size}, and "inline": True for an image shown in the HTML body (sent as
    # a cid: part of multipart/related, never listed as an attachment)
    attachments: list[dict] = field(default_factory=list)
    initial: dict = field(default_factory=dict)  # form fields before the first draft is saved

    def to_json(self) -> dict:
        return self.__dict__.copy()


def _session_dir(request) -> Path:
    key = hashlib.sha256((request.session.session_key or "").encode()).hexdigest()[:32]
    return upload_root() / key


def compose_dir(request, cid: str) -> Path:
    return _session_dir(request) / cid


def state_new(request) -> ComposeState:
    states = request.session.get(SESSION_KEY, {})
    if len(states) >= MAX_COMPOSES:
        oldest = next(iter(states))
        states.pop(oldest)
        shutil.rmtree(compose_dir(request, oldest), ignore_errors=True)
    state = ComposeState(cid=secrets.token_urlsafe(12))
    states[state.cid] = state.to_json()
    request.session[SESSION_KEY] = states
    return state


def state_get(request, cid: str) -> ComposeState | None:
    data = request.session.get(SESSION_KEY, {}).get(cid)
    if data is None:
        return None
    data = dict(data)
    for key in ("answered", "forwarded"):
        if data.get(key):
            data[key] = tuple(data[key])
    data["attachments"] = _attachments_on_disk(compose_dir(request, cid))
    return ComposeState(**data)


def _attachments_on_disk(directory: Path) -> list[dict]:
    """The window's files, from their descriptions beside them. They live on disk, not in the
    session: an upload, the autosave and the editor's image uploads run at the same time, and
    each request saves the whole session (the last one would drop the others' files)."""
    items = []
    for meta in directory.glob("*.json") if directory.exists() else ():
        try:
            item = json.loads(meta.read_text())
        except (OSError, ValueError):
            continue
        if (directory / item.get("id", "-")).exists():
            items.append(item)
    return sorted(items, key=lambda a: a.get("seq", 0))


def state_save(request, state: ComposeState) -> None:
    states = request.session.get(SESSION_KEY, {})
    data = json.loads(json.dumps(state.to_json()))
    data.pop("attachments", None)  # on disk (_attachments_on_disk)
    states[state.cid] = data
    request.session[SESSION_KEY] = states


def state_drop(request, cid: str) -> None:
    states = request.session.get(SESSION_KEY, {})
    states.pop(cid, None)
    request.session[SESSION_KEY] = states
    shutil.rmtree(compose_dir(request, cid), ignore_errors=True)


def session_uploads_drop(request) -> None:
    shutil.rmtree(_session_dir(request), ignore_errors=True)


_AID = re.compile(r"^[0-9a-f]{16}$")


def attachment_add(
    request, state: ComposeState, *, name: str, content_type: str, chunks, inline: bool = False, aid: str = ""
) -> dict:
    """Store an uploaded file for this compose window (refused when the message would exceed
    the server's size limit). `inline`: an image of the HTML body (refused if not an image).
    `aid`: keep this id (a reopened draft's inline image keeps its cid)."""
    if inline and (content_type or "").lower() not in rendering.INLINE_IMAGE_TYPES:
        raise ValidationError(_("Only PNG, JPEG, GIF, WebP and BMP images can be shown in the message."))
    directory = compose_dir(request, state.cid)
    directory.mkdir(parents=True, exist_ok=True)
    taken = {a["id"] for a in state.attachments}
    if not (_AID.match(aid or "") and aid not in taken):
        aid = secrets.token_hex(8)
    path = directory / aid
    size = 0
    limit = max_attachments_size() - sum(a["size"] for a in state.attachments)
    with path.open("wb") as out:
        for chunk in chunks:
            size += len(chunk)
            if size > limit:
                out.close()
                path.unlink(missing_ok=True)
                raise ValidationError(
                    _("The attachments would exceed the largest message the server accepts (%(mb)s MB).")
                    % {"mb": max_message_size() // (1024 * 1024)}
                )
            out.write(chunk)
    # Control characters out: a name copied from a received message (forward, RFC 2231 lets it
    # carry CR/LF) would otherwise make the email package refuse the header (a 500 on send).
    name = Path(_CONTROL_CHARS.sub("_", name or "") or "attachment").name[:200] or "attachment"
    content_type = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    if "/" not in content_type:
        content_type = "application/octet-stream"
    item = {"id": aid, "name": name, "type": content_type, "size": size, "seq": time.time_ns()}
    if inline:
        item["inline"] = True
    _meta_write(directory, item)
    state.attachments.append(item)
    return item


def _meta_write(directory: Path, item: dict) -> None:
    tmp = directory / f".{item['id']}.tmp"
    tmp.write_text(json.dumps(item))
    tmp.replace(directory / f"{item['id']}.json")


def attachment_remove(request, state: ComposeState, aid: str) -> bool:
    before = len(state.attachments)
    state.attachments = [a for a in state.attachments if a["id"] != aid]
    if len(state.attachments) != before:
        (compose_dir(request, state.cid) / f"{Path(aid).name}.json").unlink(missing_ok=True)
        (compose_dir(request, state.cid) / Path(aid).name).unlink(missing_ok=True)
        return True
    return False


# Addresses ----------------------------------------------------------------------------------


def parse_addresses(value: str) -> tuple[list[tuple[str, str]], list[str]]:
    """("Name <a@b>, c@d" → [(name, address)], [invalid pieces])."""
    value = (value or "").replace(";", ",").replace("\n", ",")
    good, bad = [], []
    for piece in [p.strip() for p in value.split(",") if p.strip()]:
        pairs = email.utils.getaddresses([piece])
        if len(pairs) != 1 or not pairs[0][1]:
            bad.append(piece)
            continue
        name, address = pairs[0]
        try:
            validate_email(address)
        except ValidationError:
            bad.append(piece)
            continue
        good.append((name, address))
    return good, bad


def format_addresses(pairs) -> str:
    return ", ".join(email.utils.formataddr((n, a)) if n else a for n, a in pairs)


# HTML ---------------------------------------------------------------------------------------
#
# The editor shows an inline image from this compose window's own URL (compose_inline, an
# absolute URL: the sanitiser keeps no relative one); the message carries it as a cid: part
# named after the image's id. The HTML is cleaned by the reading sanitiser (portalkit.rendering)
# on every autosave and send: a script typed or pasted into the editor never leaves the server.

INLINE_CID_DOMAIN = "inline.mailsuite"
_EDITOR_IMAGE = re.compile(r"[^\s\"'<>]*/compose/[A-Za-z0-9_-]+/inline/([0-9a-f]{16})/")
_INLINE_CID = re.compile(r"^([0-9a-f]{16})@" + re.escape(INLINE_CID_DOMAIN) + "$")


def inline_cid(aid: str) -> str:
    return f"{aid}@{INLINE_CID_DOMAIN}"


def _inline_ids(state: ComposeState) -> set[str]:
    return {a["id"] for a in state.attachments if a.get("inline")}


def clean_html(state: ComposeState, source: str) -> tuple[str, frozenset]:
    """(the editor's HTML through the reading sanitiser, ids of the inline images it shows).
    The editor's image URLs become cid: references to this window's inline images; any other
    image (remote, data:, another window's) is dropped, as the reader drops it."""
    inline = _inline_ids(state)
    source = _EDITOR_IMAGE.sub(lambda m: f"cid:{inline_cid(m.group(1))}", source or "")
    used: set[str] = set()

    def cid_src(cid: str) -> str | None:
        match = _INLINE_CID.match(cid)
        return f"cid:{cid}" if match and match.group(1) in inline else None

    cleaned, _blocked = rendering.sanitize_html(
        source, cids={}, used_cids=used, allow_remote=False, cid_src=cid_src, allow_data_images=False
    )
    if not html_to_plain(cleaned).strip() and "<img" not in cleaned:
        cleaned = ""
    return cleaned, frozenset(_INLINE_CID.match(c).group(1) for c in used)


def editor_cid_src(request, state: ComposeState):
    """cid_src for rendering.render: this window's inline images shown from its own URL."""
    from django.urls import reverse

    inline = _inline_ids(state)

    def cid_src(cid: str) -> str | None:
        match = _INLINE_CID.match(cid)
        if not match or match.group(1) not in inline:
            return None
        return request.build_absolute_uri(reverse("webmail:compose_inline", args=[state.cid, match.group(1)]))

    return cid_src


def inline_images_restore(request, state: ComposeState, raw: bytes) -> None:
    """Copy a message's images that have a Content-ID into this window as inline images (a
    quoted original, a forward, a reopened draft; ours keep their id, hence their cid)."""
    msg = rendering.parse(raw)
    for part in rendering.walk(msg):
        if part.is_multipart() or part.get_content_type() not in rendering.INLINE_IMAGE_TYPES:
            continue
        cid = (rendering.decode_text(str(part.get("Content-ID", ""))) or "").strip().strip("<>").strip()
        if not cid:
            continue
        data = part.get_payload(decode=True) or b""
        if not data or len(data) > rendering.INLINE_IMAGE_MAX:
            continue
        own = _INLINE_CID.match(cid)
        try:
            item = attachment_add(
                request,
                state,
                name=rendering.decode_text(part.get_filename() or "") or "image",
                content_type=part.get_content_type(),
                chunks=[data],
                inline=True,
                aid=own.group(1) if own else "",
            )
        except ValidationError:
            break
        item["source_cid"] = cid
        _meta_write(compose_dir(request, state.cid), item)


def inline_unused_drop(request, state: ComposeState, html: str) -> None:
    """Inline images copied from an original that its (sanitised) HTML does not show."""
    for item in [a for a in state.attachments if a.get("inline")]:
        if f"/inline/{item['id']}/" not in html:
            attachment_remove(request, state, item["id"])


def html_cid_src(request, state: ComposeState):
    """cid_src for a quoted or forwarded original: its images restored by inline_images_restore."""
    from django.urls import reverse

    by_cid = {a.get("source_cid"): a["id"] for a in state.attachments if a.get("inline")}

    def cid_src(cid: str) -> str | None:
        aid = by_cid.get(cid)
        if not aid:
            return None
        return request.build_absolute_uri(reverse("webmail:compose_inline", args=[state.cid, aid]))

    return cid_src


def _html_document(body: str) -> str:
    # No <head>: the charset is in the part's Content-Type, and a reader drops it anyway.
    return f'<!DOCTYPE html><html><body><div style="font-family:sans-serif">{body}</div></body></html>'



def text_as_html(text: str) -> str:
    """Plain text as editor HTML: one <div> a line (Squire's own blocks)."""
    lines = (text or "").replace("\r\n", "\n").split("\n")
    return "".join(f"<div>{escape(line) or '<br>'}</div>" for line in lines)


def signature_html(prefs) -> str:
    """The HTML signature (sanitised when saved), or the text one as HTML; "" when none."""
    if prefs.signature_html:
        body = prefs.signature_html
    elif prefs.signature:
        body = text_as_html(prefs.signature)
    else:
        return ""
    return f"<div><br></div><div>-- </div>{body}"


def signature_text(prefs) -> str:
    text = prefs.signature or (html_to_plain(prefs.signature_html).strip() if prefs.signature_html else "")
    return f"\n\n-- \n{text}" if text else ""


# Building -----------------------------------------------------------------------------------


@dataclass
class Draft:
    sender_name: str
    sender: str
    to: list[tuple[str, str]]
    cc: list[tuple[str, str]]
    bcc: list[tuple[str, str]]
    subject: str
    body: str
    html: str = ""  # sanitised (clean_html); "" for a plain-text message
    inline_used: frozenset = frozenset()  # ids of the inline images the HTML shows


def _one_line(value: str) -> str:
    """A header value on one line: References and In-Reply-To copied from a received message are
    often folded over several lines (long threads), and the email package refuses a header
    value with CR or LF in it (a 500 on every reply in such a thread)."""
    return " ".join(value.split())


def build(request, state: ComposeState, draft: Draft, *, for_draft: bool) -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    sender_name = _one_line(draft.sender_name)
    msg["From"] = email.utils.formataddr((sender_name, draft.sender)) if sender_name else draft.sender
    if draft.to:
        msg["To"] = format_addresses(draft.to)
    if draft.cc:
        msg["Cc"] = format_addresses(draft.cc)
    if draft.bcc and for_draft:
        msg["Bcc"] = format_addresses(draft.bcc)
    msg["Subject"] = draft.subject
    msg["Date"] = email.utils.format_datetime(timezone.now())
    msg["Message-ID"] = email.utils.make_msgid(domain=draft.sender.rpartition("@")[2] or None)
    if _one_line(state.in_reply_to):
        msg["In-Reply-To"] = _one_line(state.in_reply_to)
    if _one_line(state.references):
        msg["References"] = _one_line(state.references)
    msg["User-Agent"] = "mailsuite webmail"
    msg["X-Mailsuite-Compose"] = state.cid if for_draft else None
    if msg["X-Mailsuite-Compose"] is None:
        del msg["X-Mailsuite-Compose"]
    msg.set_content(draft.body.replace("\r\n", "\n"), subtype="plain", charset="utf-8")
    directory = compose_dir(request, state.cid)
    if draft.html:
        msg.add_alternative(_html_document(draft.html), subtype="html", charset="utf-8")
        html_part = msg.get_payload()[1]
        for item in state.attachments:
            path = directory / item["id"]
            if not (item.get("inline") and item["id"] in draft.inline_used and path.exists()):
                continue
            maintype, _, subtype = item["type"].partition("/")
            html_part.add_related(
                path.read_bytes(),
                maintype=maintype,
                subtype=subtype,
                cid=f"<{inline_cid(item['id'])}>",
                filename=item["name"],
                disposition="inline",
            )
    for item in state.attachments:
        path = directory / item["id"]
        if item.get("inline") or not path.exists():
            continue
        maintype, _, subtype = item["type"].partition("/")
        msg.add_attachment(
            path.read_bytes(), maintype=maintype, subtype=subtype or "octet-stream", filename=item["name"]
        )
    return msg


def draft_fields(raw: bytes, *, cid_src=None) -> dict:
    """Form fields of a saved draft (to reopen it). `cid_src`: what its inline images become in
    the editor (editor_cid_src)."""
    parsed = rendering.render(raw, cid_src=cid_src or (lambda _cid: None))
    msg = rendering.parse(raw)

    def header_addresses(name: str) -> str:
        values = msg.get_all(name) or []
        return format_addresses(email.utils.getaddresses([rendering.decode_text(str(v)) for v in values]))

    return {
        "to": header_addresses("To"),
        "cc": header_addresses("Cc"),
        "bcc": header_addresses("Bcc"),
        "subject": parsed.subject,
        "body": parsed.text.replace("\r\n", "\n").removesuffix("\n"),  # set_content added the final newline
        "html": parsed.html,
        "format": "html" if parsed.html else "text",
        "in_reply_to": parsed.in_reply_to,
        "references": parsed.references,
    }


def draft_attachments_restore(request, state: ComposeState, raw: bytes) -> None:
    """Copy a message's attachments into this compose window (forward, reopened draft)."""
    parsed = rendering.render(raw)
    for att in parsed.attachments:
        try:
            ctype, name, payload = rendering.part_bytes(raw, att.index)
        except IndexError:
            continue
        try:
            attachment_add(request, state, name=name, content_type=ctype, chunks=[payload])
        except ValidationError:
            break


def _quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in text.splitlines())


def reply_prefill(parsed: rendering.Rendered, *, me: str, reply_all: bool) -> dict:
    targets = parsed.reply_to or parsed.sender
    to = [(a.name, a.email) for a in targets]
    cc = []
    if reply_all:
        seen = {a.lower() for _n, a in to} | {me.lower()}
        for a in parsed.to + parsed.cc:
            if a.email and a.email.lower() not in seen:
                cc.append((a.name, a.email))
                seen.add(a.email.lower())
    subject = parsed.subject
    if not subject.lower().startswith(("re:", "r:")):
        subject = f"Re: {subject}"
    when = parsed.date.strftime("%d/%m/%Y %H:%M") if parsed.date else ""
    who = str(parsed.sender[0]) if parsed.sender else ""
    header = _("On %(date)s, %(sender)s wrote:") % {"date": when, "sender": who}
    references = " ".join(x for x in (parsed.references, parsed.message_id) if x).strip()
    quoted = parsed.html or text_as_html(parsed.text)
    return {
        "to": format_addresses(to),
        "cc": format_addresses(cc),
        "subject": subject,
        "body": f"\n\n{header}\n{_quote(parsed.text)}\n",
        "html": f"<div><br></div><div>{escape(header)}</div><blockquote>{quoted}</blockquote>",
        "in_reply_to": parsed.message_id,
        "references": references,
    }


def forward_prefill(parsed: rendering.Rendered) -> dict:
    subject = parsed.subject
    if not subject.lower().startswith(("fwd:", "fw:", "i:")):
        subject = f"Fwd: {subject}"
    lines = [
        "",
        "",
        "-------- " + _("Forwarded message") + " --------",
        _("Subject") + ": " + parsed.subject,
        _("Date") + ": " + (parsed.date.strftime("%d/%m/%Y %H:%M") if parsed.date else ""),
        _("From") + ": " + ", ".join(str(a) for a in parsed.sender),
        _("To") + ": " + ", ".join(str(a) for a in parsed.to),
        "",
        parsed.text,
    ]
    head = "".join(f"<div>{escape(line)}</div>" for line in lines[2:-2])
    return {
        "to": "",
        "cc": "",
        "subject": subject,
        "body": "\n".join(lines),
        "html": f"<div><br></div>{head}<div><br></div>{parsed.html or text_as_html(parsed.text)}",
        "in_reply_to": "",
        "references": parsed.message_id,
    }
