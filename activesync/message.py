"""A message as Sync sends it: Email ApplicationData (MS-ASEMAIL) from the raw MIME, with the
body in the type and size the device asked for (MS-ASAIRS BodyPreference)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from xml.etree.ElementTree import Element

from activesync.context import current, element
from devices.selectors import device_folders
from mailstore.reader import RawMessage
from portalkit.rendering import Rendered, render, text_to_html

A, B, M, M2 = "{AirSync}", "{AirSyncBase}", "{Email}", "{Email2}"

BODY_PLAIN, BODY_HTML, BODY_MIME = 1, 2, 4
READ, FLAGGED = 1, 2  # the flag bits a device's copy of a message is tracked by
FOLDER_TYPE_DRAFTS = 3  # MS-ASCMD FolderHierarchy Type


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
        kind = pref.findtext(f"{B}Type") or ""
        if not kind.isdigit():
            continue
        size = pref.findtext(f"{B}TruncationSize") or ""
        offered[int(kind)] = int(size) if size.isdigit() else None
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
    return ", ".join(str(a) for a in addresses)


def _body(raw: bytes, rendered: Rendered, preference: BodyPreference) -> Element:
    if preference.body_type == BODY_MIME:
        data: bytes = raw
        kind = BODY_MIME
    elif preference.body_type == BODY_HTML:
        html = rendered.html or text_to_html(rendered.text).replace("\n", "<br>\n")
        data, kind = html.encode("utf-8"), BODY_HTML
    else:
        data, kind = rendered.text.encode("utf-8"), BODY_PLAIN
    size = len(data)
    truncated = preference.truncation is not None and size > preference.truncation
    if truncated:
        data = data[: preference.truncation]
    try:
        text: str | bytes = data.decode("utf-8") if not truncated else data.decode("utf-8", "ignore")
    except UnicodeDecodeError:
        text = data  # 8-bit MIME that is not UTF-8: sent as opaque bytes
    return element(
        f"{B}Body",
        None,
        element(f"{B}Type", kind),
        element(f"{B}EstimatedDataSize", size),
        element(f"{B}Truncated", 1 if truncated else 0),
        element(f"{B}Data", text) if text else None,
    )


def application_data(message: RawMessage, server_id: str, preference: BodyPreference) -> Element:
    rendered = render(message.raw)
    bits = flag_bits(message.flags)
    attachments = [
        element(
            f"{B}Attachment",
            None,
            element(f"{B}DisplayName", a.filename),
            element(f"{B}FileReference", f"{server_id}:{a.index}"),
            element(f"{B}Method", 1),
            element(f"{B}EstimatedDataSize", a.size),
            element(f"{B}ContentId", a.content_id) if a.content_id else None,
        )
        for a in rendered.attachments
    ]
    return element(
        f"{A}ApplicationData",
        None,
        element(f"{M}To", _addresses(rendered.to)),
        element(f"{M}Cc", _addresses(rendered.cc)) if rendered.cc else None,
        element(f"{M}From", _addresses(rendered.sender)),
        element(f"{M}Subject", rendered.subject),
        element(f"{M}Reply-To", _addresses(rendered.reply_to)) if rendered.reply_to else None,
        element(f"{M}DateReceived", _when(message.internal_date)),
        element(f"{M}DisplayTo", "; ".join(a.name or a.email for a in rendered.to)),
        element(f"{M}ThreadTopic", rendered.subject),
        element(f"{M}Importance", 1),
        element(f"{M}Read", 1 if bits & READ else 0),
        element(f"{B}Attachments", None, *attachments) if attachments else None,
        _body(message.raw, rendered, preference),
        element(f"{M}MessageClass", "IPM.Note"),
        element(f"{M}InternetCPID", 65001),
        flag_element(bits),
        element(f"{M}ContentClass", "urn:content-classes:message"),
        element(f"{B}NativeBodyType", BODY_HTML if rendered.html else BODY_PLAIN),
        *_draft_elements(message, server_id),
    )


def _draft_elements(message: RawMessage, server_id: str) -> list[Element]:
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
    return [element(f"{M2}IsDraft", 1 if draft else 0), element(f"{M2}Bcc", bcc) if bcc else None]


def _header_addresses(raw: bytes, name: str) -> str:
    value = BytesHeaderParser(policy=policy.default).parsebytes(raw).get(name)
    return str(value) if value else ""


def flag_element(bits: int) -> Element:
    """Email:Flag: FlagStatus 2 (flagged) or an empty Flag (cleared)."""
    if bits & FLAGGED:
        return element(
            f"{M}Flag", None, element(f"{M}FlagStatus", 2), element(f"{M}FlagType", "Flag for follow up")
        )
    return element(f"{M}Flag")


def change_data(bits: int) -> Element:
    """The ApplicationData of a Change the server sends: read state and flag."""
    return element(
        f"{A}ApplicationData", None, element(f"{M}Read", 1 if bits & READ else 0), flag_element(bits)
    )
