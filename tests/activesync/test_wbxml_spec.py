"""activesync.wbxml specs: written straight to WBXML (spec_encoded, Sync's pages) they give the
bytes of their Element tree encoded (spec_element, the other commands), for real messages."""

import datetime as dt

import pytest

from activesync.context import element
from activesync.message import BodyPreference, application_spec
from activesync.wbxml import HEADER, WBXMLError, decode, encode, spec_element, spec_encoded
from mailstore.reader import RawMessage
from tests.portalkit.test_mimeparse import ORDINARY, UNUSUAL, mixed

PREFERENCES = [
    BodyPreference(1, None),
    BodyPreference(1, 20),
    BodyPreference(2, 32768),
    BodyPreference(2, 7),
    BodyPreference(4, None),
    BodyPreference(4, 100),
]


def messages():
    raws = [t.encode("latin-1") for t in ORDINARY + UNUSUAL] + [mixed().encode()]
    raws.append(
        b"Subject: \xff\xfe 8-bit\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\n\xe8\xe9 body \xff"
    )
    for i, raw in enumerate(raws):
        flags = [set(), {b"\\Seen"}, {b"\\Flagged", b"\\Seen"}][i % 3]
        yield RawMessage(
            uid=i + 1, raw=raw, flags=flags, internal_date=dt.datetime(2026, 2, 1, 10, i % 60, tzinfo=dt.UTC)
        )


@pytest.mark.parametrize("preference", PREFERENCES, ids=str)
def test_a_spec_written_directly_gives_the_bytes_of_its_element_tree(preference):
    compared = 0
    for message in messages():
        spec = application_spec(message, f"7:{message.uid}", preference)
        tree = spec_element(spec)
        direct = spec_encoded(spec)
        assert HEADER + direct.wbxml == encode(tree)
        # inside a larger document, on another code page, as Sync places it
        wrapper = element("{AirSync}Add", None, element("{AirSync}ServerId", "7:1"), direct)
        same = element("{AirSync}Add", None, element("{AirSync}ServerId", "7:1"), spec_element(spec))
        document = encode(
            element("{FolderHierarchy}FolderSync", None, element("{FolderHierarchy}Status", 1), wrapper)
        )
        assert document == encode(
            element("{FolderHierarchy}FolderSync", None, element("{FolderHierarchy}Status", 1), same)
        )
        assert decode(document).find("{AirSync}Add/{AirSync}ApplicationData") is not None
        compared += 1
    assert compared > 40


def test_a_spec_refuses_what_the_encoder_refuses():
    with pytest.raises(WBXMLError):
        spec_encoded(("{Email}Subject", "a\x00b", ()))
    with pytest.raises(WBXMLError):
        encode(spec_element(("{Email}Subject", "a\x00b", ())))
    with pytest.raises(WBXMLError):
        spec_encoded(("{Email}Subject", "text", (("{Email}To", "x", ()),)))
    with pytest.raises(WBXMLError):
        spec_encoded(("{Nowhere}Thing", "x", ()))
