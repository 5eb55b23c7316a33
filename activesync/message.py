"""A message as Sync sends it: Email ApplicationData (MS-ASEMAIL) from the raw MIME, with the
body in the type and size the device asked for (MS-ASAIRS BodyPreference)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from xml.etree.ElementTree import Element

from django.conf import settings

from activesync.context import current, element
from activesync.numbers import number
from activesync.wbxml import Spec, spec_element, spec_encoded
from devices.selectors import device_folders
from mailstore.reader import MailSession, RawMessage
from portalkit.rendering import Rendered, render, text_to_html

A, B, M, M2 = "{AirSync}", "{AirSyncBase}", "{Email}", "{Email2}"

BODY_PLAIN, BODY_HTML, BODY_MIME = 1, 2, 4
READ, FLAGGED = 1, 2  # the flag bits a device's copy of a message is tracked by
FOLDER_TYPE_DRAFTS = 3  # MS-ASCMD FolderHierarchy Type


def within_page_bytes(mail: MailSession, items: list[tuple[str, int]]) -> list[int]:
    """The UIDs of the first of `items` ((folder, UID) pairs) whose messages add up to at most
    ACTIVESYNC_PAGE_BYTES, always the first one: an answer (a Sync page, a Search range) is
    read whole into memory, and hundreds of messages with large attachments would be gigabytes.
    The caller sends the rest later (MoreAvailable, the next Range)."""
    if len(items) <= 1:
        return [uid for _folder, uid in items]  # (the common Sync after new mail: no sizes to ask)
    sizes: dict[tuple[str, int], int] = {}
    for folder in dict.fromkeys(f for f, _uid in items):
        found = mail.message_sizes(folder, [uid for f, uid in items if f == folder])
        sizes.update({(folder, uid): size for uid, size in found.items()})
    total = 0
    for count, item in enumerate(items):
        total += sizes.get(item, 0)  # an expunged one costs nothing: it will not be fetched
        if count and total > settings.ACTIVESYNC_PAGE_BYTES:
            return [uid for _folder, uid in items[:count]]
    return [uid for _folder, uid in items]


def flag_bits(flags) -> int:
    names = {f.decode() if isinstance(f, bytes) else str(f) for f in flags}
    return (READ if "\\Seen" in names else 0) | (FLAGGED if "\\Flagged" in names else 0)


@dataclass(frozen=True)
class BodyPreference:
    body_type: int = BODY_PLAIN
    truncation: int | None = None  # bytes; None: the whole body


def body_preference(options: Element | None) -> BodyPreference:
    """The body the device wants: MIME when it offers it (and MIMESupport allows it), else HTML
    when it takes HTML, else plain text; with that preference's TruncationSize."""
    if options is None:
        return BodyPreference()
    offered: dict[int, int | None] = {}
    for pref in options.findall(f"{B}BodyPreference"):
        kind = number(pref.findtext(f"{B}Type"))
        if kind is None:
            continue
        offered[kind] = number(pref.findtext(f"{B}TruncationSize"))
    mime_support = options.findtext(f"{A}MIMESupport") or "0"
    if BODY_MIME in offered and mime_support in ("1", "2"):
        return BodyPreference(BODY_MIME, offered[BODY_MIME])
    for kind in (BODY_HTML, BODY_PLAIN):
        if kind in offered:
            return BodyPreference(kind, offered[kind])
    return BodyPreference()


def _when(value: dt.datetime | None) -> str:
    if value is None:
        value = dt.datetime.now(dt.UTC)
    elif value.tzinfo is None:
        value = value.astimezone()  # imapclient gives INTERNALDATE as local naive time
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _addresses(addresses) -> str:
    return _clean(", ".join(str(a) for a in addresses))


def _clean(text: str) -> str:
    """A message's text as a WBXML string can carry it: a NUL (in hostile or broken mail) ends
    an inline string, and becomes U+FFFD."""
    return text.replace("\x00", "\ufffd")


def _body(raw: bytes, rendered: Rendered, preference: BodyPreference) -> Spec:
    if preference.body_type == BODY_MIME:
        data: bytes = raw
        kind = BODY_MIME
    elif preference.body_type == BODY_HTML:
        html = rendered.html or text_to_html(rendered.text).replace("\n", "<br>\n")
        data, kind = _clean(html).encode("utf-8"), BODY_HTML
    else:
        data, kind = _clean(rendered.text).encode("utf-8"), BODY_PLAIN
    size = len(data)
    truncated = preference.truncation is not None and size > preference.truncation
    if truncated:
        data = data[: preference.truncation]
    try:
        text: str | bytes = data.decode("utf-8") if not truncated else data.decode("utf-8", "ignore")
    except UnicodeDecodeError:
        text = data  # 8-bit MIME that is not UTF-8: sent as opaque bytes
    if isinstance(text, str) and "\x00" in text:
        text = data  # MIME with a NUL: a string cannot carry it
    return (
        f"{B}Body",
        None,
        (
            (f"{B}Type", kind, ()),
            (f"{B}EstimatedDataSize", size, ()),
            (f"{B}Truncated", 1 if truncated else 0, ()),
            (f"{B}Data", text, ()) if text else None,
        ),
    )


