"""Reading a message: MIME tree → headers, the body to show, attachments; HTML sanitised with nh3.

Hostile input is the normal case here. The parser is Python's compat32 email parser (it never
raises on a malformed tree, it records defects), headers and bodies are decoded by hand with
replacement characters for unknown or wrong charsets, and the HTML body goes through nh3 with
a short allow-list: no scripts, no event handlers, no <style> blocks, no forms or frames, links
only to http(s)/mailto, images only from the message itself (cid: parts, inlined as data: URIs)
or, when the user allowed it for this message, from http(s). The result is still served in a
sandboxed frame under a strict Content-Security-Policy (see portalkit.reading).

One renderer for every portal that shows a message (webmail and Time Machine now; Archive
next): it knows no view names. A portal that wants links in the result passes PartLinks, its
own functions from a part's index to the URL that serves it (an attachment download, an inline
image); without them attachments carry no URL and inline images become data: URIs."""

from __future__ import annotations

import base64
import codecs
import email
import email.message
import email.parser
import email.utils
import functools
import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import nh3

from mailstore.reader import Address, decode_text
from portalkit.mimeparse import quick_parse

INLINE_IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"}
INLINE_IMAGE_MAX = 5 * 1024 * 1024
TEXT_MAX = 2 * 1024 * 1024  # characters of a body shown; the rest is in "view source"

ALLOWED_TAGS = (set(nh3.ALLOWED_TAGS) | {"font", "center", "tfoot"}) - {"map", "area"}
GENERIC_ATTRIBUTES = {
    "style",
    "align",
    "valign",
    "width",
    "height",
    "bgcolor",
    "color",
    "dir",
    "title",
    "lang",
    "border",
    "cellpadding",
    "cellspacing",
    "colspan",
    "rowspan",
    "nowrap",
}
TAG_ATTRIBUTES = {
    "a": {"href", "hreflang", "name"},
    "img": {"src", "alt", "width", "height", "align", "border"},
    "font": {"face", "size", "color"},
    "ol": {"start", "type"},
    "ul": {"type"},
    "td": {"headers", "scope"},
    "th": {"headers", "scope"},
    "blockquote": {"cite"},
}
STYLE_PROPERTIES = {
    "color",
    "background-color",
    "font",
    "font-family",
    "font-size",
    "font-style",
    "font-weight",
    "text-align",
    "text-decoration",
    "text-indent",
    "text-transform",
    "line-height",
    "letter-spacing",
    "white-space",
    "word-break",
    "word-wrap",
    "overflow-wrap",
    "vertical-align",
    "direction",
    "margin",
    "margin-top",
    "margin-right",
    "margin-bottom",
    "margin-left",
    "padding",
    "padding-top",
    "padding-right",
    "padding-bottom",
    "padding-left",
    "border",
    "border-top",
    "border-right",
    "border-bottom",
    "border-left",
    "border-color",
    "border-style",
    "border-width",
    "border-collapse",
    "border-spacing",
    "border-radius",
    "width",
    "height",
    "max-width",
    "min-width",
    "max-height",
    "min-height",
    "display",
    "float",
    "clear",
    "list-style-type",
    "table-layout",
}
_DANGEROUS_STYLE = re.compile(r"url\s*\(|expression\s*\(|javascript:|behavior|-moz-binding|@import|\\", re.I)
_LINK_SCHEMES = ("http://", "https://", "mailto:")
_DATA_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|webp|bmp);base64,[a-z0-9+/=\s]+$", re.I)


@dataclass(frozen=True)
class PartLinks:
    """How the calling portal addresses the parts of the message it renders: each function takes
    a part's index (its position in the MIME walk) and returns the URL that serves it."""

    part: Callable[[int], str]  # downloads the part (attachments)
    # Shows an inline image; None: a data: URI. Must be an absolute http(s) URL (the portal's
    # absolute-URL builder): the sanitiser drops relative URLs, the message's and ours alike.
    inline_image: Callable[[int], str] | None = None


@dataclass
class Attachment:
    index: int  # position in the MIME walk: the id in URLs
    filename: str
    content_type: str
    size: int
    content_id: str = ""
    url: str = ""  # from PartLinks.part; "" when the caller passed no links


