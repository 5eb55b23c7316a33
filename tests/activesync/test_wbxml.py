"""The WBXML codec (activesync.wbxml) against itself and against libwbxml2-utils."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest

from activesync.codepages import CODE_PAGES
from activesync.wbxml import HEADER, WBXMLError, decode, encode, encoded
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
        ("{AirSyncBase}Type", "2"), ("{AirSyncBase}TruncationSize", "5000")
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
        "{AirSync}Sync", None,
        E("{AirSync}Collections", None, E(
            "{AirSync}Collection", None,
            E("{AirSync}SyncKey", "{aa-1}"),
            E("{AirSync}Status", "1"),
            E("{AirSync}MoreAvailable"),
            E("{AirSync}Commands", None, E(
                "{AirSync}Add", None,
                E("{AirSync}ServerId", "1:42"),
                E("{AirSync}ApplicationData", None,
                  E("{Email}Subject", "Caff\u00e8 \u2615 & <tags>"),
                  E("{AirSyncBase}Body", None,
                    E("{AirSyncBase}Type", "4"), E("{AirSyncBase}Data", "line 1\r\n\u20ac <b>")),
                  E("{Email2}ConversationId", b"\x00\xff\x01\x02"),
                  E("{Email}Read", "0")),
            )),
        )),
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
    lacks = libwbxml.LIBWBXML_LACKS  # tested in test_wbxml_16.py against the spec's bytes
    ordered = [tags[token] for token in sorted(tags) if (namespace, tags[token]) not in lacks]
    xml_ns = libwbxml.their_namespace(namespace)
    children = "".join(f"<{libwbxml.their_tag(namespace, name)}/>" for name in ordered[1:])
    first = libwbxml.their_tag(namespace, ordered[0])
    theirs = libwbxml.xml2wbxml(f'<{first} xmlns="{xml_ns}">{children}</{first}>')
    # when we encode the same document
    ours = encode(E(f"{{{namespace}}}{ordered[0]}", None, *(E(f"{{{namespace}}}{n}") for n in ordered[1:])))
    # then the bytes are the same, and each decoder reads the other's
    assert ours == theirs
    assert [c.tag for c in decode(theirs)] == [f"{{{namespace}}}{n}" for n in ordered[1:]]


def test_round_trip_of_a_deep_and_long_document():
    root = E("{FolderHierarchy}FolderSync", None, E("{FolderHierarchy}SyncKey", "7"))
    changes = E("{FolderHierarchy}Changes", None, E("{FolderHierarchy}Count", "300"))
    for i in range(300):
        changes.append(E("{FolderHierarchy}Add", None,
                         E("{FolderHierarchy}ServerId", str(i)),
                         E("{FolderHierarchy}DisplayName", "x" * (i * 7)),
                         E("{FolderHierarchy}Type", "12")))
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


def test_an_element_encoded_before_is_copied_into_a_document_as_if_encoded_there():
    # given a collection encoded once (kept for a repeated Sync key), ending on another code page
    collection = E(
        "{AirSync}Collection",
        None,
        E("{AirSync}SyncKey", "2"),
        E(
            "{AirSync}Commands",
            None,
            E("{AirSync}Add", None, E("{AirSyncBase}Body", None, E("{AirSyncBase}Type", "2"))),
        ),
    )
    document, copy = encoded(collection)

    # when a Sync answer holds it after an element of another code page, and before one of page 0
    def answer(inner):
        return E(
            "{AirSync}Sync",
            None,
            E("{AirSync}Collections", None, E("{AirSyncBase}Body", None, E("{AirSyncBase}Type", "1")), inner),
            E("{AirSync}Status", "1"),
        )

    # then the kept document is the element's own encoding, and the answer is byte for byte the
    # one encoded from scratch, which libwbxml reads
    assert document == encode(collection)
    assert encode(answer(copy)) == encode(answer(collection))
    theirs = libwbxml.read(encode(answer(copy)))
    assert theirs.findtext("{AirSync}Collections/{AirSync}Collection/{AirSync}SyncKey") == "2"
    assert theirs.findtext("{AirSync}Status") == "1"
