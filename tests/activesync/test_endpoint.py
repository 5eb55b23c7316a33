"""/Microsoft-Server-ActiveSync end to end: the real endpoint (Django test client), requests built
and answers read by libwbxml2-utils, the real Dovecot behind mailstore."""

from __future__ import annotations

import email
from xml.etree import ElementTree as ET

import pytest

from accounts.models import AccessLogEntry
from accounts.services import app_password_create
from devices.models import Device
from devices.services import device_allow, device_block, device_wipe_request
from domains.models import Mailbox
from mailstore.imap import imap_session
from tests.activesync.phone import A, B, F, M, P, Phone, commands_of
from tests.protocol.helpers import lmtp_deliver, message

pytestmark = pytest.mark.protocol


def _mailbox(address: str) -> Mailbox:
    local, _, domain = address.partition("@")
    return Mailbox.objects.select_related("user").get(local_part=local, domain__name=domain)


def _inbox_id(phone: Phone) -> str:
    answer = phone.folder_sync()
    return next(
        add.findtext(f"{F}ServerId") for add in answer.iter(f"{F}Add") if add.findtext(f"{F}Type") == "2"
    )


def test_options_says_what_the_server_speaks(client):
    response = client.options("/Microsoft-Server-ActiveSync")
    assert response.status_code == 200
    assert response["MS-ASProtocolVersions"] == "14.1,16.1"
    assert {"Provision", "FolderSync", "Sync", "Ping", "GetItemEstimate"} <= set(
        response["MS-ASProtocolCommands"].split(",")
    )


def test_provision_then_folder_sync(running_mailplane, mailbox_factory):
    address, password = mailbox_factory()
    phone = Phone(address, password)
    # before Provision, a command is sent to provision (Status 142)
    answer = phone.folder_sync()
    assert answer.findtext(f"{F}Status") == "142"
    # the two-step policy key
    key = phone.provision()
    device = Device.objects.get(mailbox=_mailbox(address), device_id=phone.device_id)
    assert str(device.policy_key) == key
    assert (device.device_type, device.model, device.os) == ("iPhone", "iPhone15,2", "iOS 17.4")
    # FolderSync: the special folders with their types, then nothing new under the same key
    with imap_session(address) as imap:
        imap.create_folder("Projects")
        imap.create_folder("Projects/2026")
    answer = phone.folder_sync()
    assert answer.findtext(f"{F}Status") == "1"
    adds = {a.findtext(f"{F}DisplayName"): a for a in answer.iter(f"{F}Add")}
    types = {name: add.findtext(f"{F}Type") for name, add in adds.items()}
    assert types["Projects"] == "12" and types["2026"] == "12"
    assert sorted(types.values()).count("2") == 1  # one Inbox
    assert {"3", "4", "5"} <= set(types.values())  # Drafts, Deleted Items, Sent
    assert adds["2026"].findtext(f"{F}ParentId") == adds["Projects"].findtext(f"{F}ServerId")
    assert int(answer.findtext(f"{F}Changes/{F}Count")) == len(adds)
    key = answer.findtext(f"{F}SyncKey")
    again = phone.folder_sync(key)
    assert again.findtext(f"{F}SyncKey") == key and again.findtext(f"{F}Changes/{F}Count") == "0"
    # a folder removed over IMAP is a Delete, a new one an Add, under the next key
    with imap_session(address) as imap:
        imap.delete_folder("Projects/2026")
        imap.create_folder("Clients")
    changed = phone.folder_sync(key)
    assert changed.findtext(f"{F}SyncKey") == str(int(key) + 1)
    assert [d.findtext(f"{F}ServerId") for d in changed.iter(f"{F}Delete")] == [
        adds["2026"].findtext(f"{F}ServerId")
    ]
    assert [a.findtext(f"{F}DisplayName") for a in changed.iter(f"{F}Add")] == ["Clients"]
    # a stale key is refused (Status 9: the device starts over)
    assert phone.folder_sync("1").findtext(f"{F}Status") == "9"
    # a wrong policy key is refused
    phone.policy_key = "12345"
    assert phone.folder_sync(key).findtext(f"{F}Status") in ("142", "143")


def test_authentication_rules(running_mailplane, mailbox_factory):
    address, password = mailbox_factory()
    phone = Phone(address, password)
    # wrong password: 401 with a Basic challenge, a failure row in the access log
    refused = phone.request("FolderSync", None, password="wrong")
    assert refused.status == 401 and refused.headers["WWW-Authenticate"].startswith("Basic")
    row = AccessLogEntry.objects.filter(login=address, protocol="activesync").latest("at")
    assert (row.result, row.reason) == ("failure", "bad_password")
    # 2FA required by the mailbox: the main password no longer works, an app password does
    mailbox = _mailbox(address)
    Mailbox.objects.filter(pk=mailbox.pk).update(require_2fa=True)
    assert phone.request("Provision", None).status == 401
    _app, token = app_password_create(user=mailbox.user, name="phone")
    phone.password = token
    phone.provision()
    assert AccessLogEntry.objects.filter(
        login=address, protocol="activesync", result="success", reason="app_password"
    ).exists()
    # a suspended mailbox is refused
    Mailbox.objects.filter(pk=mailbox.pk).update(is_active=False)
    assert phone.request("FolderSync", None).status == 401


