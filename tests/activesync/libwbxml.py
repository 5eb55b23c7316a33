"""The independent ActiveSync WBXML encoder and decoder of libwbxml2-utils (xml2wbxml,
wbxml2xml), for the tests: requests are built by it and responses read by it, so our codec is
never checked only against itself.

libwbxml names a code page's XML namespace "<Page>:" (and the GAL page "Gal:"), reads CDATA as
OPAQUE and writes OPAQUE as base64 text. A few tags are spelt differently from MS-ASWBXML in
libwbxml 0.11.8 (LIBWBXML_SPELLING), and a few 16.x tokens it does not know (LIBWBXML_LACKS)."""

from __future__ import annotations

import base64
import subprocess
from xml.etree import ElementTree as ET

DOCTYPE = '<!DOCTYPE ActiveSync PUBLIC "-//MICROSOFT//DTD ActiveSync//EN" "http://www.microsoft.com/">'
NAMESPACE_SPELLING = {"GAL": "Gal"}
LIBWBXML_SPELLING = {
    ("Contacts", "AssistantPhoneNumber"): "AssistantTelephoneNumber",
    ("Settings", "RightsManagementInformation"): "ihsManagementInformation",
    ("ComposeMail", "Mime"): "MIME",
    ("RightsManagement", "Owner"): "RMOwner",
    ("RightsManagement", "RemoveRightsManagementProtection"): "RemoveRightsManagementDistribution",
}
# Tokens of protocol 16.x that libwbxml 0.11.8 does not know (it encodes ComposeMail "Name" with
# the Search page's token, and refuses the others): tested against hand-checked bytes instead.
LIBWBXML_LACKS = {
    ("ComposeMail", "Name"),
    ("ComposeMail", "Email"),
    ("Provision", "AccountOnlyRemoteWipe"),
}
_OURS = {(ns, theirs): ours for (ns, ours), theirs in LIBWBXML_SPELLING.items()}
_OUR_NAMESPACE = {theirs: ours for ours, theirs in NAMESPACE_SPELLING.items()}


def xml2wbxml(xml: str) -> bytes:
    """WBXML of an XML document (without prolog: it is added), as a device sends it (public id 1,
    no string table)."""
    document = f'<?xml version="1.0" encoding="utf-8"?>\n{DOCTYPE}\n{xml}'
    done = subprocess.run(
        ["xml2wbxml", "-a", "-n", "-o", "-", "-"], input=document.encode(), capture_output=True, check=False
    )
    assert done.returncode == 0 and done.stdout, done.stderr.decode() + done.stdout.decode()[-300:]
    return done.stdout


def wbxml2xml(data: bytes) -> str:
    done = subprocess.run(
        ["wbxml2xml", "-l", "ACTIVESYNC", "-m", "0", "-o", "-", "-"],
        input=data,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode() + done.stdout.decode()[-300:]
    text = done.stdout.decode()
    return text[: text.rindex(">") + 1]  # the tool appends "wbxml2xml succeeded"


def read(data: bytes, *, opaque: tuple[str, ...] = ()) -> ET.Element:
    """The document libwbxml reads from `data`, with tags as our codec names them
    ("{AirSync}Sync"); the text of tags in `opaque` (e.g. "{AirSyncBase}Data") base64-decoded."""
    # Trusted input: libwbxml's rendering of a document the test itself received.
    root = ET.fromstring(wbxml2xml(data).split(DOCTYPE, 1)[-1])  # noqa: S314
    for element in root.iter():
        namespace, _, name = element.tag[1:].partition("}")
        namespace = namespace.rstrip(":")
        namespace = _OUR_NAMESPACE.get(namespace, namespace)
        name = _OURS.get((namespace, name), name)
        element.tag = f"{{{namespace}}}{name}"
        if element.tag in opaque and element.text:
            element.text = base64.b64decode(element.text)
    return root


def their_tag(namespace: str, name: str) -> str:
    return LIBWBXML_SPELLING.get((namespace, name), name)


def their_namespace(namespace: str) -> str:
    return NAMESPACE_SPELLING.get(namespace, namespace) + ":"
