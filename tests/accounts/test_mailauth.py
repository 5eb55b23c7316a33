import pytest

from accounts.mailauth import authenticate_mail
from accounts.models import AccessLogEntry
from accounts.services import app_password_create
from tests.factories import MAILBOX_PASSWORD

pytestmark = pytest.mark.django_db

IP = "198.51.100.7"


def auth(login, password, protocol="submission", remote_ip=IP, tls=True):
    return authenticate_mail(login, password, protocol=protocol, remote_ip=remote_ip, tls=tls)


def test_main_password_of_active_mailbox_is_accepted_and_logged(mailbox):
    result = auth("Mario@Example.TEST", MAILBOX_PASSWORD)

    assert (result.ok, result.reason, result.temporary) == (True, "password", False)
    assert result.mailbox == mailbox and result.user == mailbox.user
    row = AccessLogEntry.objects.get()
    assert (row.login, row.protocol, row.remote_ip, row.tls, row.result, row.reason, row.domain, row.user) == (
        "mario@example.test", "submission", IP, True, "success", "password", mailbox.domain, mailbox.user)
    mailbox.refresh_from_db()
    assert mailbox.last_login_at is not None


def test_app_password_is_accepted(mailbox):
    app_password, token = app_password_create(user=mailbox.user, name="Phone")

    result = auth("mario@example.test", token)

    assert (result.ok, result.reason) == (True, "app_password")
    app_password.refresh_from_db()
    assert app_password.last_used_at is not None
