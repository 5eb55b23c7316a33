"""Settings (MS-ASCMD 2.2.1.18): the device tells what it is (DeviceInformation), asks who the
user is (UserInformation). Out of office (Oof) is not served yet: the webmail's vacation reply
lives in webmail.services, which another portal may not import; it answers Status 2 until the
vacation service moves to a domain app (issue 16)."""

from __future__ import annotations

from xml.etree.ElementTree import Element

from activesync.commands import expect
from activesync.context import Context, element
from devices.services import device_information_set

S = "{Settings}"

STATUS_OK = 1
STATUS_PROTOCOL_ERROR = 2


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
        else:
            answers.append(element(part.tag, None, element(f"{S}Status", STATUS_PROTOCOL_ERROR)))
    return element(f"{S}Settings", None, element(f"{S}Status", STATUS_OK), *answers)
