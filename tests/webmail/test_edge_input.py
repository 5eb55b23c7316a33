"""Out-of-range and odd request parameters: each a 404 or an ordinary page, never a 500 or a
"mail server unavailable" page."""

import pytest

from tests.webmail.conftest import message
from tests.webmail.test_compose import fetch, new_compose, wait_for


@pytest.mark.parametrize(
    "url",
    [
        "/webmail/message/4294967296/?f=INBOX",  # 2**32: past IMAP's 32-bit UIDs (Dovecot: BAD)
        "/webmail/message/4294967296/body/?f=INBOX",
        "/webmail/message/4294967296/source/?f=INBOX",
        "/webmail/message/4294967296/part/1/?f=INBOX",
        "/webmail/compose/?f=INBOX&draft=4294967296",
    ],
)
def test_uid_past_32_bits_is_404(url, webmail_user):
    user = webmail_user()
    user.append(message(subject="one"))

    assert user.client.get(url).status_code == 404


def test_actions_ignore_uids_past_32_bits(webmail_user):
    user = webmail_user()
    uid = user.append(message(subject="one"))

    response = user.client.post(
        "/webmail/mail/actions/", {"f": "INBOX", "action": "flag", "uid": [str(uid), "4294967296"]}
    )

    assert response.status_code == 302
    with user.imap() as imap:
        imap.select_folder("INBOX", readonly=True)
        assert imap.get_flags([uid])[uid] == (b"\\Flagged",)


@pytest.mark.parametrize(
    ("params", "rows"),
    [
        ({"until": "9999-12-31"}, 1),  # the last representable day: no upper bound
        ({"since": "0001-01-01"}, 1),  # imapclient writes the year as "1": no lower bound
        ({"until": "0001-01-01"}, 0),  # nothing is that old
        ({"since": "0001-01-01", "until": "9999-12-31"}, 1),
    ],
)
def test_extreme_search_dates(params, rows, webmail_user):
    user = webmail_user()
    user.append(message(subject="dated"))

    response = user.client.get("/webmail/mail/", {"f": "INBOX", **params})

    assert response.status_code == 200
    assert response.content.decode().count('class="wm-row') == rows


def test_suggest_with_nul_answers_empty(webmail_user):
    user = webmail_user()

    response = user.client.get("/webmail/compose/suggest/", {"q": "\x00"})

    assert (response.status_code, response.json()) == (200, {"results": []})


def test_nul_in_subject_and_body_is_dropped_and_the_message_sent(webmail_user):
    # given a compose form posted with NUL characters (no browser sends them; a script can)
    alice, bob = webmail_user(), webmail_user()
    url = new_compose(alice.client)
    fields = {"to": bob.address, "cc": "", "bcc": "", "subject": "a\x00b", "body": "c\x00d", "action": "send"}
    # when it is sent, then it goes out without them
    assert alice.client.post(url, fields).status_code == 302
    received = fetch(bob, "INBOX", wait_for(lambda: bob.uids("INBOX"))[0])
    assert received["Subject"] == "ab"
    assert received.get_payload(decode=True).decode().strip() == "cd"
