"""Hostile and malformed input on the real endpoint, as an outside tester sends it: undecodable
WBXML, strings sent as OPAQUE, numbers that are not ASCII digits, ids of another mailbox, query
parameters out of bounds, and hostile mail in the real Dovecot. Never HTTP 500, never another
mailbox's data, no mail lost; HTTP 400 for what cannot be decoded, else the command's Status.

Requests are built by libwbxml2-utils where they are well formed, by hand where they are not;
the test client does not raise the server's exceptions, so a 500 is seen as the phone sees it."""

from __future__ import annotations

import base64
from urllib.parse import urlencode

import pytest
from django.test import Client

from activesync.codepages import PAGE_OF, TOKEN_OF
from activesync.commands import NAMESPACE, SUPPORTED
from activesync.wbxml import decode
from devices.models import Device
from domains.models import Mailbox
from mailstore.imap import imap_session
from tests.activesync import libwbxml
from tests.activesync.phone import WBXML, A, B, F, M, Phone, commands_of

pytestmark = pytest.mark.protocol

IO, V, P, S, R, C, G, FH = (
    "{ItemOperations}",
    "{Move}",
    "{Ping}",
    "{Search}",
    "{ResolveRecipients}",
    "{ComposeMail}",
    "{GetItemEstimate}",
    "{FolderHierarchy}",
)
HEADER = bytes([0x03, 0x01, 0x6A, 0x00])  # WBXML 1.3, public id 1, UTF-8, no string table
X = libwbxml.xml2wbxml


def _phone(address: str, password: str, **kwargs) -> Phone:
    return Phone(address, password, client=Client(raise_request_exception=False), **kwargs)


def _post(
    phone: Phone, command: str, body: bytes, *, query: dict | None = None, **headers
) -> tuple[int, bytes]:
    """A request with these exact body bytes (and query parameters, headers) from `phone`."""
    params = {
        "Cmd": command,
        "User": phone.login,
        "DeviceId": phone.device_id,
        "DeviceType": phone.device_type,
    }
    params.update(query or {})
    secret = base64.b64encode(f"{phone.login}:{phone.password}".encode()).decode()
    meta = {
        "HTTP_AUTHORIZATION": f"Basic {secret}",
        "HTTP_MS_ASPROTOCOLVERSION": phone.version,
        "HTTP_X_MS_POLICYKEY": phone.policy_key,
        **headers,
    }
    answer = Client(raise_request_exception=False).post(
        f"/Microsoft-Server-ActiveSync?{urlencode(params)}",
        data=body,
        content_type=WBXML,
        secure=True,
        **meta,
    )
    return answer.status_code, answer.content


def _ready(address: str, password: str, **kwargs) -> tuple[Phone, dict[str, str]]:
    """A provisioned phone and its folders (DisplayName → id; "inbox" for the Inbox)."""
    phone = _phone(address, password, **kwargs)
    phone.provision()
    answer = phone.folder_sync()
    ids = phone.folder_ids(answer)
    by_type = {a.findtext(f"{F}Type"): a.findtext(f"{F}ServerId") for a in answer.iter(f"{F}Add")}
    ids["inbox"], ids["trash"] = by_type["2"], by_type["4"]
    ids["key"] = answer.findtext(f"{F}SyncKey")
    return phone, ids


def _tag(tag: str, content: bool) -> bytes:
    """SWITCH_PAGE to the tag's code page and its token (hand-made documents)."""
    namespace, _, name = tag[1:].partition("}")
    return bytes([0x00, PAGE_OF[namespace], TOKEN_OF[(namespace, name)] | (0x40 if content else 0)])


def _device(phone: Phone) -> Device:
    local, _, domain = phone.login.partition("@")
    return Device.objects.get(
        device_id=phone.device_id, mailbox__local_part=local, mailbox__domain__name=domain
    )


def _root(command: str) -> str:
    return f"{{{NAMESPACE[command]}}}{command}"


# 1. Undecodable documents ---------------------------------------------------------------------


def _undecodable(command: str) -> dict[str, bytes]:
    root = _tag(_root(command), True)
    status = _tag(f"{{{NAMESPACE[command]}}}Status", False)
    return {
        "truncated": HEADER + root + status,
        "version 0x04": bytes([0x04]) + HEADER[1:] + root + b"\x01",
        "version 0xff": bytes([0xFF]) + HEADER[1:] + root + b"\x01",
        "string table of 2**35 bytes": HEADER[:3] + b"\xff\xff\xff\xff\x7f" + root + b"\x01",
        "opaque of 2**32 bytes": HEADER + root + b"\xc3\x90\x80\x80\x80\x00" + b"\x01",
        "mb_u_int32 of six bytes": HEADER[:3] + b"\x81\x81\x81\x81\x81\x01" + root + b"\x01",
        "100,000 nested tags": HEADER + root * 100_000 + b"\x01" * 100_000,
        "code page 0x7f": HEADER + b"\x00\x7f\x45\x01",
        "unknown token": HEADER + root + b"\x00\x00\x3f\x01",
        "string table reference": HEADER[:3] + b"\x02x\x00" + root + b"\x83\x00\x01",
        "entity": HEADER + root + b"\x02\x41\x01",
        "literal tag": HEADER + root + b"\x04\x00\x01",
        "attributes": HEADER + bytes([0x00, root[1], root[2] | 0x80]) + b"\x01\x01",
        "text and children": HEADER + root + b"\x03text\x00" + status + b"\x01",
        "opaque and children": HEADER + root + b"\xc3\x02ab" + status + b"\x01",
        "two roots": HEADER + root + b"\x01" + root + b"\x01",
        "bytes after the root": HEADER + root + b"\x01\x01\x01",
        "charset latin-1": HEADER[:2] + b"\x04\x00" + root + b"\x01",
        "1,000,000 empty elements": HEADER + root + status * 1_000_000 + b"\x01",
    }