def test_remote_wipe_is_delivered_at_the_next_provision(running_mailplane, mailbox_factory):
    address, password = mailbox_factory()
    phone = Phone(address, password)
    phone.provision()
    device = Device.objects.get(device_id=phone.device_id, mailbox=_mailbox(address))
    device_wipe_request(device=device, actor=None)
    # every other command says a wipe is pending (Status 140); Provision carries RemoteWipe
    assert phone.folder_sync().findtext(f"{F}Status") == "140"
    answer = phone.command(
        "Provision",
        '<Provision xmlns="Provision:"><Policies><Policy>'
        "<PolicyType>MS-EAS-Provisioning-WBXML</PolicyType></Policy></Policies></Provision>",
    )
    assert answer.find(f"{P}RemoteWipe") is not None and answer.find(f"{P}Policies") is None
    # the device confirms: wiped
    phone.command(
        "Provision", '<Provision xmlns="Provision:"><RemoteWipe><Status>1</Status></RemoteWipe></Provision>'
    )
    device.refresh_from_db()
    assert device.state == Device.State.WIPED and device.wiped_at is not None
    assert phone.folder_sync().findtext(f"{F}Status") == "142"
    # allowed again (the management pages), it provisions anew; blocked, it is refused
    device_allow(device=device, actor=None)
    phone.provision()
    assert phone.folder_sync().findtext(f"{F}Status") == "1"
    device_block(device=device, actor=None)
    assert phone.request("FolderSync", None).status == 403


def test_provision_refuses_an_unknown_policy_type_and_an_unknown_temporary_key(
    running_mailplane, mailbox_factory
):
    address, password = mailbox_factory()
    phone = Phone(address, password)
    unknown_type = phone.command(
        "Provision",
        '<Provision xmlns="Provision:"><Policies><Policy>'
        "<PolicyType>MS-WAP-Provisioning-XML</PolicyType></Policy></Policies></Provision>",
    )
    policy = unknown_type.find(f"{P}Policies/{P}Policy")
    assert (policy.findtext(f"{P}PolicyType"), policy.findtext(f"{P}Status")) == (
        "MS-WAP-Provisioning-XML",
        "3",
    )
    assert policy.find(f"{P}PolicyKey") is None
    # step 2 with a temporary key the server never gave: Policy Status 5, start over
    bad_key = phone.command(
        "Provision",
        '<Provision xmlns="Provision:"><Policies><Policy>'
        "<PolicyType>MS-EAS-Provisioning-WBXML</PolicyType><PolicyKey>12345</PolicyKey>"
        "<Status>1</Status></Policy></Policies></Provision>",
    )
    assert bad_key.findtext(f"{P}Policies/{P}Policy/{P}Status") == "5"
    assert bad_key.find(f"{P}Policies/{P}Policy/{P}PolicyKey") is None
    # the two steps done properly still work
    phone.provision()
    assert phone.folder_sync().findtext(f"{F}Status") == "1"


def _fill_inbox(address: str, count: int) -> None:
    """`count` messages in the INBOX in one MULTIAPPEND (LMTP costs ~70 ms a message here; the
    delivery path is not what this test is about: new mail over LMTP is tested below)."""
    with imap_session(address) as imap:
        imap.multiappend(
            "INBOX", [message("sender@example.net", address, subject=f"m{i}") for i in range(count)]
        )


def test_initial_sync_of_500_messages_in_pages(running_mailplane, mailbox_factory):
    address, password = mailbox_factory()
    _fill_inbox(address, 500)
    phone = Phone(address, password)
    phone.provision()
    inbox = _inbox_id(phone)
    first = phone.sync(inbox, "0")
    assert first.findtext(f"{A}Status") == "1" and first.find(f"{A}Commands") is None
    key, seen, pages = first.findtext(f"{A}SyncKey"), {}, 0
    previous_answer = None
    while True:
        page = phone.sync(inbox, key, window=120)
        pages += 1
        assert page.findtext(f"{A}Status") == "1"
        for add in commands_of(page, "Add"):
            data = add.find(f"{A}ApplicationData")
            seen[add.findtext(f"{A}ServerId")] = data.findtext(f"{M}Subject")
        if pages == 2:
            # the device did not get page 2: it repeats the key and gets the same answer
            again = phone.sync(inbox, key, window=120)
            assert [a.findtext(f"{A}ServerId") for a in commands_of(again, "Add")] == [
                a.findtext(f"{A}ServerId") for a in commands_of(page, "Add")
            ]
            assert again.findtext(f"{A}SyncKey") == page.findtext(f"{A}SyncKey")
        previous_answer = page
        key = page.findtext(f"{A}SyncKey")
        if page.find(f"{A}MoreAvailable") is None:
            break
        assert len(commands_of(page, "Add")) == 120
    assert pages == 5  # 120 + 120 + 120 + 120 + 20
    assert sorted(seen.values()) == sorted(f"m{i}" for i in range(500))
    assert len(seen) == 500
    assert previous_answer is not None
    # newest first: the first page held the highest UIDs
    # nothing more to send under the last key
    empty = phone.sync(inbox, key)
    assert empty.find(f"{A}Commands") is None and empty.findtext(f"{A}Status") == "1"
    # an unknown key (older than the previous one) is refused: Status 3
    assert phone.sync(inbox, "1").findtext(f"{A}Status") == "3"


