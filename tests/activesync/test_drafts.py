"""Protocol 16.1 drafts end to end (activesync.drafts): the real endpoint, requests built and
answers read by libwbxml2-utils, the real Dovecot, the test smtpd's submission and delivery.
A 14.1 device is answered as before."""

from __future__ import annotations

import base64
import email
from email import policy
from xml.etree import ElementTree as ET

import pytest

from mailstore.imap import imap_session
from tests.activesync.phone import A, B, F, M, Phone, commands_of
from tests.protocol.helpers import lmtp_deliver, message

pytestmark = pytest.mark.protocol

M2 = "{Email2}"
ATTACHED = b"attached bytes \x00\xff\r\n end"


def _folder_ids(phone: Phone) -> dict[str, str]:
    """Folder Type → ServerId (2 Inbox, 3 Drafts)."""
    answer = phone.folder_sync()
    return {add.findtext(f"{F}Type"): add.findtext(f"{F}ServerId") for add in answer.iter(f"{F}Add")}


def _messages(address: str, folder: str) -> list[tuple[set, email.message.EmailMessage]]:
    with imap_session(address) as imap:
        imap.select_folder(folder, readonly=True)
        uids = imap.search(["ALL"])
        fetched = imap.fetch(uids, [b"FLAGS", b"BODY.PEEK[]"]) if uids else {}
    return [
        (set(data[b"FLAGS"]), email.message_from_bytes(data[b"BODY[]"], policy=policy.default))
        for _uid, data in sorted(fetched.items())
    ]


def _body_text(parsed: email.message.EmailMessage) -> str:
    return parsed.get_body(preferencelist=("plain",)).get_content()


def _attachments(parsed: email.message.EmailMessage) -> dict[str, bytes]:
    return {part.get_filename(): part.get_payload(decode=True) for part in parsed.iter_attachments()}


def _body(kind: int, data: str) -> str:
    return (
        f"<airsyncbase:Body><airsyncbase:Type>{kind}</airsyncbase:Type>"
        f"<airsyncbase:Data>{data}</airsyncbase:Data></airsyncbase:Body>"
    )


def _fetch(*, file_reference: str = "", collection: str = "", server_id: str = "") -> str:
    what = (
        f"<airsyncbase:FileReference>{file_reference}</airsyncbase:FileReference>"
        if file_reference
        else f"<as:CollectionId>{collection}</as:CollectionId><as:ServerId>{server_id}</as:ServerId>"
    )
    return (
        '<ItemOperations xmlns="ItemOperations:" xmlns:airsyncbase="AirSyncBase:" xmlns:as="AirSync:">'
        f"<Fetch><Store>Mailbox</Store>{what}</Fetch></ItemOperations>"
    )


def _start(phone: Phone, collection: str) -> str:
    key = phone.sync(collection, "0").findtext(f"{A}SyncKey")
    return phone.sync(collection, key).findtext(f"{A}SyncKey")


