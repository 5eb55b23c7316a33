"""A draft's MIME (activesync.draft_message): what a 16.x device writes becomes a message, and a
stored draft (the webmail's, or an older version) keeps what the device did not change."""

from __future__ import annotations

import base64
import email
from email import policy
from email.message import EmailMessage
from xml.etree import ElementTree as ET

import pytest

from activesync.draft_message import Draft, Unconvertible

B, M, M2 = "{AirSyncBase}", "{Email}", "{Email2}"


def E(tag: str, text=None, *children: ET.Element) -> ET.Element:
    node = ET.Element(tag)
    node.text = text
    node.extend(children)
    return node


def parsed(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)


def test_what_the_device_writes_becomes_a_message():
    # given an ApplicationData as a device sends it: ; between addresses, HTML, an inline image
    # and a file, one as opaque bytes, one as base64 text (the XML form)
    data = E(
        "{AirSync}ApplicationData",
        None,
        E(f"{M}To", '"Rossi, Mario" <mario@example.test>; anna@example.test'),
        E(f"{M2}Bcc", "hidden@example.test"),
        E(f"{M}Subject", "line\r\nbreak"),
        E(f"{M}Importance", "2"),
        E(f"{B}Body", None, E(f"{B}Type", "2"), E(f"{B}Data", '<p>see <img src="cid:logo"></p>')),
        E(
            f"{B}Attachments",
            None,
            E(
                f"{B}Add",
                None,
                E(f"{B}ClientId", "i1"),
                E(f"{B}DisplayName", "logo.png"),
                E(f"{B}ContentId", "logo"),
                E(f"{B}IsInline", "1"),
                E(f"{B}Content", b"\x89PNG bytes"),
            ),
            E(
                f"{B}Add",
                None,
                E(f"{B}ClientId", "f1"),
                E(f"{B}DisplayName", "report.pdf"),
                E(f"{B}Content", base64.b64encode(b"%PDF-1.4 x").decode()),
            ),
        ),
    )
    draft = Draft(headers={"From": "me@example.test"})
    # when it is applied and written
    draft.update(data)
    message = parsed(draft.build())
    # then the headers say what the device wrote, on one line each
    assert [a.addr_spec for a in message["To"].addresses] == ["mario@example.test", "anna@example.test"]
    assert message["To"].addresses[0].display_name == "Rossi, Mario"
    assert (message["Bcc"], message["Subject"], message["Importance"], message["X-Priority"]) == (
        "hidden@example.test",
        "line  break",
        "high",
        "1",
    )
    # the HTML with a text alternative, the inline image with its Content-ID, the file by type
    assert (
        message.get_body(preferencelist=("html",)).get_content().strip() == '<p>see <img src="cid:logo"></p>'
    )
    assert message.get_body(preferencelist=("plain",)).get_content().strip() == "see"
    parts = {p.get_filename(): p for p in message.walk() if p.get_filename()}
    assert (
        parts["logo.png"]["Content-ID"] == "<logo>"
        and parts["logo.png"].get_content_disposition() == "inline"
    )
    assert parts["logo.png"].get_content_type() == "image/png"
    assert parts["report.pdf"].get_content_type() == "application/pdf"
    assert parts["report.pdf"].get_payload(decode=True) == b"%PDF-1.4 x"


def test_a_change_keeps_what_it_does_not_name_and_deletes_by_file_reference():
    # given a stored draft (as the webmail writes one) with two attachments
    stored = EmailMessage()
    stored["From"] = "Me <me@example.test>"
    stored["To"] = "you@example.test"
    stored["Subject"] = "plan"
    stored["In-Reply-To"] = "<orig@example.test>"
    stored["Message-ID"] = "<draft@example.test>"
    stored.set_content("the plan\n")
    stored.add_attachment(b"one", maintype="application", subtype="octet-stream", filename="one.bin")
    stored.add_attachment(parsed(b"Subject: inner\r\n\r\nforwarded\r\n"), filename="inner.eml")
    raw = stored.as_bytes()
    draft = Draft.parse(raw)
    one = next(p for p in draft.parts if p.filename == "one.bin")
    # when a Change names only the subject and deletes one.bin by its FileReference
    draft.update(
        E(
            "{AirSync}ApplicationData",
            None,
            E(f"{M}Subject", "new plan"),
            E(
                f"{B}Attachments",
                None,
                E(f"{B}Delete", None, E(f"{B}FileReference", f"7%3a12%3a{one.index}")),  # URL-encoded
                E(f"{B}Delete", None, E(f"{B}FileReference", "7:99:1")),  # another item's: ignored
            ),
        ),
        server_id="7:12",
    )
    rebuilt = draft.build()
    message = parsed(rebuilt)
    # then the rest is kept: From, To, the thread, the Message-ID, the body, the other attachment
    assert (message["Subject"], message["From"], message["To"]) == (
        "new plan",
        "Me <me@example.test>",
        "you@example.test",
    )
    assert (message["In-Reply-To"], message["Message-ID"]) == ("<orig@example.test>", "<draft@example.test>")
    assert Draft.parse(rebuilt).text == "the plan\n"
    [kept] = list(message.iter_attachments())
    assert kept.get_content_type() == "message/rfc822"
    assert kept.get_payload(0)["Subject"] == "inner"
    # and a FileReference to a part inside the attached message removes the message
    again = Draft.parse(rebuilt)
    [attached] = again.parts
    inner = E(f"{B}Delete", None, E(f"{B}FileReference", f"7:13:{attached.index + attached.span}"))
    again.update(E("{AirSync}ApplicationData", None, E(f"{B}Attachments", None, inner)), server_id="7:13")
    assert again.parts == [] and attached.span > 0


def test_a_body_that_cannot_be_a_draft_is_refused():
    for data in (
        E(f"{B}Body", None, E(f"{B}Type", "3"), E(f"{B}Data", "e1xydGYxfQ==")),
        E(
            f"{B}Attachments",
            None,
            E(f"{B}Add", None, E(f"{B}ClientId", "x"), E(f"{B}Content", "not base64!")),
        ),
    ):
        with pytest.raises(Unconvertible):
            Draft().update(E("{AirSync}ApplicationData", None, data))
