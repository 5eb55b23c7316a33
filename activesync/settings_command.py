"""Settings (MS-ASCMD 2.2.1.18): the device tells what it is (DeviceInformation), asks who the
user is (UserInformation), reads and sets the out-of-office reply (Oof).

Oof is the mailbox's vacation reply (domains.services.vacation), the one the webmail's settings
show: one message for every sender (Sieve does not tell colleagues from strangers), so Get
reports it for internal and external senders alike and Set takes the internal message when it is
enabled, else the external one. Times are kept as days (Sieve's currentdate, Europe/Rome): a
time-based reply runs from StartTime's day through EndTime's day; the subject stays the one the
webmail set."""

from __future__ import annotations

import datetime as dt
from xml.etree.ElementTree import Element

from django.core.exceptions import ValidationError
from django.utils import timezone

from activesync.commands import expect
from activesync.context import Context, element
from devices.services import device_information_set
from domains.services.vacation import vacation_of, vacation_set
from mailstore.errors import MailstoreError

S = "{Settings}"

STATUS_OK = 1
STATUS_PROTOCOL_ERROR = 2
STATUS_ACCESS_DENIED = 3
STATUS_SERVER_UNAVAILABLE = 4

OOF_DISABLED, OOF_GLOBAL, OOF_TIME_BASED = "0", "1", "2"
AUDIENCES = ("AppliesToInternal", "AppliesToExternalKnown", "AppliesToExternalUnknown")


def settings(context: Context, document: Element | None) -> Element:
    request = expect(document, f"{S}Settings")
    answers: list[Element] = []
    for part in request:
        if part.tag == f"{S}DeviceInformation":
            info = part.find(f"{S}Set")
            if info is not None:
                device_information_set(
                    device=context.device,
                    model=info.findtext(f"{S}Model") or "",
                    os=info.findtext(f"{S}OS") or "",
                    friendly_name=info.findtext(f"{S}FriendlyName") or "",
                    user_agent=info.findtext(f"{S}UserAgent") or "",
                )
            answers.append(element(part.tag, None, element(f"{S}Status", STATUS_OK)))
        elif part.tag == f"{S}UserInformation":
            address = context.mailbox.address
            name = context.mailbox.full_name or address
            answers.append(
                element(
                    part.tag,
                    None,
                    element(f"{S}Status", STATUS_OK),
                    element(
                        f"{S}Get",
                        None,
                        element(f"{S}EmailAddresses", None, element(f"{S}SmtpAddress", address)),
                        element(
                            f"{S}Accounts",
                            None,
                            element(
                                f"{S}Account",
                                None,
                                element(f"{S}UserDisplayName", name),
                                element(
                                    f"{S}EmailAddresses", None, element(f"{S}PrimarySmtpAddress", address)
                                ),
                            ),
                        ),
                    ),
                )
            )
        elif part.tag == f"{S}Oof":
            answers.append(_oof(context, part))
        else:
            answers.append(element(part.tag, None, element(f"{S}Status", STATUS_PROTOCOL_ERROR)))
    return element(f"{S}Settings", None, element(f"{S}Status", STATUS_OK), *answers)


def _time(day: dt.date, *, end: bool) -> str:
    moment = dt.datetime.combine(day, dt.time.max if end else dt.time.min).replace(microsecond=0)
    local = timezone.make_aware(moment, timezone.get_default_timezone())
    return local.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _day(text: str | None) -> dt.date | None:
    try:
        moment = dt.datetime.fromisoformat((text or "").strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.date()
    return timezone.localtime(moment).date()


def _oof(context: Context, part: Element) -> Element:
    change = part.find(f"{S}Set")
    if change is not None:
        status = _oof_set(context, change)
        return element(part.tag, None, element(f"{S}Status", status))
    vacation = vacation_of(mailbox=context.mailbox)
    timed = vacation.enabled and (vacation.starts_on or vacation.until)
    state = OOF_DISABLED if not vacation.enabled else OOF_TIME_BASED if timed else OOF_GLOBAL
    messages = [
        element(
            f"{S}OofMessage",
            None,
            element(f"{S}{audience}"),
            element(f"{S}Enabled", 1 if vacation.enabled else 0),
            element(f"{S}ReplyMessage", vacation.body) if vacation.body else None,
            element(f"{S}BodyType", "Text"),
        )
        for audience in AUDIENCES
    ]
    return element(
        part.tag,
        None,
        element(f"{S}Status", STATUS_OK),
        element(
            f"{S}Get",
            None,
            element(f"{S}OofState", state),
            element(f"{S}StartTime", _time(vacation.starts_on or timezone.localdate(), end=False))
            if timed
            else None,
            element(f"{S}EndTime", _time(vacation.until, end=True)) if timed and vacation.until else None,
            *messages,
        ),
    )


def _oof_set(context: Context, change: Element) -> int:
    state = (change.findtext(f"{S}OofState") or "").strip()
    if state not in (OOF_DISABLED, OOF_GLOBAL, OOF_TIME_BASED):
        return STATUS_PROTOCOL_ERROR
    current = vacation_of(mailbox=context.mailbox)
    offered: dict[str, tuple[bool, str]] = {}
    for message in change.findall(f"{S}OofMessage"):
        audience = next((a for a in AUDIENCES if message.find(f"{S}{a}") is not None), None)
        if audience is None:
            continue
        enabled = (message.findtext(f"{S}Enabled") or "0").strip() == "1"
        offered[audience] = (enabled, message.findtext(f"{S}ReplyMessage") or "")
    chosen = next((offered[a] for a in AUDIENCES if a in offered and offered[a][0]), None)
    enabled = state != OOF_DISABLED and (chosen is not None or not offered)
    body = chosen[1] if chosen is not None else current.body
    starts_on = until = None
    if state == OOF_TIME_BASED:
        starts_on = _day(change.findtext(f"{S}StartTime"))
        until = _day(change.findtext(f"{S}EndTime"))
        if starts_on is None or until is None:
            return STATUS_PROTOCOL_ERROR
        if starts_on <= timezone.localdate():
            starts_on = None  # already running: no lower bound
    try:
        vacation_set(
            mailbox=context.mailbox,
            actor=context.mailbox.user,
            enabled=enabled,
            subject=current.subject,
            body=body if enabled else (body or current.body),
            until=until,
            starts_on=starts_on,
            channel="activesync",
        )
    except ValidationError:
        return STATUS_PROTOCOL_ERROR  # enabled without a message, or an end in the past
    except MailstoreError:
        return STATUS_SERVER_UNAVAILABLE
    return STATUS_OK