def test_a_16_1_device_writes_edits_and_sends_a_draft(submission, mailbox_factory):
    sender, password = mailbox_factory()
    to, _ = mailbox_factory()
    bcc, _ = mailbox_factory()
    phone = Phone(sender, password, version="16.1")
    phone.provision()
    drafts = _folder_ids(phone)["3"]
    key = _start(phone, drafts)

    # given a draft the device adds, with an attachment
    content = base64.b64encode(ATTACHED).decode()
    added = phone.sync(
        drafts,
        key,
        commands=(
            "<Add><ClientId>d-1</ClientId><ApplicationData>"
            f"<email:To>&quot;To Person&quot; &lt;{to}&gt;</email:To><email:Subject>draft one</email:Subject>"
            f"{_body(1, 'first text')}"
            "<airsyncbase:Attachments><airsyncbase:Add><airsyncbase:ClientId>a-1</airsyncbase:ClientId>"
            "<airsyncbase:DisplayName>note.bin</airsyncbase:DisplayName><airsyncbase:Method>1</airsyncbase:Method>"
            f"<airsyncbase:Content>{content}</airsyncbase:Content></airsyncbase:Add></airsyncbase:Attachments>"
            "</ApplicationData></Add>"
        ),
    )
    # then it is answered with its ServerId and the attachment's FileReference
    [response] = added.findall(f"{A}Responses/{A}Add")
    assert (response.findtext(f"{A}ClientId"), response.findtext(f"{A}Status")) == ("d-1", "1")
    first_id = response.findtext(f"{A}ServerId")
    assert first_id.startswith(f"{drafts}:")
    [reference] = response.findall(f"{A}ApplicationData/{B}Attachments/{B}Attachment")
    assert reference.findtext(f"{B}ClientId") == "a-1"
    assert reference.findtext(f"{B}FileReference").startswith(f"{first_id}:")
    assert added.find(f"{A}Commands") is None  # the device is not sent back what it wrote
    # and over IMAP it is in Drafts with \Draft, the attachment byte-identical
    [(flags, stored)] = _messages(sender, "Drafts")
    assert b"\\Draft" in flags
    assert (stored["Subject"], stored["From"]) == ("draft one", sender)
    assert stored["To"].addresses[0].addr_spec == to
    assert _body_text(stored).strip() == "first text"
    assert _attachments(stored) == {"note.bin": ATTACHED}
    # and the FileReference fetches that attachment
    fetched = phone.command("ItemOperations", _fetch(file_reference=reference.findtext(f"{B}FileReference")))
    data = fetched.findtext(
        "{ItemOperations}Response/{ItemOperations}Fetch/{ItemOperations}Properties/{ItemOperations}Data"
    )
    assert base64.b64decode(data) == ATTACHED
    key = added.findtext(f"{A}SyncKey")

    # when the device edits it: subject, body, a Bcc, the attachment removed
    changed = phone.sync(
        drafts,
        key,
        commands=(
            f"<Change><ServerId>{first_id}</ServerId><ApplicationData>"
            f"<email:Subject>draft two</email:Subject><email2:Bcc>{bcc}</email2:Bcc>"
            "<email:Flag><email:FlagStatus>2</email:FlagStatus></email:Flag>"
            f"{_body(1, 'second text')}<airsyncbase:Attachments>"
            f"<airsyncbase:Delete><airsyncbase:FileReference>{reference.findtext(f'{B}FileReference')}"
            "</airsyncbase:FileReference></airsyncbase:Delete></airsyncbase:Attachments></ApplicationData></Change>"
        ),
    )
    # then IMAP holds the new version only, flagged as the device asked
    [(flags, stored)] = _messages(sender, "Drafts")
    assert {b"\\Draft", b"\\Seen", b"\\Flagged"} <= flags
    assert (stored["Subject"], stored["Bcc"], stored["To"].addresses[0].addr_spec) == ("draft two", bcc, to)
    assert _body_text(stored).strip() == "second text"
    assert _attachments(stored) == {}
    assert _messages(sender, "Trash") == []  # an old version is not a deleted message
    # and the device replaces its copy: the old ServerId deleted, the new version added, a draft
    assert changed.find(f"{A}Responses") is None, ET.tostring(changed)
    assert [d.findtext(f"{A}ServerId") for d in commands_of(changed, "Delete")] == [first_id]
    [new] = commands_of(changed, "Add")
    second_id = new.findtext(f"{A}ServerId")
    data = new.find(f"{A}ApplicationData")
    assert data.findtext(f"{M}Subject") == "draft two"
    assert (data.findtext(f"{M2}IsDraft"), data.findtext(f"{M2}Bcc")) == ("1", bcc)
    assert data.find(f"{B}Attachments") is None
    assert data.findtext(f"{M}Flag/{M}FlagStatus") == "2"
    key = changed.findtext(f"{A}SyncKey")

    # when the device sends it
    send = f"<Change><ServerId>{second_id}</ServerId><email2:Send/></Change>"
    sent = phone.sync(drafts, key, commands=send)
    # then it is delivered to To and Bcc through the MX, without the Bcc header
    [(_, received)] = _messages(to, "INBOX")
    [(_, hidden)] = _messages(bcc, "INBOX")
    for copy in (received, hidden):
        assert copy["Subject"] == "draft two" and copy["Bcc"] is None and copy["From"] == sender
        assert _body_text(copy).strip() == "second text"
    # a copy in Sent keeps the Bcc, not flagged as a draft; Drafts is empty and the device told so
    [(flags, kept)] = _messages(sender, "Sent")
    assert kept["Bcc"] == bcc and b"\\Draft" not in flags and b"\\Seen" in flags
    assert _messages(sender, "Drafts") == []
    assert sent.find(f"{A}Responses") is None, ET.tostring(sent)
    assert [d.findtext(f"{A}ServerId") for d in commands_of(sent, "Delete")] == [second_id]