def test_undecodable_wbxml_is_400_for_every_command(running_mailplane, mailbox_factory):
    # given a provisioned phone
    address, password = mailbox_factory()
    phone, _ids = _ready(address, password)
    # when each command is sent each document it cannot decode
    wrong = {}
    for command in SUPPORTED:
        for name, body in _undecodable(command).items():
            status, _content = _post(phone, command, body)
            if status != 400:
                wrong[(command, name)] = status
    # then every one is answered 400 (a 500 or a 200 for "text and children" or the million
    # elements before the decoder refused them)
    assert wrong == {}


def test_another_commands_document_is_400(running_mailplane, mailbox_factory):
    address, password = mailbox_factory()
    phone, _ids = _ready(address, password)
    stranger = X('<Subject xmlns="Email:">not a command</Subject>')
    assert {command: _post(phone, command, stranger)[0] for command in SUPPORTED} == dict.fromkeys(
        SUPPORTED, 400
    )


# 2. Well-formed but hostile requests ------------------------------------------------------------


def _with_a_message(running_mailplane, mailbox_factory) -> tuple[Phone, dict[str, str], str, str]:
    """A phone that synced an INBOX holding one message with an attachment: (phone, folders,
    ServerId, FileReference)."""
    address, password = mailbox_factory()
    with imap_session(address) as imap:
        imap.append("INBOX", _attached(address, b"mine", "first"))
    phone, ids = _ready(address, password)
    key = phone.sync(ids["inbox"], "0").findtext(f"{A}SyncKey")
    [add] = commands_of(phone.sync(ids["inbox"], key), "Add")
    reference = add.find(f"{A}ApplicationData/{B}Attachments/{B}Attachment").findtext(f"{B}FileReference")
    return phone, ids, add.findtext(f"{A}ServerId"), reference


def _attached(address: str, data: bytes, subject: str) -> bytes:
    import email.message

    mail = email.message.EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "sender@example.net", address, subject
    mail.set_content(f"the text of {subject}")
    mail.add_attachment(data, maintype="application", subtype="octet-stream", filename="data.bin")
    return mail.as_bytes()


def _io(phone: Phone, fetch: str) -> tuple[int, object]:
    response = phone.request(
        "ItemOperations",
        '<ItemOperations xmlns="ItemOperations:" xmlns:airsyncbase="AirSyncBase:" xmlns:as="AirSync:">'
        f"<Fetch><Store>Mailbox</Store>{fetch}</Fetch></ItemOperations>",
    )
    if response.status != 200:
        return response.status, None
    return 200, response.document.findtext(f"{IO}Response/{IO}Fetch/{IO}Status")


def test_strings_sent_as_opaque_data_are_read_as_strings(running_mailplane, mailbox_factory, settings):
    """Libwbxml sends CDATA as OPAQUE, as some devices send strings: each answer is the one the
    same request with inline strings gets (it was a 500: bytes where the commands take str)."""
    settings.ACTIVESYNC_HEARTBEAT_MIN = 1
    phone, ids, server_id, reference = _with_a_message(running_mailplane, mailbox_factory)
    inbox = ids["inbox"]
    # ItemOperations: the attachment and the message, by references sent as opaque data
    assert _io(phone, f"<airsyncbase:FileReference><![CDATA[{reference}]]></airsyncbase:FileReference>") == (
        200,
        "1",
    )
    assert _io(
        phone,
        f"<as:CollectionId><![CDATA[{inbox}]]></as:CollectionId><as:ServerId><![CDATA[{server_id}]]>"
        "</as:ServerId>",
    ) == (200, "1")
    # MoveItems: the message moved to Trash
    moved = phone.request(
        "MoveItems",
        f'<MoveItems xmlns="Move:"><Move><SrcMsgId><![CDATA[{server_id}]]></SrcMsgId>'
        f"<SrcFldId><![CDATA[{inbox}]]></SrcFldId><DstFldId>{ids['trash']}</DstFldId></Move></MoveItems>",
    )
    assert moved.status == 200
    assert moved.document.findtext(f"{V}Response/{V}Status") == "3"
    assert moved.document.findtext(f"{V}Response/{V}SrcMsgId") == server_id
    # Ping: the Inbox watched
    pinged = phone.request(
        "Ping",
        f'<Ping xmlns="Ping:"><HeartbeatInterval>1</HeartbeatInterval><Folders><Folder>'
        f"<Id><![CDATA[{inbox}]]></Id><Class>Email</Class></Folder></Folders></Ping>",
    )
    assert pinged.status == 200 and pinged.document.findtext(f"{P}Status") in ("1", "2")
    assert _device(phone).ping_folders == [inbox]
    # Search (Mailbox and GAL) and ResolveRecipients
    found = phone.request(
        "Search",
        '<Search xmlns="Search:"><Store><Name>Mailbox</Name><Query><And>'
        "<FreeText><![CDATA[first]]></FreeText></And></Query></Store></Search>",
    )
    assert found.status == 200 and found.document.findtext(f"{S}Response/{S}Store/{S}Total") == "1"
    gal = phone.request(
        "Search",
        '<Search xmlns="Search:"><Store><Name>GAL</Name>'
        f"<Query><![CDATA[{phone.login}]]></Query></Store></Search>",
    )
    assert gal.status == 200 and gal.document.findtext(f"{S}Response/{S}Store/{S}Total") == "1"
    resolved = phone.request(
        "ResolveRecipients",
        '<ResolveRecipients xmlns="ResolveRecipients:">'
        f"<To><![CDATA[{phone.login}]]></To></ResolveRecipients>",
    )
    assert resolved.status == 200 and resolved.document.findtext(f"{R}Response/{R}Status") == "1"
    # FolderCreate with the name as opaque data; Settings Oof with the message as opaque data
    created = phone.request(
        "FolderCreate",
        f'<FolderCreate xmlns="FolderHierarchy:"><SyncKey>{ids["key"]}</SyncKey><ParentId>0</ParentId>'
        "<DisplayName><![CDATA[Trips]]></DisplayName><Type>12</Type></FolderCreate>",
    )
    assert created.status == 200 and created.document.findtext(f"{FH}Status") == "1"
    with imap_session(phone.login) as imap:
        assert "Trips" in {name for _flags, _sep, name in imap.list_folders()}
    oof = phone.request(
        "Settings",
        '<Settings xmlns="Settings:"><Oof><Set><OofState>1</OofState><OofMessage><AppliesToInternal/>'
        "<Enabled>1</Enabled><ReplyMessage><![CDATA[away]]></ReplyMessage><BodyType>Text</BodyType>"
        "</OofMessage></Set></Oof></Settings>",
    )
    assert oof.status == 200 and oof.document.findtext("{Settings}Oof/{Settings}Status") == "1"