@dataclass
class Rendered:
    subject: str = ""
    sender: list[Address] = field(default_factory=list)
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    reply_to: list[Address] = field(default_factory=list)
    date: datetime | None = None
    message_id: str = ""
    in_reply_to: str = ""
    references: str = ""
    html: str = ""  # sanitised HTML body ("" when the message has none)
    text: str = ""  # plain-text body (or the HTML's text when there is no plain part)
    attachments: list[Attachment] = field(default_factory=list)
    remote_images: int = 0  # remote images removed (0 when they were allowed)
    defects: int = 0


def parse(raw: bytes) -> email.message.Message:
    quick = quick_parse(raw)  # the same tree, sooner, for messages of the usual shape
    if quick is not None:
        return quick
    try:
        return email.message_from_bytes(raw)
    except RecursionError:
        # The parser recurses once per nesting level: a few kilobytes of nested multiparts or
        # message/rfc822 parts (a MIME bomb) exhaust Python's stack. Headers only, then: the
        # body is shown as its raw text and has no parts.
        return email.parser.BytesParser().parsebytes(raw, headersonly=True)


def sender_address(raw: bytes) -> str:
    """The first From address of a message, from its headers alone ("" when there is none)."""
    head = email.parser.BytesParser().parsebytes(raw, headersonly=True)
    senders = _addresses(head.get_all("From"))
    return senders[0].email.lower() if senders and senders[0].email else ""


def _charset(part: email.message.Message) -> str:
    value = part.get("content-type")
    if isinstance(value, str) and len(value) <= _CHARSET_CACHE_CHARS:
        return _charset_of(value)
    return _charset_uncached(part)


# A part's charset, by its Content-Type: a mailbox's messages carry the same few ("text/plain;
# charset=utf-8"), and reading the parameters was a seventh of rendering a message for an
# ActiveSync Sync. Long or 8-bit values (a Header object) are read each time.
_CHARSET_CACHE_CHARS = 300


@functools.lru_cache(maxsize=512)
def _charset_of(content_type: str) -> str:
    probe = email.message.Message()
    probe._headers = [("Content-Type", content_type)]
    return _charset_uncached(probe)


def _charset_uncached(part: email.message.Message) -> str:
    name = part.get_content_charset() or "us-ascii"
    try:
        codecs.lookup(name)
    except LookupError:
        return "utf-8"
    return name


def part_text(part: email.message.Message) -> str:
    payload = part.get_payload(decode=True)
    if payload is None:
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    charset = _charset(part)
    if charset.lower() in ("us-ascii", "ascii"):
        charset = "utf-8"  # mislabelled 8-bit text is far more common than real ASCII
    try:
        return payload.decode(charset, "replace")
    except (LookupError, UnicodeError):
        return payload.decode("utf-8", "replace")


def _addresses(value) -> list[Address]:
    if not value:
        return []
    values = tuple(str(v) for v in ([value] if isinstance(value, str) else value))
    if sum(map(len, values)) > _ADDRESS_CACHE_CHARS:
        pairs = _address_pairs.__wrapped__(values)
    else:
        pairs = _address_pairs(values)
    return [Address(name=name, email=addr) for name, addr in pairs]


# Address headers parsed, by their text: a mailbox's messages come from and go to the same few
# people (the To of most is the owner), and parsing one took a fifth of the time of rendering a
# message for ActiveSync (bench/activesync.py --sync-only). Long headers are not kept.
_ADDRESS_CACHE_CHARS = 2000


