"""Header From and Sender on submission (issue 9, item 2): an authenticated mailbox may only put
addresses it may send as (mta.routing.may_send_as) in From and Sender, however the header is
spelled; otherwise 553 5.7.1 naming the address, and a Tracemail rejection row."""

import pytest

from mta.models import TracemailEntry
from tests.factories import MAILBOX_PASSWORD

pytestmark = pytest.mark.protocol


def submit(smtpd, headers: str, *, to: str = "someone@far.example"):
    data = (headers + f"To: {to}\r\nSubject: Ciao\r\n\r\nHello\r\n").encode()
    with smtpd.smtps("mario@acme.test", MAILBOX_PASSWORD) as client:
        client.ehlo()
        assert client.mail("mario@acme.test")[0] == 250
        assert client.rcpt(to)[0] == 250
        return client.data(data)


FORGED = [
    "From: ceo@other-customer.test\r\n",
    "From: Mario <mario@acme.test>\r\nFrom: ceo@bank.example\r\n",  # a second From
    "From: mario@acme.test, ceo@bank.example\r\n",  # several authors
    "From: mario@acme.test <ceo@bank.example>\r\n",  # a parser might keep the first
    "From: =?utf-8?q?ceo=40bank=2Eexample?=\r\n",  # an encoded word where the address goes
    "From: team: mario@acme.test, ceo@bank.example;\r\n",  # group syntax
    "From: <mario@acme.test\r\n",  # broken angle address
    "From : ceo@bank.example\r\n",  # obsolete space before the colon
    "From: mario@acme.test\r\nSender: ceo@bank.example\r\n",  # Sender someone else
    "From: mario@acme.test\r\nSender: mario@acme.test\r\nSender: x@bank.example\r\n",
    "From: José <josé@acme.test>\r\n",  # Unicode local part: not this mailbox
    "From: undisclosed:;\r\n",  # no address at all
    "",  # no From
]


@pytest.mark.parametrize("headers", FORGED)
def test_a_forged_author_is_refused_and_traced(smtpd, relay_sink, mario, headers):
    code, reply = submit(smtpd, headers)
    assert code == 553
    assert reply.startswith(b"5.7.1 ")
    assert relay_sink.messages == []
    row = TracemailEntry.objects.get(recipient="someone@far.example")
    assert (row.status, row.sender, row.sender_domain_id) == (
        TracemailEntry.Status.REJECTED,
        "mario@acme.test",
        mario.domain_id,
    )
    assert row.reason == "553 " + reply.decode()


def test_the_refusal_names_the_address(smtpd, relay_sink, mario):
    code, reply = submit(smtpd, "From: Boss <ceo@bank.example>\r\n")
    assert (code, reply) == (553, b"5.7.1 From <ceo@bank.example> is not an address this mailbox may send as")


@pytest.mark.parametrize(
    "headers",
    [
        "From: mario@acme.test\r\n",
        "From: Mario Rossi <mario@acme.test>\r\n",
        "From: =?utf-8?q?Mario_Ross=C3=AC?= <Mario@ACME.test>\r\n",
        "From: mario@acme.test (Mario, ceo@bank.example)\r\n",  # a comment is no address
        'From: "ceo@bank.example" <mario@acme.test>\r\n',  # a display name is no address
        "from: mario@acme.test\r\nSender: Mario <mario@acme.test>\r\n",
    ],
)
def test_the_mailbox_own_address_is_accepted(smtpd, relay_sink, mario, headers):
    code, _reply = submit(smtpd, headers)
    assert code == 250
    assert len(relay_sink.messages) == 1