def test_numbers_that_are_not_ascii_digits_or_too_long(running_mailplane, mailbox_factory):
    """ "²".isdigit() is True and int("²") fails; int() refuses 4,300 digits and more: each was a
    500. Now each is a number the command does not know, answered with its Status."""
    phone, ids, server_id, reference = _with_a_message(running_mailplane, mailbox_factory)
    inbox, huge = ids["inbox"], "9" * 5000
    garbage = (
        "../../etc/passwd",
        f"{inbox}/../1:1",
        f"{inbox}:1:-1",
        f"{inbox}:1",
        f"{inbox}:1:1:1",
        "%2e%2e:1:1",
        ":::",
    )
    for bad in (f"{inbox}:\u00b2:1", f"{inbox}:1:\u00b2", f"{inbox}:{huge}:1", f"{inbox}:1:{huge}", *garbage):
        assert _io(phone, f"<airsyncbase:FileReference>{bad}</airsyncbase:FileReference>") == (200, "15"), bad
    for bad in (f"{inbox}:\u00b2", f"{inbox}:{huge}"):
        fetch = f"<as:CollectionId>{inbox}</as:CollectionId><as:ServerId>{bad}</as:ServerId>"
        assert _io(phone, fetch) == (200, "6"), bad
        moved = phone.request(
            "MoveItems",
            f'<MoveItems xmlns="Move:"><Move><SrcMsgId>{bad}</SrcMsgId><SrcFldId>{inbox}</SrcFldId>'
            f"<DstFldId>{ids['trash']}</DstFldId></Move></MoveItems>",
        )
        assert (moved.status, moved.document.findtext(f"{V}Response/{V}Status")) == (200, "1"), bad
        replied = phone.request(
            "SmartReply",
            f'<SmartReply xmlns="ComposeMail:"><ClientId>r-{len(bad)}</ClientId><Source><FolderId>{inbox}'
            f"</FolderId><ItemId>{bad}</ItemId></Source><MIME><![CDATA[To: a@example.net\r\n\r\nx]]></MIME>"
            "</SmartReply>",
        )
        assert (replied.status, replied.document.findtext(f"{C}Status")) == (200, "150"), bad
    # Ping: a heartbeat of 5,000 digits is out of bounds (Status 5), one of "²" is none (Status 3)
    for heartbeat, status in ((huge, "5"), ("\u00b2", "3")):
        pinged = phone.request(
            "Ping",
            f'<Ping xmlns="Ping:"><HeartbeatInterval>{heartbeat}</HeartbeatInterval><Folders><Folder>'
            f"<Id>{inbox}</Id><Class>Email</Class></Folder></Folders></Ping>",
        )
        assert (pinged.status, pinged.document.findtext(f"{P}Status")) == (200, status)
    # Search and ResolveRecipients: a Range and a MaxAmbiguousRecipients of "²" are the defaults
    found = phone.request(
        "Search",
        '<Search xmlns="Search:"><Store><Name>Mailbox</Name><Query><And><FreeText>first</FreeText></And>'
        f"</Query><Options><Range>\u00b2-{huge}</Range></Options></Store></Search>",
    )
    assert found.status == 200 and found.document.findtext(f"{S}Response/{S}Store/{S}Total") == "1"
    resolved = phone.request(
        "ResolveRecipients",
        f'<ResolveRecipients xmlns="ResolveRecipients:"><To>{phone.login}</To><Options>'
        "<MaxAmbiguousRecipients>\u00b2</MaxAmbiguousRecipients></Options></ResolveRecipients>",
    )
    assert resolved.status == 200 and resolved.document.findtext(f"{R}Response/{R}Status") == "1"
    # Sync: a FilterType of "²" is refused like any FilterType that is not a window
    key = phone.sync(ids["inbox"], "0").findtext(f"{A}SyncKey")
    refused = phone.request(
        "Sync",
        f'<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>{key}</SyncKey><CollectionId>{inbox}'
        "</CollectionId><Options><FilterType>\u00b2</FilterType></Options></Collection></Collections></Sync>",
    )
    assert refused.status == 400
    # Provision: a temporary key of "²" or 5,000 digits is unknown (Policy Status 5)
    for key in ("\u00b2", huge):
        answer = phone.request(
            "Provision",
            '<Provision xmlns="Provision:"><Policies><Policy>'
            "<PolicyType>MS-EAS-Provisioning-WBXML</PolicyType>"
            f"<PolicyKey>{key}</PolicyKey><Status>1</Status></Policy></Policies></Provision>",
        )
        assert answer.status == 200
        assert answer.document.findtext("{Provision}Policies/{Provision}Policy/{Provision}Status") == "5"
    # and the message is where it was
    with imap_session(phone.login) as imap:
        imap.select_folder("INBOX", readonly=True)
        assert len(imap.search(["ALL"])) == 1


