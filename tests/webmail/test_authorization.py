"""A user reaches only their own mailbox through every webmail URL: another mailbox's UID,
folder or attachment id is a 404, anonymous visitors go to the login, nothing changes."""

import pytest
from django.test import Client

from tests.factories import MANAGER_PASSWORD, ManagerFactory
from tests.webmail.conftest import message

ATTACHED = (
    b"From: a@example.test\r\nTo: b@example.test\r\nSubject: secret\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
    b"--XX\r\nContent-Type: text/plain\r\n\r\nsecret body\r\n"
    b'--XX\r\nContent-Type: application/pdf; name="s.pdf"\r\nContent-Disposition: attachment; '
    b'filename="s.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--XX--\r\n'
)


def urls(uid: int, folder: str) -> list[str]:
    return [
        f"/webmail/mail/?f={folder}",
        f"/webmail/message/{uid}/?f={folder}",
        f"/webmail/message/{uid}/body/?f={folder}",
        f"/webmail/message/{uid}/part/2/?f={folder}",
        f"/webmail/message/{uid}/source/?f={folder}",
        f"/webmail/message/{uid}/eml/?f={folder}",
        f"/webmail/message/{uid}/print/?f={folder}",
        f"/webmail/message/{uid}/?f={folder}&pane=1",
        f"/webmail/thread/{uid}/?f={folder}",
        f"/webmail/thread/{uid}/?f={folder}&pane=1",
        f"/webmail/compose/?f={folder}&reply={uid}",
        f"/webmail/compose/?f={folder}&forward={uid}",
    ]


@pytest.fixture
def two_users(webmail_user):
    victim = webmail_user()
    with victim.imap() as imap:
        imap.create_folder("Private")
    for _ in range(3):
        victim.append(ATTACHED, folder="Private")
    victim.append(ATTACHED)
    victim.append(ATTACHED)
    attacker = webmail_user()
    attacker.append(message(subject="mine"))
    return victim, attacker


def test_other_mailbox_uid_folder_and_attachment_are_404(two_users):
    victim, attacker = two_users
    # the victim sees their own
    for url in urls(2, "INBOX") + urls(3, "Private"):
        assert victim.client.get(url).status_code in (200, 302), url
    with victim.imap() as imap:
        imap.select_folder("Private", readonly=True)
        flags_before = imap.get_flags([1, 2, 3])
    # the attacker, with the same UIDs and folder names, reaches nothing
    for url in urls(2, "INBOX")[1:] + urls(3, "Private") + urls(1, "Private"):  # [0]: their own inbox
        response = attacker.client.get(url)
        assert response.status_code == 404, url
        assert b"secret" not in response.content
    # actions on those UIDs change nothing of the victim's
    for action in ("read", "flag", "delete"):
        attacker.client.post("/webmail/mail/actions/", {"f": "Private", "action": action, "uid": [1, 2, 3]})
    attacker.client.post("/webmail/mail/actions/", {"f": "INBOX", "action": "delete", "uid": [2]})
    assert victim.uids("Private") == [1, 2, 3] and victim.uids("INBOX") == [1, 2]
    assert attacker.uids("INBOX") == [1]
    with victim.imap() as imap:
        imap.select_folder("Private", readonly=True)
        assert imap.get_flags([1, 2, 3]) == flags_before
    # folder operations on the victim's folder name act only on the attacker's mailbox (404)
    assert (
        attacker.client.post("/webmail/folders/change/", {"op": "delete", "folder": "Private"}).status_code
        == 404
    )
    assert victim.uids("Private") == [1, 2, 3]


def test_anonymous_is_sent_to_login_everywhere(two_users):
    anonymous = Client()
    for url in urls(1, "INBOX") + [
        "/webmail/",
        "/webmail/folders/",
        "/webmail/settings/",
        "/webmail/settings/app-passwords/",
        "/webmail/settings/vacation/",
    ]:
        response = anonymous.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/webmail/login/?next="), url


def test_manager_without_mailbox_cannot_enter(wm):
    manager = ManagerFactory()
    client = Client()
    response = client.post("/webmail/login/", {"login": manager.user.username, "password": MANAGER_PASSWORD})
    assert response.status_code == 403
    assert client.get("/webmail/").status_code == 302


def test_compose_window_of_another_session_is_404(two_users):
    victim, attacker = two_users
    location = victim.client.get("/webmail/compose/")["Location"]
    assert victim.client.get(location).status_code == 200
    assert attacker.client.get(location).status_code == 404
    assert attacker.client.post(location + "autosave/", {"to": "x@example.test"}).status_code == 404
