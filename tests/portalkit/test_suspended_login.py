"""Issue 15 item 2 on the web: a suspended mailbox cannot log in to any portal a mailbox user
enters (webmail, Time Machine), and a session it had open on each ends at its next request;
resumed, the same password opens them again."""

import pytest
from django.test import Client

from domains.services import mailbox_resume, mailbox_suspend
from tests.factories import MailboxFactory

pytestmark = pytest.mark.django_db

PORTALS = ["webmail", "timemachine"]


def logged_in(portal: str, login: str, password: str) -> Client:
    client = Client(REMOTE_ADDR="127.0.0.1")
    response = client.post(f"/{portal}/login/", {"login": login, "password": password})
    assert (response.status_code, response["Location"]) == (302, f"/{portal}/"), portal
    assert client.get(f"/{portal}/").status_code == 200
    return client


def test_a_suspended_mailbox_is_logged_out_of_every_portal_and_cannot_log_in_again():
    mailbox = MailboxFactory()
    address, password = mailbox.address, mailbox.password_plain
    sessions = {portal: logged_in(portal, address, password) for portal in PORTALS}
    mailbox_suspend(mailbox=mailbox, receive_mail=True)
    for portal, client in sessions.items():
        # the open session ends: to the login page
        response = client.get(f"/{portal}/")
        assert response.status_code == 302 and response["Location"].startswith(f"/{portal}/login/"), portal
        # and the right password does not log in
        fresh = Client(REMOTE_ADDR="127.0.0.1")
        response = fresh.post(f"/{portal}/login/", {"login": address, "password": password})
        assert response.status_code != 302, portal
        assert "_auth_user_id" not in fresh.session, portal
    mailbox_resume(mailbox=mailbox)
    for portal in PORTALS:
        logged_in(portal, address, password)