def test_folder_ids_that_are_not_ascii_digits(running_mailplane, mailbox_factory):
    phone, ids, server_id, _reference = _with_a_message(running_mailplane, mailbox_factory)
    for bad in ("\u00b2", "9" * 5000):
        synced = phone.request(
            "Sync",
            f'<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>0</SyncKey><CollectionId>{bad}'
            "</CollectionId></Collection></Collections></Sync>",
        )
        assert synced.status == 200
        assert synced.document.findtext(f"{A}Collections/{A}Collection/{A}Status") == "12"
        estimate = phone.request(
            "GetItemEstimate",
            '<GetItemEstimate xmlns="GetItemEstimate:" xmlns:as="AirSync:"><Collections><Collection>'
            f"<as:SyncKey>1</as:SyncKey><CollectionId>{bad}</CollectionId></Collection></Collections>"
            "</GetItemEstimate>",
        )
        assert (estimate.status, estimate.document.findtext(f"{G}Response/{G}Status")) == (200, "2")
        pinged = phone.request(
            "Ping",
            f'<Ping xmlns="Ping:"><HeartbeatInterval>60</HeartbeatInterval><Folders><Folder><Id>{bad}</Id>'
            "<Class>Email</Class></Folder></Folders></Ping>",
        )
        assert (pinged.status, pinged.document.findtext(f"{P}Status")) == (200, "7")
        moved = phone.request(
            "MoveItems",
            f'<MoveItems xmlns="Move:"><Move><SrcMsgId>{server_id}</SrcMsgId><SrcFldId>{bad}</SrcFldId>'
            f"<DstFldId>{bad}</DstFldId></Move></MoveItems>",
        )
        assert (moved.status, moved.document.findtext(f"{V}Response/{V}Status")) == (200, "1")
        for command in ("FolderUpdate", "FolderDelete"):
            answer = phone.request(
                command,
                f'<{command} xmlns="FolderHierarchy:"><SyncKey>{ids["key"]}</SyncKey>'
                f"<ServerId>{bad}</ServerId><ParentId>0</ParentId><DisplayName>x</DisplayName></{command}>"
                if command == "FolderUpdate"
                else f'<{command} xmlns="FolderHierarchy:"><SyncKey>{ids["key"]}</SyncKey>'
                f"<ServerId>{bad}</ServerId></{command}>",
            )
            assert (answer.status, answer.document.findtext(f"{FH}Status")) == (200, "4")
        assert _io(phone, f"<as:CollectionId>{bad}</as:CollectionId><as:ServerId>{bad}:1</as:ServerId>") == (
            200,
            "6",
        )
        found = phone.request(
            "Search",
            '<Search xmlns="Search:" xmlns:airsync="AirSync:"><Store><Name>Mailbox</Name><Query><And>'
            f"<airsync:CollectionId>{bad}</airsync:CollectionId><FreeText>first</FreeText></And></Query>"
            "</Store></Search>",
        )
        assert (found.status, found.document.findtext(f"{S}Response/{S}Store/{S}Status")) == (200, "4")


def test_sync_numbers_that_are_not_ascii_digits(running_mailplane, mailbox_factory):
    phone, ids, server_id, _reference = _with_a_message(running_mailplane, mailbox_factory)
    inbox = ids["inbox"]
    key = phone.sync(inbox, "0").findtext(f"{A}SyncKey")
    for bad in ("\u00b2", "9" * 5000):
        # a WindowSize that is no number is the default one
        answer = phone.request(
            "Sync",
            f'<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>{key}</SyncKey><CollectionId>{inbox}'
            f"</CollectionId><WindowSize>{bad}</WindowSize></Collection></Collections><WindowSize>{bad}"
            "</WindowSize></Sync>",
        )
        assert answer.status == 200, bad
        key = answer.document.findtext(f"{A}Collections/{A}Collection/{A}SyncKey")
        # and it does not stay in the request a Sync without a body repeats
        assert phone.request("Sync", None).status == 200
        key = str(int(key) + 1)
        # a body Type and TruncationSize that are no number: the default body
        answer = phone.request(
            "Sync",
            f'<Sync xmlns="AirSync:" xmlns:airsyncbase="AirSyncBase:"><Collections><Collection><SyncKey>{key}'
            f"</SyncKey><CollectionId>{inbox}</CollectionId><Options><airsyncbase:BodyPreference>"
            f"<airsyncbase:Type>{bad}</airsyncbase:Type><airsyncbase:TruncationSize>{bad}"
            "</airsyncbase:TruncationSize></airsyncbase:BodyPreference></Options></Collection></Collections></Sync>",
        )
        assert answer.status == 200, bad
        key = answer.document.findtext(f"{A}Collections/{A}Collection/{A}SyncKey")
        # a Change of a ServerId whose UID is no number: Status 8 (not found)
        answer = phone.request(
            "Sync",
            f'<Sync xmlns="AirSync:" xmlns:email="Email:"><Collections><Collection><SyncKey>{key}</SyncKey>'
            f"<CollectionId>{inbox}</CollectionId><Commands><Change><ServerId>{inbox}:{bad}</ServerId>"
            "<ApplicationData><email:Read>1</email:Read></ApplicationData></Change></Commands></Collection>"
            "</Collections></Sync>",
        )
        assert answer.status == 200, bad
        collection = answer.document.find(f"{A}Collections/{A}Collection")
        assert collection.findtext(f"{A}Responses/{A}Change/{A}Status") == "8"
        key = collection.findtext(f"{A}SyncKey")


# 3. Another mailbox ------------------------------------------------------------------------------