@functools.lru_cache(maxsize=4096)
def _address_pairs(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    try:
        pairs = email.utils.getaddresses([decode_text(v) for v in values])
    except (TypeError, ValueError, IndexError):
        return ()
    return tuple((name, addr) for name, addr in pairs if addr or name)


def _filename(part: email.message.Message) -> str:
    try:
        # A file name is a "filename" or "name" parameter: a part whose headers do not say "name"
        # at all has none, and its parameters are not parsed (most parts are text without one).
        named = (
            "name" in str(part.get("Content-Disposition", "")).lower()
            or "name" in str(part.get("Content-Type", "")).lower()
        )
        if not named:
            return ""
        name = part.get_filename()
    except (TypeError, ValueError, LookupError, UnicodeError):
        name = None
    if not name:
        name = part.get_param("name")
        if isinstance(name, tuple):
            name = email.utils.collapse_rfc2231_value(name)
    return decode_text(name) if name else ""


def _header(msg: email.message.Message, name: str) -> str:
    try:
        value = msg.get(name)
    except (TypeError, ValueError):
        return ""
    return decode_text(str(value)) if value is not None else ""


def walk(msg: email.message.Message) -> list[email.message.Message]:
    try:
        return list(msg.walk())
    except (TypeError, AttributeError, RecursionError):
        return [msg]


def _content_id(part: email.message.Message) -> str:
    return (_header(part, "Content-ID") or "").strip().strip("<>").strip()


def render(
    raw: bytes,
    *,
    allow_remote: bool = False,
    links: PartLinks | None = None,
    cid_src: Callable[[str], str | None] | None = None,
) -> Rendered:
    """The message, sanitised. `cid_src` (compose: a draft reopened, a quoted original) decides
    itself what a cid: image becomes (a URL, or None to drop it) instead of the message's parts."""
    msg = parse(raw)
    out = Rendered(
        subject=_header(msg, "Subject"),
        sender=_addresses(msg.get_all("From")),
        to=_addresses(msg.get_all("To")),
        cc=_addresses(msg.get_all("Cc")),
        reply_to=_addresses(msg.get_all("Reply-To")),
        message_id=_header(msg, "Message-ID").strip(),
        in_reply_to=_header(msg, "In-Reply-To").strip(),
        references=_header(msg, "References").strip(),
        defects=len(msg.defects),
    )
    try:
        out.date = email.utils.parsedate_to_datetime(_header(msg, "Date"))
    except (TypeError, ValueError, IndexError):
        out.date = None
    html_part = text_part = None
    parts = walk(msg)
    cids: dict[str, tuple[int, email.message.Message]] = {}
    for index, part in enumerate(parts):
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        filename = _filename(part)
        if disposition != "attachment" and not filename:
            if ctype == "text/html" and html_part is None:
                html_part = part
                continue
            if ctype == "text/plain" and text_part is None:
                text_part = part
                continue
        cid = _content_id(part)
        if cid:
            cids[cid] = (index, part)
        payload = part.get_payload(decode=True) or b""
        if ctype == "message/rfc822" and not payload:
            payload = part.as_bytes() if hasattr(part, "as_bytes") else b""
        out.attachments.append(
            Attachment(
                index=index,
                filename=filename or _fallback_name(ctype, index),
                content_type=ctype,
                size=len(payload),
                content_id=cid,
                url=links.part(index) if links is not None else "",
            )
        )
    if text_part is not None:
        out.text = part_text(text_part)[:TEXT_MAX]
    if html_part is not None:
        used: set[str] = set()
        out.html, out.remote_images = sanitize_html(
            part_text(html_part)[:TEXT_MAX],
            cids=cids,
            used_cids=used,
            allow_remote=allow_remote,
            inline_image_url=links.inline_image if links is not None else None,
            cid_src=cid_src,
        )
        # Inline images shown in the body are not listed again as attachments.
        out.attachments = [a for a in out.attachments if not (a.content_id and a.content_id in used)]
        if not out.text:
            out.text = html_to_text(out.html)
    if html_part is None and text_part is None and not msg.is_multipart():
        out.text = part_text(msg)[:TEXT_MAX]
    return out


def _fallback_name(ctype: str, index: int) -> str:
    ext = {"message/rfc822": "eml", "text/plain": "txt", "text/html": "html"}.get(ctype, "bin")
    return f"part-{index}.{ext}"


def sanitize_html(
    source: str,
    *,
    cids: dict[str, tuple[int, email.message.Message]],
    used_cids: set,
    allow_remote: bool,
    inline_image_url: Callable[[int], str] | None = None,
    cid_src: Callable[[str], str | None] | None = None,
    allow_data_images: bool = True,
) -> tuple[str, int]:
    """(clean HTML, remote images removed). A cid: image of the message becomes
    inline_image_url(its part index), or a data: URI without that function; with `cid_src`,
    whatever that returns for the content id (None drops the image). The webmail's compose
    passes its own cid_src and allow_data_images=False (its images travel as cid: parts)."""
    blocked = 0

    def attribute_filter(tag: str, attr: str, value: str) -> str | None:
        nonlocal blocked
        value = value.strip()
        lowered = value.lower()
        if attr == "style":
            return None if _DANGEROUS_STYLE.search(value) else value
        if tag == "img" and attr == "src":
            if lowered.startswith("cid:"):
                cid = value[4:].strip().strip("<>")
                if cid_src is not None:
                    url = cid_src(cid)
                    if url:
                        used_cids.add(cid)
                    return url
                index, part = cids.get(cid, (-1, None))
                if part is None or part.get_content_type() not in INLINE_IMAGE_TYPES:
                    return None
                if inline_image_url is not None:
                    used_cids.add(cid)
                    return inline_image_url(index)
                data = part.get_payload(decode=True) or b""
                if len(data) > INLINE_IMAGE_MAX:
                    return None
                used_cids.add(cid)
                return f"data:{part.get_content_type()};base64,{base64.b64encode(data).decode()}"
            if lowered.startswith(("http://", "https://", "//")):
                if allow_remote and not lowered.startswith("//"):
                    return value
                blocked += 1
                return None
            if allow_data_images and _DATA_IMAGE.match(value) and len(value) < INLINE_IMAGE_MAX:
                return value
            return None
        if tag == "a" and attr == "href":
            return value if lowered.startswith(_LINK_SCHEMES) else None
        return value

    attributes = {"*": GENERIC_ATTRIBUTES, **TAG_ATTRIBUTES}
    cleaned = nh3.clean(
        source,
        tags=ALLOWED_TAGS,
        clean_content_tags={
            "script",
            "style",
            "title",
            "head",
            "noscript",
            "template",
            "object",
            "embed",
            "iframe",
            "frame",
            "frameset",
            "applet",
            "svg",
            "math",
            "textarea",
            "select",
        },
        attributes=attributes,
        attribute_filter=attribute_filter,
        url_schemes={"http", "https", "mailto", "data", "cid"},
        url_relative="deny",
        filter_style_properties=STYLE_PROPERTIES,
        set_tag_attribute_values={"a": {"target": "_blank"}},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    return cleaned, blocked


_TAGS = re.compile(r"<[^>]+>")
_BLOCK = re.compile(r"</?(p|div|br|tr|li|h[1-6]|blockquote|table)[^>]*>", re.I)


def html_to_text(source: str) -> str:
    text = _BLOCK.sub("\n", source)
    text = _TAGS.sub("", text)
    text = html.unescape(text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


_URL = re.compile(r"\bhttps?://[^\s<>\"']+", re.I)


def text_to_html(text: str) -> str:
    """Escaped plain text with http(s) links made clickable (opened in a new tab, no referrer)."""
    escaped = html.escape(text, quote=True)

    def link(match: re.Match) -> str:
        url = match.group(0)
        trail = ""
        while url and url[-1] in ".,;:!?)":
            trail = url[-1] + trail
            url = url[:-1]
        return f'<a href="{url}" target="_blank" rel="noopener noreferrer nofollow">{url}</a>{trail}'

    return _URL.sub(link, escaped)


def part_bytes(raw: bytes, index: int) -> tuple[str, str, bytes]:
    """(content type, filename, decoded bytes) of one leaf part; IndexError when there is none."""
    parts = walk(parse(raw))
    if index < 0 or index >= len(parts) or parts[index].is_multipart():
        raise IndexError(index)
    part = parts[index]
    ctype = part.get_content_type()
    payload = part.get_payload(decode=True)
    if payload is None:
        inner = part.get_payload()
        if isinstance(inner, list) and inner:
            payload = b"".join(p.as_bytes() for p in inner)
        else:
            payload = (inner or "").encode("utf-8", "replace") if isinstance(inner, str) else b""
    return ctype, _filename(part) or _fallback_name(ctype, index), payload