def test_read_and_flag_both_ways_new_mail_and_deletion(running_mailplane, mailbox_factory):
    address, password = mailbox_factory()
    for i in range(3):
        lmtp_deliver(running_mailplane, address, message("sender@example.net", address, subject=f"s{i}"))
    phone = Phone(address, password)
    phone.provision()
    inbox = _inbox_id(phone)
    key = phone.sync(inbox, "0").findtext(f"{A}SyncKey")
    page = phone.sync(inbox, key, body_type=2, truncation=20)
    key = page.findtext(f"{A}SyncKey")
    adds = {a.find(f"{A}ApplicationData").findtext(f"{M}Subject"): a for a in commands_of(page, "Add")}
    assert set(adds) == {"s0", "s1", "s2"}
    body = adds["s0"].find(f"{A}ApplicationData/{B}Body")
    assert body.findtext(f"{B}Type") == "2"
    assert adds["s0"].find(f"{A}ApplicationData").findtext(f"{M}Read") == "0"
    ids = {subject: add.findtext(f"{A}ServerId") for subject, add in adds.items()}
    uid = {subject: int(server_id.split(":")[1]) for subject, server_id in ids.items()}

    # device → server: s0 read, s1 flagged
    answer = phone.sync(
        inbox,
        key,
        body_type=None,
        commands=f"<Change><ServerId>{ids['s0']}</ServerId><ApplicationData><email:Read>1</email:Read>"
        f"</ApplicationData></Change><Change><ServerId>{ids['s1']}</ServerId><ApplicationData>"
        "<email:Flag><email:FlagStatus>2</email:FlagStatus></email:Flag></ApplicationData></Change>",
    )
    key = answer.findtext(f"{A}SyncKey")
    assert answer.find(f"{A}Commands") is None  # its own changes are not sent back
    with imap_session(address) as imap:
        imap.select_folder("INBOX")
        flags = imap.get_flags([uid["s0"], uid["s1"], uid["s2"]])
    assert b"\\Seen" in flags[uid["s0"]] and b"\\Flagged" not in flags[uid["s0"]]
    assert b"\\Flagged" in flags[uid["s1"]] and b"\\Seen" not in flags[uid["s1"]]

    # server → device: s2 read over IMAP, s1 unflagged, s0 expunged, a new message
    with imap_session(address) as imap:
        imap.select_folder("INBOX")
        imap.add_flags([uid["s2"]], [b"\\Seen"])
        imap.remove_flags([uid["s1"]], [b"\\Flagged"])
        imap.add_flags([uid["s0"]], [b"\\Deleted"])
        imap.uid_expunge([uid["s0"]])
    lmtp_deliver(running_mailplane, address, message("sender@example.net", address, subject="s3"))
    answer = phone.sync(inbox, key, body_type=None)  # no Options: those sent before still hold
    assert [d.findtext(f"{A}ServerId") for d in commands_of(answer, "Delete")] == [ids["s0"]]
    changes = {
        c.findtext(f"{A}ServerId"): c.find(f"{A}ApplicationData") for c in commands_of(answer, "Change")
    }
    assert changes[ids["s2"]].findtext(f"{M}Read") == "1"
    assert changes[ids["s1"]].find(f"{M}Flag") is not None
    assert changes[ids["s1"]].find(f"{M}Flag/{M}FlagStatus") is None  # cleared
    assert set(changes) == {ids["s1"], ids["s2"]}
    [new] = commands_of(answer, "Add")
    assert new.find(f"{A}ApplicationData").findtext(f"{M}Subject") == "s3"
    new_body = new.find(f"{A}ApplicationData/{B}Body")
    assert new_body.findtext(f"{B}Type") == "2" and new_body.findtext(f"{B}Data").startswith("hello")

    # device deletes s2: it goes to Trash
    key = answer.findtext(f"{A}SyncKey")
    phone.sync(inbox, key, commands=f"<Delete><ServerId>{ids['s2']}</ServerId></Delete>")
    with imap_session(address) as imap:
        imap.select_folder("INBOX")
        assert uid["s2"] not in imap.search(["ALL"])
        imap.select_folder("Trash")
        assert len(imap.search(["ALL"])) == 1