def test_another_mailbox_is_out_of_reach_whatever_the_request_names(running_mailplane, mailbox_factory):
    # given mailbox B (another customer's domain) with a secret attachment, synced by B's phone
    other, other_password = mailbox_factory()
    secret = b"B's secret attachment " * 50
    with imap_session(other) as imap:
        imap.append("INBOX", _attached(other, secret, "secret of B"))
        imap.create_folder("Private")
    their_phone, their_ids = _ready(other, other_password, device_id="SharedId0001")
    key = their_phone.sync(their_ids["inbox"], "0").findtext(f"{A}SyncKey")
    [add] = commands_of(their_phone.sync(their_ids["inbox"], key), "Add")
    their_item = add.findtext(f"{A}ServerId")
    their_reference = add.find(f"{A}ApplicationData/{B}Attachments/{B}Attachment").findtext(
        f"{B}FileReference"
    )
    # and mailbox A, empty, whose phone has the same DeviceId and names B in User=
    address, password = mailbox_factory()
    phone = _phone(address, password, device_id="SharedId0001")
    phone.provision()
    assert (
        _post(
            phone,
            "FolderSync",
            X('<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>'),
            query={"User": other},
        )[0]
        == 200
    )
    answer = phone.folder_sync()
    names = set(phone.folder_ids(answer))
    assert "Private" not in names  # A's folders, not B's
    inbox = next(a.findtext(f"{F}ServerId") for a in answer.iter(f"{F}Add") if a.findtext(f"{F}Type") == "2")
    assert inbox == their_ids["inbox"]  # ids are per device: B's ids name A's own folders

    # when A's phone names B's folder, message and attachment everywhere
    key = phone.sync(their_ids["inbox"], "0").findtext(f"{A}SyncKey")
    synced = phone.sync(their_ids["inbox"], key)
    fetched = _io(phone, f"<airsyncbase:FileReference>{their_reference}</airsyncbase:FileReference>")
    message = _io(
        phone,
        f"<as:CollectionId>{their_ids['inbox']}</as:CollectionId><as:ServerId>{their_item}</as:ServerId>"
        "<Options><airsyncbase:BodyPreference><airsyncbase:Type>1</airsyncbase:Type>"
        "</airsyncbase:BodyPreference></Options>",
    )
    moved = phone.request(
        "MoveItems",
        f'<MoveItems xmlns="Move:"><Move><SrcMsgId>{their_item}</SrcMsgId><SrcFldId>{their_ids["inbox"]}'
        f"</SrcFldId><DstFldId>{their_ids['trash']}</DstFldId></Move></MoveItems>",
    )
    found = phone.request(
        "Search",
        '<Search xmlns="Search:"><Store><Name>Mailbox</Name><Query><And><FreeText>secret</FreeText></And>'
        "</Query></Store></Search>",
    )
    gal = phone.request(
        "Search", f'<Search xmlns="Search:"><Store><Name>GAL</Name><Query>{other}</Query></Store></Search>'
    )
    emptied = phone.request(
        "ItemOperations",
        '<ItemOperations xmlns="ItemOperations:" xmlns:as="AirSync:"><EmptyFolderContents>'
        f"<as:CollectionId>{their_ids['inbox']}</as:CollectionId></EmptyFolderContents></ItemOperations>",
    )

    # then nothing of B is sent, found or changed
    assert commands_of(synced, "Add") == []
    assert fetched == (200, "15") and message == (200, "6")
    assert moved.document.findtext(f"{V}Response/{V}Status") == "1"
    assert found.document.findtext(f"{S}Response/{S}Store/{S}Total") == "0"
    assert gal.document.findtext(f"{S}Response/{S}Store/{S}Total") == "0"  # another domain's
    assert emptied.document.findtext(f"{IO}Response/{IO}EmptyFolderContents/{IO}Status") == "3"
    with imap_session(other) as imap:
        imap.select_folder("INBOX", readonly=True)
        [uid] = imap.search(["ALL"])
        assert b"\\Deleted" not in imap.get_flags([uid])[uid]
        imap.select_folder("Trash", readonly=True)
        assert imap.search(["ALL"]) == []
    # B has one device, its own; A's requests made none under B's mailbox
    mailbox_b = Mailbox.objects.get(local_part=other.split("@")[0], domain__name=other.split("@")[1])
    assert list(Device.objects.filter(mailbox=mailbox_b).values_list("device_id", flat=True)) == [
        "SharedId0001"
    ]
    assert Device.objects.filter(device_id="SharedId0001").count() == 2
    # and B's phone still gets its message
    assert their_phone.sync(their_ids["inbox"], "0").findtext(f"{A}Status") == "1"


def test_a_second_device_of_the_mailbox_knows_only_its_own_folder_ids(running_mailplane, mailbox_factory):
    phone, ids, server_id, reference = _with_a_message(running_mailplane, mailbox_factory)
    second = _phone(phone.login, phone.password, device_id="SecondDevice")
    second.provision()
    # before its FolderSync, the first device's ids are unknown to it
    synced = second.request(
        "Sync",
        f'<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>0</SyncKey><CollectionId>{ids["inbox"]}'
        "</CollectionId></Collection></Collections></Sync>",
    )
    assert synced.document.findtext(f"{A}Collections/{A}Collection/{A}Status") == "12"
    assert _io(second, f"<airsyncbase:FileReference>{reference}</airsyncbase:FileReference>") == (200, "15")


# 4. Query parameters and headers ----------------------------------------------------------------


