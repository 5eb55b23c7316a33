"""The 16.0/16.1 tokens of the code pages (activesync.codepages): the draft tokens against
libwbxml2-utils, the ones libwbxml 0.11.8 lacks against bytes written by hand from MS-ASWBXML."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from activesync.wbxml import HEADER, decode, encode
from tests.activesync import libwbxml


def E(tag: str, text=None, *children: ET.Element) -> ET.Element:
    element = ET.Element(tag)
    element.text = text
    element.extend(children)
    return element


def as_tuple(element: ET.Element):
    return (element.tag, element.text or None, [as_tuple(child) for child in element])


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