def test_get_item_estimate_and_ping(running_mailplane, mailbox_factory, settings):
    settings.ACTIVESYNC_HEARTBEAT_MIN = 1
    address, password = mailbox_factory()
    for i in range(4):
        lmtp_deliver(running_mailplane, address, message("sender@example.net", address, subject=f"e{i}"))
    phone = Phone(address, password)
    phone.provision()
    inbox = _inbox_id(phone)
    key = phone.sync(inbox, "0").findtext(f"{A}SyncKey")

    def estimate(sync_key: str):
        answer = phone.command(
            "GetItemEstimate",
            f'<GetItemEstimate xmlns="GetItemEstimate:" xmlns:as="AirSync:"><Collections><Collection>'
            f"<as:SyncKey>{sync_key}</as:SyncKey><CollectionId>{inbox}</CollectionId></Collection>"
            "</Collections></GetItemEstimate>",
        )
        response = answer.find("{GetItemEstimate}Response")
        return response.findtext("{GetItemEstimate}Status"), response.findtext(
            "{GetItemEstimate}Collection/{GetItemEstimate}Estimate"
        )

    assert estimate(key) == ("1", "4")
    assert estimate("999") == ("4", None)  # unknown key
    key = phone.sync(inbox, key, window=3).findtext(f"{A}SyncKey")
    assert estimate(key) == ("1", "1")
    key = phone.sync(inbox, key).findtext(f"{A}SyncKey")

    def ping() -> tuple[str, list[str]]:
        answer = phone.command(
            "Ping",
            f'<Ping xmlns="Ping:"><HeartbeatInterval>1</HeartbeatInterval><Folders><Folder><Id>{inbox}</Id>'
            "<Class>Email</Class></Folder></Folders></Ping>",
        )
        return answer.findtext("{Ping}Status"), [f.text for f in answer.findall("{Ping}Folders/{Ping}Folder")]

    # nothing new: the heartbeat ends (Status 1); new mail: Status 2 names the folder
    assert ping() == ("1", [])
    lmtp_deliver(running_mailplane, address, message("sender@example.net", address, subject="e4"))
    assert ping() == ("2", [inbox])
    # a Ping without a body repeats the last one's folders and heartbeat
    empty = phone.command("Ping", None)
    assert empty.findtext("{Ping}Status") == "2"
    assert [f.text for f in empty.findall("{Ping}Folders/{Ping}Folder")] == [inbox]
    assert estimate(key) == ("1", "1")
    # a heartbeat out of bounds is answered with the bound
    settings.ACTIVESYNC_HEARTBEAT_MIN = 60
    answer = phone.command(
        "Ping",
        f'<Ping xmlns="Ping:"><HeartbeatInterval>5</HeartbeatInterval><Folders><Folder><Id>{inbox}</Id>'
        "<Class>Email</Class></Folder></Folders></Ping>",
    )
    assert (answer.findtext("{Ping}Status"), answer.findtext("{Ping}HeartbeatInterval")) == ("5", "60")


def test_send_mail_through_submission_with_a_copy_in_sent(submission, mailbox_factory):
    sender, password = mailbox_factory()
    to, _ = mailbox_factory()
    bcc, _ = mailbox_factory()
    phone = Phone(sender, password)
    phone.provision()
    mime = (
        f"From: {sender}\r\nTo: {to}\r\nBcc: {bcc}\r\nSubject: from the phone\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nsent over ActiveSync\r\n"
    )
    request = (
        '<SendMail xmlns="ComposeMail:"><ClientId>c-1</ClientId><SaveInSentItems/>'
        f"<MIME><![CDATA[{mime}]]></MIME></SendMail>"
    )
    # success is an empty answer
    response = phone.request("SendMail", request)
    assert (response.status, response.document) == (200, None), ET.tostring(response.document)

    def received(address: str, folder: str = "INBOX") -> list[bytes]:
        with imap_session(address) as imap:
            imap.select_folder(folder, readonly=True)
            uids = imap.search(["SUBJECT", "from the phone"])
            return [data[b"BODY[]"] for data in imap.fetch(uids, [b"BODY.PEEK[]"]).values()]

    [copy_to] = received(to)
    [copy_bcc] = received(bcc)
    assert b"sent over ActiveSync" in copy_to and b"Bcc:" not in copy_to and b"Bcc:" not in copy_bcc
    [kept] = received(sender, "Sent")
    assert f"Bcc: {bcc}".encode() in kept
    # the same ClientId again: not sent twice
    again = phone.command("SendMail", request)
    assert again.findtext("{ComposeMail}Status") == "118"
    assert len(received(to)) == 1
    # a foreign From is refused by the submission server's header From rule
    forged = request.replace("c-1", "c-2").replace(f"From: {sender}", "From: ceo@elsewhere.example")
    assert phone.command("SendMail", forged).findtext("{ComposeMail}Status") == "120"
    assert len(received(to)) == 1