def test_query_parameters_and_headers_out_of_bounds(running_mailplane, mailbox_factory):
    address, password = mailbox_factory()
    other, _ = mailbox_factory()
    phone, _ids = _ready(address, password)
    folder_sync = X('<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>')
    devices = Device.objects.count()

    def status(query=None, command="FolderSync", **headers) -> int:
        return _post(phone, command, folder_sync, query=query, **headers)[0]

    # refused before any device is recorded
    assert status({"DeviceId": ""}) == 400
    assert status({"DeviceId": "x" * 65}) == 400
    assert status({"DeviceId": "Appl\x00NUL"}) == 400  # was a 500: PostgreSQL text holds no NUL
    assert status({"DeviceType": "iPhone\x00"}) == 400  # was a 500
    assert status(HTTP_USER_AGENT="Apple\x00") == 400  # was a 500
    assert status(CONTENT_LENGTH="abc") == 400  # was a 500: int("abc")
    assert status(CONTENT_LENGTH="9" * 5000) == 413  # was a 500: int() of 5,000 digits
    assert status(command="NoSuchCommand") == 400
    assert status({"Cmd": ""}) == 400
    assert status(HTTP_MS_ASPROTOCOLVERSION="2.5") == 400
    assert Device.objects.count() == devices
    # a base64 request line (MS-ASHTTP 2.2.1.1.1.1) whose policy key length says 73 bytes: 400,
    # not a 500 (tests/activesync/test_base64_query.py has the well-formed ones)
    secret = base64.b64encode(f"{address}:{password}".encode()).decode()
    encoded = Client(raise_request_exception=False).post(
        "/Microsoft-Server-ActiveSync?jQAJBAp2MTQwRGV2aWNlSWQKU21hcnRQaG9uZQ==",
        data=folder_sync,
        content_type=WBXML,
        secure=True,
        HTTP_AUTHORIZATION=f"Basic {secret}",
    )
    assert encoded.status_code == 400
    # credentials that cannot be anyone's: 401, not a 500 (ValueError from b64decode, and a NUL
    # reaching PostgreSQL) nor a 503 (the DataError taken for the database being down)
    for authorization in (
        "Basic \u00e9t\u00e9",
        "Basic " + base64.b64encode(f"{address}\x00:{password}".encode()).decode(),
        "Basic " + base64.b64encode(f"{address}:{password}\x00".encode()).decode(),
    ):
        assert status(HTTP_AUTHORIZATION=authorization) == 401, authorization
    # a DeviceType of 100,000 characters is kept clipped
    assert status({"DeviceType": "T" * 100_000}) == 200
    assert _device(phone).device_type == "T" * 64
    # User= naming another mailbox changes nothing: the Basic login's mailbox answers
    code, content = _post(phone, "FolderSync", folder_sync, query={"User": other, "DeviceId": "Elsewhere"})
    assert code == 200 and decode(content).findtext(f"{FH}Status") == "142"  # that device is not provisioned
    local, _, domain = other.partition("@")
    assert not Device.objects.filter(mailbox__local_part=local, mailbox__domain__name=domain).exists()
    assert Device.objects.filter(device_id="Elsewhere").count() == 1


# 5. Hostile mail ---------------------------------------------------------------------------------


def _nested(depth: int) -> bytes:
    head, tail = b"", b""
    for i in range(depth):
        head += f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n'.encode()
        tail = f"\r\n--b{i}--\r\n".encode() + tail
    return (
        b"From: a@example.net\r\nSubject: bomb\r\nMIME-Version: 1.0\r\n"
        + head
        + b"Content-Type: text/plain\r\n\r\ninner\r\n"
        + tail
    )


HOSTILE = {
    "bomb": _nested(2000),  # deeper than the parser goes
    "bomb 300": _nested(300),  # parsed, deeper than the generator goes
    "nul": b"From: a\x00b@example.net\r\nSubject: nul\x00here \xff\xfe garbage\r\n"
    b"To: \x80\x81@x\r\n\r\nbody \x00 \xff\r\n",
    "charset": b"From: a@example.net\r\nSubject: =?x-unknown-zz?B?AAAA?= charset\r\n"
    b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\n\xe9\xe8 text\r\n",
    "base64": b"From: a@example.net\r\nSubject: base64\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\nContent-Type: text/plain\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64@@@=\r\n--z\r\n"
    b"Content-Type: application/pdf; name=x.pdf\r\nContent-Disposition: attachment; filename=x.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nQUJD*&^%\r\n--z--\r\n",
    "rfc822": b"From: a@example.net\r\nSubject: forwarded\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\nContent-Type: text/plain\r\n\r\nsee\r\n"
    b"--z\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@y.example\r\n"
    b"Subject: inner\r\nContent-Type: message/rfc822\r\n\r\nFrom: q@y.example\r\n\r\ndeeper\r\n--z--\r\n",
    "html": b"From: a@example.net\r\nSubject: html\r\nContent-Type: text/html\r\n\r\n"
    b'<p onclick="evil()">hi</p><script>alert(1)</script><img src="http://tracker.example/x.gif">'
    b'<a href="javascript:alert(2)">x</a><iframe src="http://tracker.example/"></iframe>\r\n',
    "empty": b"\r\n",
    "no headers": b"\r\njust a body\r\n",
    "10 MB line": b"From: a@example.net\r\nSubject: long line\r\n\r\n" + b"x" * (10 * 1024 * 1024) + b"\r\n",
    "plain": b"From: a@example.net\r\nSubject: plain\r\n\r\nplain text\r\n",
}