def application_data(message: RawMessage, server_id: str, preference: BodyPreference) -> Element:
    """The message's ApplicationData as an Element tree (for commands that rearrange it)."""
    return spec_element(application_spec(message, server_id, preference))


def application_data_encoded(message: RawMessage, server_id: str, preference: BodyPreference) -> Element:
    """The same, written to WBXML at once (Sync's pages: no Element tree to build and encode)."""
    return spec_encoded(application_spec(message, server_id, preference))


def application_spec(message: RawMessage, server_id: str, preference: BodyPreference) -> Spec:
    rendered = render(message.raw)
    bits = flag_bits(message.flags)
    attachments = tuple(
        (
            f"{B}Attachment",
            None,
            (
                (f"{B}DisplayName", _clean(a.filename), ()),
                (f"{B}FileReference", f"{server_id}:{a.index}", ()),
                (f"{B}Method", 1, ()),
                (f"{B}EstimatedDataSize", a.size, ()),
                (f"{B}ContentId", _clean(a.content_id), ()) if a.content_id else None,
            ),
        )
        for a in rendered.attachments
    )
    return (
        f"{A}ApplicationData",
        None,
        (
            (f"{M}To", _addresses(rendered.to), ()),
            (f"{M}Cc", _addresses(rendered.cc), ()) if rendered.cc else None,
            (f"{M}From", _addresses(rendered.sender), ()),
            (f"{M}Subject", _clean(rendered.subject), ()),
            (f"{M}Reply-To", _addresses(rendered.reply_to), ()) if rendered.reply_to else None,
            (f"{M}DateReceived", _when(message.internal_date), ()),
            (f"{M}DisplayTo", _clean("; ".join(a.name or a.email for a in rendered.to)), ()),
            (f"{M}ThreadTopic", _clean(rendered.subject), ()),
            (f"{M}Importance", 1, ()),
            (f"{M}Read", 1 if bits & READ else 0, ()),
            (f"{B}Attachments", None, attachments) if attachments else None,
            _body(message.raw, rendered, preference),
            (f"{M}MessageClass", "IPM.Note", ()),
            (f"{M}InternetCPID", 65001, ()),
            flag_spec(bits),
            (f"{M}ContentClass", "urn:content-classes:message", ()),
            (f"{B}NativeBodyType", BODY_HTML if rendered.html else BODY_PLAIN, ()),
            *_draft_specs(message, server_id),
        ),
    )


def _draft_specs(message: RawMessage, server_id: str) -> list[Spec | None]:
    """Protocol 16.x (MS-ASEMAIL 2.2.2.42, 2.2.2.x Bcc): IsDraft on every email, and a draft's
    Bcc, so the device can edit it (activesync.drafts). Nothing for 14.x: the tokens do not exist
    there. A draft is a message of the Drafts folder, or one with the \\Draft flag elsewhere."""
    context = current()
    if context is None or not context.drafts_sync:
        return []
    drafts_ids = context.memo.get("drafts_ids")
    if drafts_ids is None:
        folders = device_folders(device=context.device).filter(folder_type=FOLDER_TYPE_DRAFTS)
        drafts_ids = context.memo["drafts_ids"] = {str(f.server_id) for f in folders}
    flags = {f.decode() if isinstance(f, bytes) else str(f) for f in message.flags}
    draft = server_id.partition(":")[0] in drafts_ids or "\\Draft" in flags
    bcc = _header_addresses(message.raw, "Bcc") if draft else ""
    return [(f"{M2}IsDraft", 1 if draft else 0, ()), (f"{M2}Bcc", bcc, ()) if bcc else None]


def _header_addresses(raw: bytes, name: str) -> str:
    value = BytesHeaderParser(policy=policy.default).parsebytes(raw).get(name)
    return _clean(str(value)) if value else ""


def flag_spec(bits: int) -> Spec:
    """Email:Flag: FlagStatus 2 (flagged) or an empty Flag (cleared)."""
    if bits & FLAGGED:
        return (
            f"{M}Flag",
            None,
            ((f"{M}FlagStatus", 2, ()), (f"{M}FlagType", "Flag for follow up", ())),
        )
    return (f"{M}Flag", None, ())


def flag_element(bits: int) -> Element:
    return spec_element(flag_spec(bits))


def change_data(bits: int) -> Element:
    """The ApplicationData of a Change the server sends: read state and flag."""
    return element(
        f"{A}ApplicationData", None, element(f"{M}Read", 1 if bits & READ else 0), flag_element(bits)
    )