def test_brute_force_is_blocked_and_plain_http_refused(running_mailplane, mailbox_factory, settings):
    settings.BRUTEFORCE_LOGIN_FAILURES = 3
    address, password = mailbox_factory()
    phone = Phone(address, password)
    for attempt in range(3):
        assert phone.request("Provision", None, password=f"guess-{attempt}").status == 401
    # blocked: even the right password is refused, and the access log says so
    blocked = phone.request("Provision", None)
    assert blocked.status == 429 and int(blocked.headers["Retry-After"]) > 0
    row = AccessLogEntry.objects.filter(login=address, protocol="activesync").latest("at")
    assert row.result == "blocked"
    # without TLS, no credential is even looked at
    settings.ACTIVESYNC_ALLOW_PLAIN_HTTP = False
    answer = phone.client.post(
        "/Microsoft-Server-ActiveSync?Cmd=Provision&DeviceId=X&DeviceType=Y",
        data=b"",
        content_type="application/vnd.ms-sync.wbxml",
        secure=False,
    )
    assert answer.status_code == 403


def test_deleted_folder_and_changed_uidvalidity_recover(running_mailplane, mailbox_factory):
    address, password = mailbox_factory()
    with imap_session(address) as imap:
        imap.create_folder("Projects")
        imap.append("Projects", message("a@example.net", address, subject="p1"))
    phone = Phone(address, password)
    phone.provision()
    folders = phone.folder_sync()
    projects = next(
        a.findtext(f"{F}ServerId")
        for a in folders.iter(f"{F}Add")
        if a.findtext(f"{F}DisplayName") == "Projects"
    )
    key = phone.sync(projects, "0").findtext(f"{A}SyncKey")
    page = phone.sync(projects, key)
    assert [a.find(f"{A}ApplicationData").findtext(f"{M}Subject") for a in commands_of(page, "Add")] == ["p1"]
    key = page.findtext(f"{A}SyncKey")
    # the folder is deleted and made again under the same name: a new UIDVALIDITY
    with imap_session(address) as imap:
        imap.delete_folder("Projects")
        imap.create_folder("Projects")
        imap.append("Projects", message("a@example.net", address, subject="p2"))
    # Status 3: the device drops what it holds and starts over with key 0
    assert phone.sync(projects, key).findtext(f"{A}Status") == "3"
    key = phone.sync(projects, "0").findtext(f"{A}SyncKey")
    page = phone.sync(projects, key)
    assert [a.find(f"{A}ApplicationData").findtext(f"{M}Subject") for a in commands_of(page, "Add")] == ["p2"]
    # the folder deleted for good: Sync says the hierarchy changed (12), FolderSync deletes it
    with imap_session(address) as imap:
        imap.delete_folder("Projects")
    assert phone.sync(projects, page.findtext(f"{A}SyncKey")).findtext(f"{A}Status") == "12"
    changed = phone.folder_sync(folders.findtext(f"{F}SyncKey"))
    assert [d.findtext(f"{F}ServerId") for d in changed.iter(f"{F}Delete")] == [projects]
    assert phone.sync(projects, "0").findtext(f"{A}Status") == "12"


def test_a_folder_made_again_or_deleted_while_sent_in_pages_is_noticed(running_mailplane, mailbox_factory):
    # given a phone half-way through a folder sent one message a page
    address, password = mailbox_factory()
    with imap_session(address) as imap:
        imap.create_folder("Projects")
        for i in range(3):
            imap.append("Projects", message("a@example.net", address, subject=f"p{i}"))
    phone = Phone(address, password)
    phone.provision()
    folders = phone.folder_sync()
    projects = phone.folder_ids(folders)["Projects"]
    key = phone.sync(projects, "0").findtext(f"{A}SyncKey")
    page = phone.sync(projects, key, window=1)
    assert page.find(f"{A}MoreAvailable") is not None
    key = page.findtext(f"{A}SyncKey")
    # when the folder is deleted and made again (a new UIDVALIDITY)
    with imap_session(address) as imap:
        imap.delete_folder("Projects")
        imap.create_folder("Projects")
        imap.append("Projects", message("a@example.net", address, subject="again"))
    # then the next page is Status 3, and the phone starts over with the new folder
    assert phone.sync(projects, key, window=1).findtext(f"{A}Status") == "3"
    key = phone.sync(projects, "0").findtext(f"{A}SyncKey")
    page = phone.sync(projects, key, window=1)
    assert [a.find(f"{A}ApplicationData").findtext(f"{M}Subject") for a in commands_of(page, "Add")] == [
        "again"
    ]
    # and a folder deleted for good between pages is Status 12
    with imap_session(address) as imap:
        imap.append("Projects", message("a@example.net", address, subject="more"))
    key = phone.sync(projects, "0").findtext(f"{A}SyncKey")
    page = phone.sync(projects, key, window=1)
    assert page.find(f"{A}MoreAvailable") is not None
    with imap_session(address) as imap:
        imap.delete_folder("Projects")
    assert phone.sync(projects, page.findtext(f"{A}SyncKey"), window=1).findtext(f"{A}Status") == "12"