def test_hostile_mail_syncs_and_fetches_and_the_rest_of_the_folder_arrives(
    running_mailplane, mailbox_factory
):
    # given an INBOX holding hostile messages among ordinary ones
    address, password = mailbox_factory()
    with imap_session(address) as imap:
        imap.append("INBOX", b"From: a@example.net\r\nSubject: before\r\n\r\nfirst\r\n")
        for raw in HOSTILE.values():
            imap.append("INBOX", raw)
    phone, ids = _ready(address, password)
    inbox, total = ids["inbox"], len(HOSTILE) + 1
    subjects = {"before", "bomb", "base64", "forwarded", "html", "long line", "plain"}
    # when the phone syncs it as text, as HTML and as MIME, each time from key 0
    for body_type in (1, 2):
        key = phone.sync(inbox, "0").findtext(f"{A}SyncKey")
        page = phone.sync(inbox, key, body_type=body_type, truncation=4096)
        adds = commands_of(page, "Add")
        # then every message arrives, with its body cut to the size asked
        assert len(adds) == total and page.find(f"{A}MoreAvailable") is None
        got = {a.findtext(f"{A}ApplicationData/{M}Subject") for a in adds}
        assert subjects <= got
        for add in adds:
            body = add.find(f"{A}ApplicationData/{B}Body")
            assert int(body.findtext(f"{B}EstimatedDataSize")) >= len(
                (body.findtext(f"{B}Data") or "").encode()
            )
        if body_type == 2:
            [html] = [a for a in adds if a.findtext(f"{A}ApplicationData/{M}Subject") == "html"]
            data = html.findtext(f"{A}ApplicationData/{B}Body/{B}Data")
            assert "hi" in data
            for hostile in ("<script", "alert(", "onclick", "javascript:", "tracker.example", "<iframe"):
                assert hostile not in data.lower(), hostile
    key = phone.sync(inbox, "0").findtext(f"{A}SyncKey")
    status, content = _post(
        phone,
        "Sync",
        X(
            f'<Sync xmlns="AirSync:" xmlns:airsyncbase="AirSyncBase:"><Collections><Collection><SyncKey>{key}'
            f"</SyncKey><CollectionId>{inbox}</CollectionId><Options><MIMESupport>2</MIMESupport>"
            "<airsyncbase:BodyPreference><airsyncbase:Type>4</airsyncbase:Type><airsyncbase:TruncationSize>"
            "65536</airsyncbase:TruncationSize></airsyncbase:BodyPreference></Options></Collection>"
            "</Collections></Sync>"
        ),
    )
    assert status == 200
    adds = decode(content).findall(f"{A}Collections/{A}Collection/{A}Commands/{A}Add")
    assert len(adds) == total
    # and every message and every attachment listed can be fetched
    for add in adds:
        item = add.findtext(f"{A}ServerId")
        fetch = (
            f"<as:CollectionId>{inbox}</as:CollectionId><as:ServerId>{item}</as:ServerId><Options>"
            "<airsyncbase:BodyPreference><airsyncbase:Type>2</airsyncbase:Type><airsyncbase:TruncationSize>"
            "4096</airsyncbase:TruncationSize></airsyncbase:BodyPreference></Options>"
        )
        assert _io(phone, fetch) == (200, "1"), item
        for attachment in add.iter(f"{B}Attachment"):
            reference = attachment.findtext(f"{B}FileReference")
            assert _io(phone, f"<airsyncbase:FileReference>{reference}</airsyncbase:FileReference>") == (
                200,
                "1",
            ), reference
    # and nothing was lost
    with imap_session(address) as imap:
        imap.select_folder("INBOX", readonly=True)
        assert len(imap.search(["ALL"])) == total


def test_replying_to_forwarding_and_sending_hostile_mail(submission, mailbox_factory):
    """SmartReply and SmartForward of each hostile message, a reply in a charset Python does not
    know, SendMail of MIME bombs: each is sent (it was a 500: RecursionError, LookupError)."""
    address, password = mailbox_factory()
    correspondent, _ = mailbox_factory()
    with imap_session(address) as imap:
        for raw in HOSTILE.values():
            imap.append("INBOX", raw)
    phone, ids = _ready(address, password)
    inbox = ids["inbox"]
    key = phone.sync(inbox, "0").findtext(f"{A}SyncKey")
    adds = commands_of(phone.sync(inbox, key, truncation=64), "Add")
    assert len(adds) == len(HOSTILE)
    reply = f"From: {address}\r\nTo: {correspondent}\r\nSubject: re\r\n\r\nnoted\r\n"
    odd_charset = reply.replace("\r\n\r\n", "\r\nContent-Type: text/plain; charset=x-no-such\r\n\r\n", 1)
    sent = 0
    for add in adds:
        item = add.findtext(f"{A}ServerId")
        if add.findtext(f"{A}ApplicationData/{M}Subject") == "long line":
            continue  # the submission server's size limit is not what this is about
        for n, (command, mime) in enumerate(
            (("SmartReply", reply), ("SmartForward", reply), ("SmartReply", odd_charset))
        ):
            response = phone.request(
                command,
                f'<{command} xmlns="ComposeMail:"><ClientId>{item}-{n}</ClientId><Source>'
                f"<FolderId>{inbox}</FolderId><ItemId>{item}</ItemId></Source><MIME><![CDATA[{mime}]]></MIME>"
                f"</{command}>",
            )
            assert response.status == 200, (command, item)
            if response.document is None:
                sent += 1
                continue
            # The reply quoting the 2,000-level bomb's text is over the test submission server's
            # 200,000 bytes (tests/mta/smtpd_plugin.py): refused by it (Status 120), as it should be.
            status = response.document.findtext(f"{C}Status")
            assert (command, item, status) == ("SmartReply", f"{inbox}:1", "120")
    envelope = f"From: {address}\r\nTo: {correspondent}\r\n".encode()
    for name in ("bomb", "bomb 300"):
        mime = HOSTILE[name].replace(b"From: a@example.net\r\n", envelope).decode()
        response = phone.request(
            "SendMail",
            f'<SendMail xmlns="ComposeMail:"><ClientId>{name}</ClientId>'
            f"<MIME><![CDATA[{mime}]]></MIME></SendMail>",
        )
        assert (response.status, response.document) == (200, None), (name, response)
        sent += 1
    with imap_session(correspondent) as imap:
        imap.select_folder("INBOX", readonly=True)
        assert len(imap.search(["ALL"])) == sent


