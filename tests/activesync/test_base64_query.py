"""The base64 form of the request line (MS-ASHTTP 2.2.1.1.1.1), which Windows Mail and other
clients send instead of "?Cmd=…&DeviceId=…": the same commands work, the protocol version and
policy key come from it (not from headers), and a malformed line is HTTP 400."""

import base64

import pytest

from devices.models import Device
from mailstore.imap import imap_session
from tests.activesync.phone import A, F, M, Phone, base64_request_line, commands_of
from tests.protocol.helpers import message

DEVICE = "8f2c1d0e5a6b47c39d1e2f3a4b5c6d7e"


def test_a_client_using_the_base64_request_line_provisions_folder_syncs_and_syncs(
    running_mailplane, mailbox_factory
):
    address, password = mailbox_factory()
    with imap_session(address) as imap:
        imap.multiappend("INBOX", [message("sender@example.net", address, subject=f"b{i}") for i in range(3)])
    phone = Phone(address, password, device_id=DEVICE, device_type="WindowsMail", base64_query=True)
    phone.provision()
    inbox = phone.inbox_id()
    key = phone.sync(inbox, "0").findtext(f"{A}SyncKey")
    page = phone.sync(inbox, key)
    assert sorted(
        a.find(f"{A}ApplicationData").findtext(f"{M}Subject") for a in commands_of(page, "Add")
    ) == [
        "b0",
        "b1",
        "b2",
    ]
    device = Device.objects.get(device_id=DEVICE)
    assert device.device_type == "WindowsMail"
    assert device.mailbox.address == address

    # the policy key is read from the line: a wrong one is refused as in the plain form
    phone.policy_key = "12345"
    assert phone.folder_sync().findtext(f"{F}Status") in ("142", "143")


def line(*parts: bytes) -> str:
    return base64.b64encode(b"".join(parts)).decode()


GOOD = bytes([141, 9]) + b"\x09\x04" + b"\x02\xab\xcd" + b"\x00" + b"\x05Phone"
MALFORMED = {
    "not base64": "!!!not-base64!!!",
    "too short": line(b"\x8d\x09"),
    "unknown command": line(bytes([141, 99]) + GOOD[2:]),
    "device id longer than the data": line(GOOD[:4] + b"\x20\xab"),
    "policy key of 3 bytes": line(GOOD[:7] + b"\x03abc" + b"\x05Phone"),
    "device type missing": line(GOOD[:8]),
    "unsupported version": line(bytes([120, 9]) + GOOD[2:]),
    "no device id": line(GOOD[:4] + b"\x00\x00\x05Phone"),
}


@pytest.mark.parametrize("query", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_base64_line_is_a_bad_request(query, running_mailplane, mailbox_factory):
    address, password = mailbox_factory()
    phone = Phone(address, password)
    secret = base64.b64encode(f"{address}:{password}".encode()).decode()
    answer = phone.client.post(
        f"/Microsoft-Server-ActiveSync?{query}",
        data=b"",
        content_type="application/vnd.ms-sync.wbxml",
        secure=True,
        HTTP_AUTHORIZATION=f"Basic {secret}",
    )
    assert answer.status_code == 400
    assert not Device.objects.exists()


def test_the_well_formed_line_of_the_malformed_cases_is_read(running_mailplane, mailbox_factory):
    """The control case of the one above: the same line, whole, reaches the command."""
    address, password = mailbox_factory()
    phone = Phone(address, password, device_id="abcd", device_type="Phone", base64_query=True)
    assert base64_request_line(phone, "FolderSync") == line(GOOD)
    answer = phone.request(
        "FolderSync", '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>'
    )
    assert answer.status == 200  # (Status 142: the device has not provisioned yet)
    assert Device.objects.get(device_id="abcd").device_type == "Phone"