def test_move_items_between_folders(running_mailplane, mailbox_factory):
    address, password = mailbox_factory()
    with imap_session(address) as imap:
        imap.create_folder("Projects")
    for i in range(2):
        lmtp_deliver(running_mailplane, address, message("sender@example.net", address, subject=f"v{i}"))
    phone = Phone(address, password)
    phone.provision()
    folders = phone.folder_sync()
    ids = {a.findtext(f"{F}DisplayName"): a.findtext(f"{F}ServerId") for a in folders.iter(f"{F}Add")}
    inbox = next(a.findtext(f"{F}ServerId") for a in folders.iter(f"{F}Add") if a.findtext(f"{F}Type") == "2")
    keys = {}
    for folder in (inbox, ids["Projects"]):
        keys[folder] = phone.sync(folder, "0").findtext(f"{A}SyncKey")
    page = phone.sync(inbox, keys[inbox])
    keys[inbox] = page.findtext(f"{A}SyncKey")
    keys[ids["Projects"]] = phone.sync(ids["Projects"], keys[ids["Projects"]]).findtext(f"{A}SyncKey")
    by_subject = {
        a.find(f"{A}ApplicationData").findtext(f"{M}Subject"): a.findtext(f"{A}ServerId")
        for a in commands_of(page, "Add")
    }
    moved_id = by_subject["v0"]

    answer = phone.command(
        "MoveItems",
        f'<MoveItems xmlns="Move:"><Move><SrcMsgId>{moved_id}</SrcMsgId><SrcFldId>{inbox}</SrcFldId>'
        f"<DstFldId>{ids['Projects']}</DstFldId></Move><Move><SrcMsgId>{inbox}:999999</SrcMsgId>"
        f"<SrcFldId>{inbox}</SrcFldId><DstFldId>{ids['Projects']}</DstFldId></Move></MoveItems>",
    )
    ok, missing = answer.findall("{Move}Response")
    assert ok.findtext("{Move}Status") == "3" and missing.findtext("{Move}Status") == "1"
    new_id = ok.findtext("{Move}DstMsgId")
    assert new_id.startswith(f"{ids['Projects']}:")
    with imap_session(address) as imap:
        imap.select_folder("Projects", readonly=True)
        [uid] = imap.search(["SUBJECT", "v0"])
        assert new_id == f"{ids['Projects']}:{uid}"
        imap.select_folder("INBOX", readonly=True)
        assert imap.search(["SUBJECT", "v0"]) == []
    # the move is not sent back to the device as a deletion and a new message
    assert phone.sync(inbox, keys[inbox]).find(f"{A}Commands") is None
    assert phone.sync(ids["Projects"], keys[ids["Projects"]]).find(f"{A}Commands") is None


def test_item_operations_fetch_an_attachment_byte_identical_and_a_message(running_mailplane, mailbox_factory):
    import base64
    import email.message

    address, password = mailbox_factory()
    attachment = bytes(range(256)) * 40  # binary, every byte value
    mail = email.message.EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "sender@example.net", address, "with a file"
    mail.set_content("see the file")
    mail.add_attachment(attachment, maintype="application", subtype="octet-stream", filename="data.bin")
    lmtp_deliver(running_mailplane, address, mail.as_bytes())
    phone = Phone(address, password)
    phone.provision()
    inbox = _inbox_id(phone)
    key = phone.sync(inbox, "0").findtext(f"{A}SyncKey")
    [add] = commands_of(phone.sync(inbox, key, truncation=5), "Add")
    server_id = add.findtext(f"{A}ServerId")
    [listed] = add.findall(f"{A}ApplicationData/{B}Attachments/{B}Attachment")
    assert listed.findtext(f"{B}DisplayName") == "data.bin"
    assert listed.findtext(f"{B}EstimatedDataSize") == str(len(attachment))
    reference = listed.findtext(f"{B}FileReference")
    assert add.find(f"{A}ApplicationData/{B}Body").findtext(f"{B}Truncated") == "1"

    answer = phone.command(
        "ItemOperations",
        '<ItemOperations xmlns="ItemOperations:" xmlns:airsyncbase="AirSyncBase:" xmlns:as="AirSync:">'
        f"<Fetch><Store>Mailbox</Store><airsyncbase:FileReference>{reference}</airsyncbase:FileReference></Fetch>"
        f"<Fetch><Store>Mailbox</Store><as:CollectionId>{inbox}</as:CollectionId><as:ServerId>{server_id}"
        "</as:ServerId><Options><airsyncbase:BodyPreference><airsyncbase:Type>1</airsyncbase:Type>"
        "</airsyncbase:BodyPreference></Options></Fetch>"
        f"<Fetch><Store>Mailbox</Store><airsyncbase:FileReference>{inbox}:1:99</airsyncbase:FileReference></Fetch>"
        "</ItemOperations>",
    )
    assert answer.findtext("{ItemOperations}Status") == "1"
    file_fetch, message_fetch, missing = answer.findall("{ItemOperations}Response/{ItemOperations}Fetch")
    assert file_fetch.findtext("{ItemOperations}Status") == "1"
    properties = file_fetch.find("{ItemOperations}Properties")
    assert properties.findtext(f"{B}ContentType") == "application/octet-stream"
    assert base64.b64decode(properties.findtext("{ItemOperations}Data")) == attachment
    assert message_fetch.findtext("{ItemOperations}Status") == "1"
    body = message_fetch.find(f"{{ItemOperations}}Properties/{B}Body")
    assert body.findtext(f"{B}Truncated") == "0" and body.findtext(f"{B}Data").strip() == "see the file"
    assert missing.findtext("{ItemOperations}Status") == "15"