def test_add_and_send_at_once_is_sent_once_and_a_refused_send_keeps_the_draft(submission, mailbox_factory):
    sender, password = mailbox_factory()
    to, _ = mailbox_factory()
    phone = Phone(sender, password, version="16.1")
    phone.provision()
    drafts = _folder_ids(phone)["3"]
    key = _start(phone, drafts)
    add = (
        "<Add><ClientId>d-9</ClientId><ApplicationData>"
        f"<email:To>{to}</email:To><email:Subject>at once</email:Subject>"
        f"{_body(2, '&lt;p&gt;in &lt;b&gt;HTML&lt;/b&gt;&lt;/p&gt;')}</ApplicationData><email2:Send/></Add>"
    )
    # given a draft added and sent in one command
    answer = phone.sync(drafts, key, commands=add)
    [response] = answer.findall(f"{A}Responses/{A}Add")
    assert response.findtext(f"{A}Status") == "1"
    server_id = response.findtext(f"{A}ServerId")
    # then it was sent (HTML with its text alternative), and the draft is already gone
    [(_, received)] = _messages(to, "INBOX")
    assert received["Subject"] == "at once"
    assert "<b>HTML</b>" in received.get_body(preferencelist=("html",)).get_content()
    assert _body_text(received).strip() == "in HTML"
    assert _messages(sender, "Drafts") == []
    assert [d.findtext(f"{A}ServerId") for d in commands_of(answer, "Delete")] == [server_id]
    # when the same Add+Send is applied again (a Sync retried after its answer was lost and its
    # state rolled back applies its commands again): recognised in Sent, not sent twice
    again = phone.sync(drafts, answer.findtext(f"{A}SyncKey"), commands=add)
    assert again.find(f"{A}Responses/{A}Add").findtext(f"{A}Status") == "1"
    assert len(_messages(to, "INBOX")) == 1 and len(_messages(sender, "Sent")) == 1
    assert _messages(sender, "Drafts") == []
    # but the same ClientId used again for another message is another message: sent
    again = phone.sync(drafts, again.findtext(f"{A}SyncKey"), commands=add.replace("at once", "later"))
    assert again.find(f"{A}Responses/{A}Add").findtext(f"{A}Status") == "1"
    assert sorted(m["Subject"] for _, m in _messages(to, "INBOX")) == ["at once", "later"]

    # given a draft without recipients, sent: refused (Status 6), kept in Drafts, given back
    refused = phone.sync(
        drafts,
        again.findtext(f"{A}SyncKey"),
        commands=(
            "<Add><ClientId>d-10</ClientId><ApplicationData><email:Subject>nobody</email:Subject>"
            "</ApplicationData><email2:Send/></Add>"
        ),
    )
    response = refused.find(f"{A}Responses/{A}Add")
    assert (response.findtext(f"{A}Status"), response.find(f"{A}ServerId")) == ("6", None)
    [(flags, kept)] = _messages(sender, "Drafts")
    assert kept["Subject"] == "nobody" and b"\\Draft" in flags
    [back] = commands_of(refused, "Add")
    assert back.findtext(f"{A}ApplicationData/{M}Subject") == "nobody"
    # a body of a type that cannot be a draft (RTF) is refused the same way, nothing stored
    rtf = phone.sync(
        drafts,
        refused.findtext(f"{A}SyncKey"),
        commands=(
            "<Add><ClientId>d-11</ClientId><ApplicationData>"
            f"{_body(3, 'e1xydGYxfQ==')}</ApplicationData></Add>"
        ),
    )
    assert rtf.find(f"{A}Responses/{A}Add").findtext(f"{A}Status") == "6"
    assert len(_messages(sender, "Drafts")) == 1


