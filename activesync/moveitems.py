"""MoveItems (MS-ASCMD 2.2.1.12): messages moved between folders by the device (IMAP MOVE), with
their new ServerId from COPYUID. The device's sync state of both folders is updated, so the
move does not come back to it as a deletion and a new message."""

from __future__ import annotations

from xml.etree.ElementTree import Element

from activesync.commands import expect
from activesync.context import Context, element
from activesync.message import flag_bits
from activesync.numbers import number
from devices.selectors import device_folder
from devices.services import sync_state_item_moved
from mailstore.errors import NotFound
from mailstore.reader import mail_session

V = "{Move}"

STATUS_INVALID_SOURCE = 1
STATUS_INVALID_DESTINATION = 2
STATUS_SUCCESS = 3
STATUS_SAME_FOLDER = 4
STATUS_FAILED = 5
MAX_MOVES = 200


def move_items(context: Context, document: Element | None) -> Element:
    request = expect(document, f"{V}MoveItems")
    answers = []
    with mail_session(context.source, owner=context.owner) as mail:
        for move in request.findall(f"{V}Move")[:MAX_MOVES]:
            source_id = (move.findtext(f"{V}SrcMsgId") or "").strip()
            status, new_id = _move_one(context, mail, move, source_id)
            answers.append(
                element(
                    f"{V}Response",
                    None,
                    element(f"{V}SrcMsgId", source_id),
                    element(f"{V}Status", status),
                    element(f"{V}DstMsgId", new_id) if new_id else None,
                )
            )
    return element(f"{V}MoveItems", None, *answers)


def _move_one(context: Context, mail, move: Element, source_id: str) -> tuple[int, str]:
    source = device_folder(device=context.device, server_id=move.findtext(f"{V}SrcFldId") or "")
    target = device_folder(device=context.device, server_id=move.findtext(f"{V}DstFldId") or "")
    prefix, _, uid_text = source_id.partition(":")
    uid = number(uid_text)
    if source is None or prefix != str(source.server_id) or uid is None:
        return STATUS_INVALID_SOURCE, ""
    if target is None:
        return STATUS_INVALID_DESTINATION, ""
    if target.pk == source.pk:
        return STATUS_SAME_FOLDER, ""
    try:
        found = mail.messages_raw(source.name, [uid])
        if not found:
            return STATUS_INVALID_SOURCE, ""
        moved = mail.messages_move_mapped(source.name, [uid], target.name)
    except NotFound:
        return STATUS_INVALID_DESTINATION, ""
    if uid not in moved:
        return STATUS_FAILED, ""
    sync_state_item_moved(
        source=source, uid=uid, target=target, new_uid=moved[uid], bits=flag_bits(found[0].flags)
    )
    return STATUS_SUCCESS, f"{target.server_id}:{moved[uid]}"