def test_a_draft_that_is_a_mime_bomb_is_not_converted(running_mailplane, mailbox_factory):
    # given a MIME bomb in Drafts, synced by a 16.1 phone
    address, password = mailbox_factory()
    with imap_session(address) as imap:
        imap.append("Drafts", HOSTILE["bomb"], flags=[b"\\Draft"])
        imap.append("Drafts", HOSTILE["bomb 300"], flags=[b"\\Draft"])
    phone, ids = _ready(address, password, version="16.1")
    answer = phone.folder_sync("0")
    drafts = next(a.findtext(f"{F}ServerId") for a in answer.iter(f"{F}Add") if a.findtext(f"{F}Type") == "3")
    key = phone.sync(drafts, "0").findtext(f"{A}SyncKey")
    page = phone.sync(drafts, key)
    key, items = page.findtext(f"{A}SyncKey"), [a.findtext(f"{A}ServerId") for a in commands_of(page, "Add")]
    assert len(items) == 2
    # when the phone changes their subject
    changes = "".join(
        f"<Change><ServerId>{item}</ServerId><ApplicationData><email:Subject>new</email:Subject>"
        "</ApplicationData></Change>"
        for item in items
    )
    response = phone.request(
        "Sync",
        f'<Sync xmlns="AirSync:" xmlns:email="Email:"><Collections><Collection><SyncKey>{key}</SyncKey>'
        f"<CollectionId>{drafts}</CollectionId><Commands>{changes}</Commands></Collection></Collections></Sync>",
    )
    # then each is answered (a 500 before: RecursionError), and Drafts holds them as they were
    assert response.status == 200, response
    statuses = {
        c.findtext(f"{A}ServerId"): c.findtext(f"{A}Status")
        for c in response.document.iter(f"{A}Change")
        if c.find(f"{A}Status") is not None
    }
    # the one deeper than the parser goes is not convertible (Status 6) and stays as it was; the
    # other is changed (replaced: a new ServerId, the old one deleted)
    assert statuses == {f"{drafts}:1": "6"}
    assert [d.findtext(f"{A}ServerId") for d in response.document.iter(f"{A}Delete")] == [f"{drafts}:2"]
    with imap_session(address) as imap:
        imap.select_folder("Drafts", readonly=True)
        subjects = [
            data[b"BODY[HEADER.FIELDS (SUBJECT)]"].strip()
            for data in imap.fetch(imap.search(["ALL"]), [b"BODY.PEEK[HEADER.FIELDS (SUBJECT)]"]).values()
        ]
    assert sorted(subjects) == [b"Subject: bomb", b"Subject: new"]


def test_search_text_with_imap_specials(running_mailplane, mailbox_factory):
    phone, ids, _server_id, _reference = _with_a_message(running_mailplane, mailbox_factory)
    for text in ("(", ")", "50%", "a]b", "subject:{5}", "{5}", "*"):
        found = phone.request(
            "Search",
            '<Search xmlns="Search:"><Store><Name>Mailbox</Name><Query><And>'
            f"<FreeText><![CDATA[{text}]]></FreeText></And></Query></Store></Search>",
        )
        assert found.status == 200, text
        assert found.document.findtext(f"{S}Response/{S}Store/{S}Total") == "0"


def test_a_send_of_more_than_django_s_upload_limit_reaches_the_command(submission, mailbox_factory):
    """MAX_BODY_BYTES (50 MB) is the endpoint's limit; Django's DATA_UPLOAD_MAX_MEMORY_SIZE
    (2.5 MB) refused a SendMail with a 3 MB attachment first (HTTP 400)."""
    address, password = mailbox_factory()
    correspondent, _ = mailbox_factory()
    phone, _ids = _ready(address, password)
    attachment = base64.encodebytes(b"\x00\xff" * 1_500_000).decode()
    mime = (
        f"From: {address}\r\nTo: {correspondent}\r\nSubject: big\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\nContent-Type: text/plain\r\n\r\nsee\r\n"
        "--z\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
        f"Content-Disposition: attachment; filename=big.bin\r\n\r\n{attachment}--z--\r\n"
    )
    response = phone.request(
        "SendMail",
        f'<SendMail xmlns="ComposeMail:"><ClientId>big</ClientId><MIME><![CDATA[{mime}]]></MIME></SendMail>',
    )
    # the command ran: the test submission server takes 200,000 bytes at most (Status 120)
    assert response.status == 200, response
    assert response.document.findtext(f"{C}Status") == "120"


def test_requests_of_absurd_size_are_refused_before_their_work(running_mailplane, mailbox_factory):
    """A Sync or GetItemEstimate of more than 300 folders, a ResolveRecipients of more than 100
    names (MS-ASCMD's limit), a Ping naming a folder id no folder has: refused at once, and
    nothing of them is kept for the device's next empty request."""
    address, password = mailbox_factory()
    phone, ids = _ready(address, password)
    inbox = ids["inbox"]
    collections = "".join(
        f"<Collection><SyncKey>0</SyncKey><CollectionId>{inbox}</CollectionId></Collection>"
        for _ in range(301)
    )
    answer = phone.command("Sync", f'<Sync xmlns="AirSync:"><Collections>{collections}</Collections></Sync>')
    assert answer.findtext(f"{A}Status") == "4"
    assert phone.request("Sync", None).document.findtext(f"{A}Status") == "13"  # nothing remembered
    estimate = phone.request(
        "GetItemEstimate",
        '<GetItemEstimate xmlns="GetItemEstimate:" xmlns:as="AirSync:"><Collections>'
        + "".join(
            f"<Collection><as:SyncKey>1</as:SyncKey><CollectionId>{inbox}</CollectionId></Collection>"
            for _ in range(301)
        )
        + "</Collections></GetItemEstimate>",
    )
    assert estimate.status == 400
    names = "".join(f"<To>name{i}</To>" for i in range(101))
    resolved = phone.command(
        "ResolveRecipients", f'<ResolveRecipients xmlns="ResolveRecipients:">{names}</ResolveRecipients>'
    )
    assert resolved.findtext("{ResolveRecipients}Status") == "5"
    ping = phone.command(
        "Ping",
        '<Ping xmlns="Ping:"><HeartbeatInterval>60</HeartbeatInterval><Folders><Folder>'
        f"<Id>{'9' * 5000}</Id><Class>Email</Class></Folder></Folders></Ping>",
    )
    assert ping.findtext("{Ping}Status") == "7"
    assert not Device.objects.get(device_id=phone.device_id).ping_folders
    # the same requests of a sane size still work
    one = phone.command(
        "Sync",
        f'<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>0</SyncKey><CollectionId>{inbox}'
        "</CollectionId></Collection></Collections></Sync>",
    )
    assert one.findtext(f"{A}Collections/{A}Collection/{A}Status") == "1"
    few = phone.command(
        "ResolveRecipients",
        f'<ResolveRecipients xmlns="ResolveRecipients:"><To>{address}</To></ResolveRecipients>',
    )
    assert few.findtext("{ResolveRecipients}Status") == "1"
