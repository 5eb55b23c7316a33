"""The WBXML codec (activesync.wbxml) against itself and against libwbxml2-utils."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest

from activesync.codepages import CODE_PAGES
from activesync.wbxml import HEADER, WBXMLError, decode, encode
from tests.activesync import libwbxml


def E(tag: str, text=None, *children: ET.Element) -> ET.Element:
    element = ET.Element(tag)
    element.text = text
    element.extend(children)
    return element


def as_tuple(element: ET.Element):
    return (element.tag, element.text or None, [as_tuple(child) for child in element])


SYNC_REQUEST = """<Sync xmlns="AirSync:" xmlns:email="Email:" xmlns:airsyncbase="AirSyncBase:"><Collections>
<Collection><SyncKey>0</SyncKey><CollectionId>1</CollectionId><WindowSize>50</WindowSize>
<Options><FilterType>0</FilterType><airsyncbase:BodyPreference><airsyncbase:Type>2</airsyncbase:Type>
<airsyncbase:TruncationSize>5000</airsyncbase:TruncationSize></airsyncbase:BodyPreference></Options>
<Commands><Change><ServerId>1:5</ServerId><ApplicationData><email:Read>1</email:Read>
<email:Flag/></ApplicationData></Change><Delete><ServerId>1:6</ServerId></Delete></Commands>
<GetChanges/></Collection></Collections></Sync>"""


def test_a_request_built_by_libwbxml_decodes_to_its_tree():
    # given a device's Sync request, as libwbxml's encoder writes it
    data = libwbxml.xml2wbxml(SYNC_REQUEST)
    assert data.startswith(HEADER)
    # when our decoder reads it
    root = decode(data)
    # then every tag, namespace and text is there, in order
    collection = root.find("{AirSync}Collections/{AirSync}Collection")
    assert root.tag == "{AirSync}Sync"
    assert collection.findtext("{AirSync}SyncKey") == "0"
    assert collection.findtext("{AirSync}WindowSize") == "50"
    preference = collection.find("{AirSync}Options/{AirSyncBase}BodyPreference")
    assert [(c.tag, c.text) for c in preference] == [
        ("{AirSyncBase}Type", "2"),
        ("{AirSyncBase}TruncationSize", "5000"),
    ]
    change = collection.find("{AirSync}Commands/{AirSync}Change")
    assert [c.tag for c in change.find("{AirSync}ApplicationData")] == ["{Email}Read", "{Email}Flag"]
    assert collection.find("{AirSync}Commands/{AirSync}Delete").findtext("{AirSync}ServerId") == "1:6"
    assert [c.tag for c in collection][-1] == "{AirSync}GetChanges"
    # and our encoder writes the same bytes back
    assert encode(root) == data


def test_opaque_data_from_libwbxml_is_bytes():
    mime = "From: a@example.test\r\nSubject: caf\u00e9 & <x>\r\n\r\nbody\r\n"
    data = libwbxml.xml2wbxml(
        f'<SendMail xmlns="ComposeMail:"><ClientId>c1</ClientId><SaveInSentItems/>'
        f"<{libwbxml.their_tag('ComposeMail', 'Mime')}><![CDATA[{mime}]]></MIME></SendMail>"
    )
    root = decode(data)
    assert root.findtext("{ComposeMail}ClientId") == "c1"
    assert root.find("{ComposeMail}SaveInSentItems") is not None
    # (XML reads the CDATA's line ends as LF before libwbxml sees them)
    assert root.find("{ComposeMail}Mime").text == mime.replace("\r\n", "\n").encode()


def test_our_response_is_read_by_libwbxml():
    # given a response with text, nesting, page switches, an empty tag and opaque bytes
    # (libwbxml writes the OPAQUE of ConversationId and ComposeMail's Mime in base64, others as text)
    root = E(
        "{AirSync}Sync",
        None,
        E(
            "{AirSync}Collections",
            None,
            E(
                "{AirSync}Collection",
                None,
                E("{AirSync}SyncKey", "{aa-1}"),
                E("{AirSync}Status", "1"),
                E("{AirSync}MoreAvailable"),
                E(
                    "{AirSync}Commands",
                    None,
                    E(
                        "{AirSync}Add",
                        None,
                        E("{AirSync}ServerId", "1:42"),
                        E(
                            "{AirSync}ApplicationData",
                            None,
                            E("{Email}Subject", "Caff\u00e8 \u2615 & <tags>"),
                            E(
                                "{AirSyncBase}Body",
                                None,
                                E("{AirSyncBase}Type", "4"),
                                E("{AirSyncBase}Data", "line 1\r\n\u20ac <b>"),
                            ),
                            E("{Email2}ConversationId", b"\x00\xff\x01\x02"),
                            E("{Email}Read", "0"),
                        ),
                    ),
                ),
            ),
        ),
    )
    # when libwbxml decodes what we encoded
    theirs = libwbxml.read(encode(root), opaque=("{Email2}ConversationId",))
    # then it reads the same document (XML reads CR LF as LF)
    root.find(".//{AirSyncBase}Data").text = "line 1\n\u20ac <b>"
    assert as_tuple(theirs) == as_tuple(root)


def test_opaque_mime_we_send_is_read_by_libwbxml():
    mime = b"From: a@example.test\r\nSubject: \xe2\x82\xac\r\n\r\n\x00\xff binary\r\n"
    root = E("{ComposeMail}SendMail", None, E("{ComposeMail}ClientId", "1"), E("{ComposeMail}Mime", mime))
    theirs = libwbxml.read(encode(root), opaque=("{ComposeMail}Mime",))
    assert theirs.find("{ComposeMail}Mime").text == mime


@pytest.mark.parametrize("page", sorted(CODE_PAGES))
def test_every_tag_has_the_token_libwbxml_gives_it(page):
    # given every tag of the page, as children of the page's first tag
    namespace, tags = CODE_PAGES[page]
    ordered = [
        tags[token] for token in sorted(tags) if (namespace, tags[token]) not in libwbxml.LIBWBXML_LACKS
    ]
    xml_ns = libwbxml.their_namespace(namespace)
    children = "".join(f"<{libwbxml.their_tag(namespace, name)}/>" for name in ordered[1:])
    first = libwbxml.their_tag(namespace, ordered[0])
    theirs = libwbxml.xml2wbxml(f'<{first} xmlns="{xml_ns}">{children}</{first}>')
    # when we encode the same document
    ours = encode(E(f"{{{namespace}}}{ordered[0]}", None, *(E(f"{{{namespace}}}{n}") for n in ordered[1:])))
    # then the bytes are the same, and each decoder reads the other's
    assert ours == theirs
    assert [c.tag for c in decode(theirs)] == [f"{{{namespace}}}{n}" for n in ordered[1:]]


def test_protocol_16_tokens_libwbxml_lacks_match_the_spec_bytes():
    # MS-ASWBXML 2.1.2.1.22 (ComposeMail, page 0x15): Forwardees 0x15, Forwardee 0x16, Name 0x17,
    # Email 0x18; 2.1.2.1.15 (Provision, page 0x0E): AccountOnlyRemoteWipe 0x3B. Written by hand:
    # header, SWITCH_PAGE 0x15, SmartForward 0x06|0x40, Forwardees 0x55, Forwardee 0x56,
    # Name 0x57 STR_I "A" END, Email 0x58 STR_I "a@b" END, END END END.
    forwardees = (
        HEADER
        + bytes([0x00, 0x15, 0x46, 0x55, 0x56, 0x57, 0x03])
        + b"A\x00"
        + bytes([0x01, 0x58, 0x03])
        + b"a@b\x00"
        + bytes([0x01, 0x01, 0x01, 0x01])
    )
    root = E(
        "{ComposeMail}SmartForward",
        None,
        E(
            "{ComposeMail}Forwardees",
            None,
            E("{ComposeMail}Forwardee", None, E("{ComposeMail}Name", "A"), E("{ComposeMail}Email", "a@b")),
        ),
    )
    assert encode(root) == forwardees
    assert as_tuple(decode(forwardees)) == as_tuple(root)
    # header, SWITCH_PAGE 0x0E, Provision 0x05|0x40, AccountOnlyRemoteWipe 0x3B|0x40 Status 0x0B ...
    wipe = HEADER + bytes([0x00, 0x0E, 0x45, 0x7B, 0x4B, 0x03]) + b"1\x00" + bytes([0x01, 0x01, 0x01])
    root = E(
        "{Provision}Provision", None, E("{Provision}AccountOnlyRemoteWipe", None, E("{Provision}Status", "1"))
    )
    assert encode(root) == wipe
    assert as_tuple(decode(wipe)) == as_tuple(root)


def test_draft_tokens_agree_with_libwbxml():
    # given a 16.1 draft as a device sends it, built by libwbxml (Email2 and AirSyncBase 16.0 tokens)
    xml = (
        '<Sync xmlns="AirSync:" xmlns:email2="Email2:" xmlns:airsyncbase="AirSyncBase:"><Collections>'
        "<Collection><SyncKey>1</SyncKey><CollectionId>3</CollectionId><Commands><Add><ClientId>d1</ClientId>"
        "<ApplicationData><email2:Bcc>b@example.test</email2:Bcc><airsyncbase:Attachments><airsyncbase:Add>"
        "<airsyncbase:ClientId>a1</airsyncbase:ClientId><airsyncbase:Content>aGVsbG8=</airsyncbase:Content>"
        "</airsyncbase:Add><airsyncbase:Delete><airsyncbase:FileReference>3:4:2</airsyncbase:FileReference>"
        "</airsyncbase:Delete></airsyncbase:Attachments></ApplicationData><email2:Send/></Add></Commands>"
        "</Collection></Collections></Sync>"
    )
    data = libwbxml.xml2wbxml(xml)
    # when our decoder reads it
    add = decode(data).find("{AirSync}Collections/{AirSync}Collection/{AirSync}Commands/{AirSync}Add")
    # then the 16.x tags are there, Content as the bytes libwbxml sent as opaque data
    assert add.findtext("{AirSync}ApplicationData/{Email2}Bcc") == "b@example.test"
    attachments = add.find("{AirSync}ApplicationData/{AirSyncBase}Attachments")
    assert attachments.find("{AirSyncBase}Add/{AirSyncBase}Content").text == b"hello"
    assert attachments.findtext("{AirSyncBase}Delete/{AirSyncBase}FileReference") == "3:4:2"
    assert add.find("{Email2}Send") is not None
    assert encode(decode(data)) == data
    # and what we write (IsDraft) libwbxml reads
    theirs = libwbxml.read(encode(E("{AirSync}ApplicationData", None, E("{Email2}IsDraft", "1"))))
    assert theirs.findtext("{Email2}IsDraft") == "1"


def test_round_trip_of_a_deep_and_long_document():
    root = E("{FolderHierarchy}FolderSync", None, E("{FolderHierarchy}SyncKey", "7"))
    changes = E("{FolderHierarchy}Changes", None, E("{FolderHierarchy}Count", "300"))
    for i in range(300):
        changes.append(
            E(
                "{FolderHierarchy}Add",
                None,
                E("{FolderHierarchy}ServerId", str(i)),
                E("{FolderHierarchy}DisplayName", "x" * (i * 7)),
                E("{FolderHierarchy}Type", "12"),
            )
        )
    root.append(changes)
    assert as_tuple(decode(encode(root))) == as_tuple(root)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        HEADER,
        HEADER + b"\x45",  # an open Sync never closed
        HEADER + b"\x45\x01\x01",  # END with nothing open
        HEADER + b"\x00\x04\x45\x01",  # Calendar: not served
        HEADER + b"\x7f\x01",  # no tag 0x3f on AirSync
        HEADER + b"\x45\xc3\x8f\xff\xff\xff\xff\x7f",  # OPAQUE longer than mb_u_int32 allows
        HEADER + b"\x45\xc3\x10abc",  # OPAQUE longer than the document
        HEADER + b"\x45\x03abc",  # unterminated string
        HEADER + b"\x85\x01",  # attributes
        HEADER + b"\x45" * 100 + b"\x01" * 100,  # nested too deep
    ],
)
def test_malformed_documents_are_refused(data):
    with pytest.raises(WBXMLError):
        decode(data)


def test_encoder_refuses_what_activesync_cannot_say():
    with pytest.raises(WBXMLError):
        encode(E("{AirSync}NoSuchTag"))
    with pytest.raises(WBXMLError):
        encode(E("Sync"))
    with pytest.raises(WBXMLError):
        encode(E("{AirSync}Sync", "text", E("{AirSync}Status", "1")))