def test_folder_create_rename_delete_from_the_device(running_mailplane, mailbox_factory):
    address, password = mailbox_factory()
    phone = Phone(address, password)
    phone.provision()
    folders = phone.folder_sync()
    key = folders.findtext(f"{F}SyncKey")
    inbox = next(a.findtext(f"{F}ServerId") for a in folders.iter(f"{F}Add") if a.findtext(f"{F}Type") == "2")

    def folder_names() -> set[str]:
        with imap_session(address) as imap:
            return {name for _flags, _sep, name in imap.list_folders()}

    created = phone.command(
        "FolderCreate",
        f'<FolderCreate xmlns="FolderHierarchy:"><SyncKey>{key}</SyncKey><ParentId>0</ParentId>'
        "<DisplayName>Trips</DisplayName><Type>12</Type></FolderCreate>",
    )
    assert created.findtext(f"{F}Status") == "1"
    key, trips = created.findtext(f"{F}SyncKey"), created.findtext(f"{F}ServerId")
    assert "Trips" in folder_names()
    child = phone.command(
        "FolderCreate",
        f'<FolderCreate xmlns="FolderHierarchy:"><SyncKey>{key}</SyncKey><ParentId>{trips}</ParentId>'
        "<DisplayName>2026</DisplayName><Type>12</Type></FolderCreate>",
    )
    key = child.findtext(f"{F}SyncKey")
    assert "Trips/2026" in folder_names()
    renamed = phone.command(
        "FolderUpdate",
        f'<FolderUpdate xmlns="FolderHierarchy:"><SyncKey>{key}</SyncKey><ServerId>{trips}</ServerId>'
        "<ParentId>0</ParentId><DisplayName>Travel</DisplayName></FolderUpdate>",
    )
    assert renamed.findtext(f"{F}Status") == "1"
    key = renamed.findtext(f"{F}SyncKey")
    assert {"Travel", "Travel/2026"} <= folder_names() and "Trips" not in folder_names()
    # what the device did itself is not sent back to it
    assert phone.folder_sync(key).findtext(f"{F}Changes/{F}Count") == "0"
    # special folders stay; a stale key is refused
    refused = phone.command(
        "FolderDelete",
        f'<FolderDelete xmlns="FolderHierarchy:"><SyncKey>{key}</SyncKey>'
        f"<ServerId>{inbox}</ServerId></FolderDelete>",
    )
    assert refused.findtext(f"{F}Status") == "3"
    stale = phone.command(
        "FolderDelete",
        f'<FolderDelete xmlns="FolderHierarchy:"><SyncKey>1</SyncKey>'
        f"<ServerId>{trips}</ServerId></FolderDelete>",
    )
    assert stale.findtext(f"{F}Status") == "9"
    deleted = phone.command(
        "FolderDelete",
        f'<FolderDelete xmlns="FolderHierarchy:"><SyncKey>{key}</SyncKey>'
        f"<ServerId>{trips}</ServerId></FolderDelete>",
    )
    assert deleted.findtext(f"{F}Status") == "1"
    assert not {name for name in folder_names() if name.startswith("Travel")}
    assert phone.folder_sync(deleted.findtext(f"{F}SyncKey")).findtext(f"{F}Changes/{F}Count") == "0"


