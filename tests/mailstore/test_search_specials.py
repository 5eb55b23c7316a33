"""Search text with IMAP's special characters finds what it says, in the webmail and in
ActiveSync alike (mailstore.reader.Search): it is never sent bare, where "(" was a BAD and
"{5}" the announcement of a literal the server then waited 30 s for."""

import email
import email.policy
import time

import pytest

from mailstore.imap import LiveMailbox, imap_session
from mailstore.reader import Search, mail_session
from tests.protocol.helpers import message


def subject_of(raw: bytes) -> str:
    return str(email.message_from_bytes(raw, policy=email.policy.default)["Subject"])


SUBJECTS = ["Costs (draft)", "total {5} items", "50% off", "a]b", "star * here", "Città bella", "plain"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(draft)", ["Costs (draft)"]),
        ("(", ["Costs (draft)"]),
        ("{5}", ["total {5} items"]),
        ("50%", ["50% off"]),
        ("]", ["a]b"]),
        ("*", ["star * here"]),
        ("Città", ["Città bella"]),
        ('"', []),
        ("\\", []),
    ],
)
def test_search_text_with_imap_specials_finds_its_messages(
    text, expected, running_mailplane, mailbox_factory
):
    address, _password = mailbox_factory()
    with imap_session(address) as imap:
        for subject in SUBJECTS:
            imap.append("INBOX", message("sender@example.net", address, subject=subject))
    started = time.monotonic()
    with mail_session(LiveMailbox(address)) as mail:
        for where in ("subject", "all"):
            uids = mail.search_uids("INBOX", Search(text=text, where=where))
            found = sorted(subject_of(m.raw) for m in mail.messages_raw("INBOX", uids))
            assert found == sorted(expected), (where, found)
    assert time.monotonic() - started < 10  # no wait for a literal that never comes