def test_a_14_1_device_is_answered_as_before_and_16_1_items_say_is_draft(running_mailplane, mailbox_factory):
    address, password = mailbox_factory()
    lmtp_deliver(running_mailplane, address, message("sender@example.net", address, subject="inbox one"))
    with imap_session(address) as imap:
        imap.append(
            "Drafts",
            f"From: {address}\r\nTo: x@example.net\r\nBcc: hidden@example.net\r\n"
            "Subject: from the webmail\r\n\r\nhalf written\r\n".encode(),
            flags=(b"\\Draft", b"\\Seen"),
        )
    old = Phone(address, password, version="14.1", device_id="Old0001")
    new = Phone(address, password, version="16.1", device_id="New0001")
    for phone in (old, new):
        response = phone.request("FolderSync", None)
        assert response.headers["MS-Server-ActiveSync"] == "16.1"  # the server's version, for both
        phone.provision()

    # a 14.1 device: an Add in Drafts is Status 6 as before, nothing stored; no Email2 draft tags
    ids = _folder_ids(old)
    listed = old.sync(ids["3"], old.sync(ids["3"], "0").findtext(f"{A}SyncKey"))
    [item] = commands_of(listed, "Add")
    assert item.find(f"{A}ApplicationData/{M2}IsDraft") is None
    assert item.find(f"{A}ApplicationData/{M2}Bcc") is None
    fetched = old.command(
        "ItemOperations", _fetch(collection=ids["3"], server_id=item.findtext(f"{A}ServerId"))
    )
    assert fetched.find(f".//{{ItemOperations}}Properties/{M}Subject") is not None
    assert fetched.find(f".//{{ItemOperations}}Properties/{M2}IsDraft") is None
    key = listed.findtext(f"{A}SyncKey")
    refused = old.sync(
        ids["3"],
        key,
        commands="<Add><ClientId>c-1</ClientId><ApplicationData><email:Subject>no</email:Subject></ApplicationData></Add>",
    )
    response = refused.find(f"{A}Responses/{A}Add")
    assert (response.findtext(f"{A}ClientId"), response.findtext(f"{A}Status")) == ("c-1", "6")
    assert len(_messages(address, "Drafts")) == 1
    # nor does a Change with a subject rewrite a draft for it: only read and flag apply
    server_id = item.findtext(f"{A}ServerId")
    old.sync(
        ids["3"],
        refused.findtext(f"{A}SyncKey"),
        commands=f"<Change><ServerId>{server_id}</ServerId><ApplicationData><email:Subject>x</email:Subject>"
        "</ApplicationData></Change>",
    )
    [(_, stored)] = _messages(address, "Drafts")
    assert stored["Subject"] == "from the webmail"

    # a 16.1 device: the draft says IsDraft 1 with its Bcc, the Inbox message IsDraft 0
    ids = _folder_ids(new)
    key = new.sync(ids["3"], "0").findtext(f"{A}SyncKey")
    [draft] = commands_of(new.sync(ids["3"], key), "Add")
    data = draft.find(f"{A}ApplicationData")
    assert (data.findtext(f"{M2}IsDraft"), data.findtext(f"{M2}Bcc")) == ("1", "hidden@example.net")
    fetched = new.command(
        "ItemOperations", _fetch(collection=ids["3"], server_id=draft.findtext(f"{A}ServerId"))
    )
    assert fetched.findtext(f".//{{ItemOperations}}Properties/{M2}IsDraft") == "1"
    key = new.sync(ids["2"], "0").findtext(f"{A}SyncKey")
    inbox = new.sync(ids["2"], key)
    [mail] = commands_of(inbox, "Add")
    assert mail.findtext(f"{A}ApplicationData/{M2}IsDraft") == "0"
    assert mail.find(f"{A}ApplicationData/{M2}Bcc") is None
    # an Add outside Drafts is refused for 16.1 too
    outside = new.sync(
        ids["2"],
        inbox.findtext(f"{A}SyncKey"),
        commands="<Add><ClientId>c-2</ClientId><ApplicationData><email:Subject>no</email:Subject></ApplicationData></Add>",
    )
    assert outside.find(f"{A}Responses/{A}Add").findtext(f"{A}Status") == "6"
    assert len(_messages(address, "INBOX")) == 1


def test_options_and_a_version_the_server_does_not_speak(client, running_mailplane, mailbox_factory):
    response = client.options("/Microsoft-Server-ActiveSync")
    assert response["MS-ASProtocolVersions"] == "14.1,16.1"
    assert response["MS-Server-ActiveSync"] == "16.1"
    assert "Find" not in response["MS-ASProtocolCommands"].split(",")  # 16.1's Find is not offered
    address, password = mailbox_factory()
    for version in ("12.1", "16.0"):
        assert Phone(address, password, version=version).request("FolderSync", None).status == 400