def test_smart_reply_keeps_the_thread_and_smart_forward_attaches_the_original(submission, mailbox_factory):
    address, password = mailbox_factory()
    correspondent, _ = mailbox_factory()
    original = (
        f"From: {correspondent}\r\nTo: {address}\r\nSubject: question\r\n"
        "Message-ID: <q1@example.net>\r\nReferences: <q0@example.net>\r\n\r\nare you there?\r\n"
    ).encode()
    lmtp_deliver(submission, address, original)
    phone = Phone(address, password)
    phone.provision()
    inbox = _inbox_id(phone)
    key = phone.sync(inbox, "0").findtext(f"{A}SyncKey")
    [add] = commands_of(phone.sync(inbox, key), "Add")
    item = add.findtext(f"{A}ServerId")

    reply = f"From: {address}\r\nTo: {correspondent}\r\nSubject: Re: question\r\n\r\nyes I am\r\n"
    response = phone.request(
        "SmartReply",
        f'<SmartReply xmlns="ComposeMail:"><ClientId>r-1</ClientId><SaveInSentItems/><Source>'
        f"<FolderId>{inbox}</FolderId><ItemId>{item}</ItemId></Source><MIME><![CDATA[{reply}]]></MIME></SmartReply>",
    )
    assert (response.status, response.document) == (200, None)
    forward = f"From: {address}\r\nTo: {correspondent}\r\nSubject: Fw: question\r\n\r\nsee below\r\n"
    response = phone.request(
        "SmartForward",
        f'<SmartForward xmlns="ComposeMail:"><ClientId>f-1</ClientId><Source>'
        f"<FolderId>{inbox}</FolderId><ItemId>{item}</ItemId></Source><MIME><![CDATA[{forward}]]></MIME></SmartForward>",
    )
    assert (response.status, response.document) == (200, None)

    with imap_session(correspondent) as imap:
        imap.select_folder("INBOX", readonly=True)
        fetched = imap.fetch(imap.search(["ALL"]), [b"BODY.PEEK[]"])
    received = {}
    for data in fetched.values():
        parsed = email.message_from_bytes(data[b"BODY[]"])
        received[parsed["Subject"]] = parsed
    answer = received["Re: question"]
    assert answer["In-Reply-To"] == "<q1@example.net>"
    assert answer["References"].split() == ["<q0@example.net>", "<q1@example.net>"]
    text = answer.get_payload(decode=True).decode()
    assert text.startswith("yes I am") and "> are you there?" in text
    forwarded = received["Fw: question"]
    parts = forwarded.get_payload()
    assert parts[0].get_payload(decode=True).decode().strip() == "see below"
    assert parts[1].get_content_type() == "message/rfc822"
    assert parts[1].get_payload(0)["Message-ID"] == "<q1@example.net>"
    # the original is marked answered and forwarded; the reply is in Sent
    with imap_session(address) as imap:
        imap.select_folder("INBOX", readonly=True)
        [flags] = imap.get_flags(imap.search(["ALL"])).values()
        assert b"\\Answered" in flags and b"$Forwarded" in flags
        imap.select_folder("Sent", readonly=True)
        assert len(imap.search(["SUBJECT", "Re: question"])) == 1
    # a Source that does not exist
    missing = phone.command(
        "SmartReply",
        f'<SmartReply xmlns="ComposeMail:"><ClientId>r-2</ClientId><Source><FolderId>{inbox}</FolderId>'
        f"<ItemId>{inbox}:99999</ItemId></Source><MIME><![CDATA[{reply}]]></MIME></SmartReply>",
    )
    assert missing.findtext("{ComposeMail}Status") == "150"


def test_settings_device_and_user_information(running_mailplane, mailbox_factory):
    address, password = mailbox_factory(first_name="Anna", last_name="Rossi")
    phone = Phone(address, password)
    phone.provision()
    answer = phone.command(
        "Settings",
        '<Settings xmlns="Settings:"><DeviceInformation><Set><Model>Pixel 8</Model><OS>Android 14</OS>'
        "<FriendlyName>Anna's phone</FriendlyName></Set></DeviceInformation><UserInformation><Get/>"
        "</UserInformation><Oof><Get><BodyType>Text</BodyType></Get></Oof></Settings>",
    )
    S = "{Settings}"
    assert answer.findtext(f"{S}Status") == "1"
    assert answer.findtext(f"{S}DeviceInformation/{S}Status") == "1"
    account = answer.find(f"{S}UserInformation/{S}Get/{S}Accounts/{S}Account")
    assert account.findtext(f"{S}UserDisplayName") == "Anna Rossi"
    assert account.findtext(f"{S}EmailAddresses/{S}PrimarySmtpAddress") == address
    assert answer.findtext(f"{S}Oof/{S}Status") == "1"
    assert answer.findtext(f"{S}Oof/{S}Get/{S}OofState") == "0"  # no vacation reply set
    device = Device.objects.get(device_id=phone.device_id, mailbox=_mailbox(address))
    assert (device.model, device.os, device.friendly_name) == ("Pixel 8", "Android 14", "Anna's phone")


def test_sync_without_a_body_repeats_the_last_request(running_mailplane, mailbox_factory):
    address, password = mailbox_factory()
    lmtp_deliver(running_mailplane, address, message("sender@example.net", address, subject="first"))
    phone = Phone(address, password)
    phone.provision()
    inbox = _inbox_id(phone)
    # nothing to repeat yet: Status 13
    assert phone.command("Sync", None).findtext(f"{A}Status") == "13"
    key = phone.sync(inbox, "0").findtext(f"{A}SyncKey")
    page = phone.sync(inbox, key)
    assert [a.findtext(f"{A}ApplicationData/{M}Subject") for a in commands_of(page, "Add")] == ["first"]
    key = page.findtext(f"{A}SyncKey")
    # new mail (a Ping would say so); the phone sends Sync with no body: the same collection,
    # under its current key, with the same options
    lmtp_deliver(running_mailplane, address, message("sender@example.net", address, subject="second"))
    answer = phone.command("Sync", None)
    collection = answer.find(f"{A}Collections/{A}Collection")
    assert collection.findtext(f"{A}CollectionId") == inbox and collection.findtext(f"{A}Status") == "1"
    assert collection.findtext(f"{A}SyncKey") == str(int(key) + 1)
    adds = commands_of(collection, "Add")
    assert [a.findtext(f"{A}ApplicationData/{M}Subject") for a in adds] == ["second"]
    assert adds[0].findtext(f"{A}ApplicationData/{B}Body/{B}Type") == "1"
    # and the phone goes on with the key it got
    assert phone.sync(inbox, collection.findtext(f"{A}SyncKey")).findtext(f"{A}Status") == "1"
