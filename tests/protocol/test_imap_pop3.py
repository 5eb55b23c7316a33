"""IMAP and POP3 logins against the real Dovecot, for mailboxes made through domains.services."""

import imaplib
import time

import pytest
from django_otp.oath import totp

from accounts.models import AccessLogEntry
from accounts.services import app_password_create, app_password_revoke
from domains.models import Domain, Mailbox
from domains.services import domain_set_require_2fa, mailbox_delete, mailbox_update
from domains.twofactor import totp_enrol_confirm, totp_enrol_start
from mailstore.errors import Unavailable
from mailstore.imap import imap_session
from tests.factories import DomainFactory
from tests.protocol.helpers import imap_login, pop3_login

pytestmark = pytest.mark.protocol

LOGIN = {"imap": imap_login, "pop3": pop3_login}


def mailbox_of(address: str) -> Mailbox:
    local_part, _, domain = address.partition("@")
    return Mailbox.objects.select_related("user", "domain").get(local_part=local_part, domain__name=domain)


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_mailbox_logs_in_over_tls_with_its_password(running_mailplane, mailbox_factory, protocol):
    # given a mailbox created through domains.services
    address, password = mailbox_factory()
    # when its user logs in over TLS
    ok, text = LOGIN[protocol](running_mailplane, address, password)
    # then Dovecot accepts the Django Argon2 hash
    assert ok is True, text


def test_imap_session_sees_the_inbox(running_mailplane, mailbox_factory):
    address, password = mailbox_factory()
    imap = imaplib.IMAP4_SSL(
        running_mailplane.host, running_mailplane.ports["imaps"], ssl_context=running_mailplane.ssl_context()
    )
    imap.login(address, password)
    typ, data = imap.select("INBOX")
    imap.logout()
    assert (typ, data) == ("OK", [b"0"])


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_wrong_password_is_refused(running_mailplane, mailbox_factory, protocol):
    address, password = mailbox_factory()
    ok, text = LOGIN[protocol](running_mailplane, address, password + "x")
    assert ok is False
    assert "Authentication failed" in text


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_inactive_mailbox_is_refused(running_mailplane, mailbox_factory, protocol):
    # given a mailbox that is then deactivated
    address, password = mailbox_factory()
    mailbox_update(mailbox=mailbox_of(address), is_active=False)
    # when it logs in with the right password, then it is refused
    ok, _ = LOGIN[protocol](running_mailplane, address, password)
    assert ok is False


def test_mailbox_of_inactive_domain_is_refused(running_mailplane, mailbox_factory):
    address, password = mailbox_factory()
    Domain.objects.filter(name=address.split("@")[1]).update(is_active=False)  # no service yet: data set-up
    assert imap_login(running_mailplane, address, password)[0] is False


def test_deleted_mailbox_is_refused(running_mailplane, mailbox_factory):
    address, password = mailbox_factory()
    mailbox_delete(mailbox=mailbox_of(address))
    assert imap_login(running_mailplane, address, password)[0] is False
    assert pop3_login(running_mailplane, address, password)[0] is False


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_domain_requiring_2fa_refuses_main_password_and_accepts_app_password(
    running_mailplane, mailbox_factory, protocol
):
    # given a mailbox of a domain that requires 2FA, with an app password
    domain = DomainFactory()
    address, password = mailbox_factory(domain=domain)
    _app, token = app_password_create(user=mailbox_of(address).user, name="Thunderbird")
    domain_set_require_2fa(domain=domain, required=True)
    # then the main password is refused and the app password accepted
    assert LOGIN[protocol](running_mailplane, address, password)[0] is False
    assert LOGIN[protocol](running_mailplane, address, token) == (True, pytest.approx(LOGIN_OK[protocol]))


LOGIN_OK = {"imap": "Logged in", "pop3": "+OK Logged in."}


def test_confirmed_totp_device_refuses_main_password_and_accepts_app_password(
    running_mailplane, mailbox_factory
):
    # given a mailbox whose user confirmed a TOTP device
    address, password = mailbox_factory()
    user = mailbox_of(address).user
    assert imap_login(running_mailplane, address, password)[0] is True
    device, _uri, _svg = totp_enrol_start(user)
    totp_enrol_confirm(
        device, f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    )
    _app, token = app_password_create(user=user, name="Phone")
    # then
    assert imap_login(running_mailplane, address, password)[0] is False
    assert imap_login(running_mailplane, address, token)[0] is True
    assert pop3_login(running_mailplane, address, token)[0] is True


def test_app_password_works_without_2fa_and_revoked_one_is_refused(running_mailplane, mailbox_factory):
    address, _password = mailbox_factory()
    user = mailbox_of(address).user
    app, token = app_password_create(user=user, name="Laptop")
    _other, other_token = app_password_create(user=user, name="Phone")
    assert imap_login(running_mailplane, address, token)[0] is True
    # when one app password is revoked
    app_password_revoke(app_password=app, actor=user)
    # then it is refused and the other one still works
    assert imap_login(running_mailplane, address, token)[0] is False
    assert pop3_login(running_mailplane, address, token)[0] is False
    assert imap_login(running_mailplane, address, other_token)[0] is True


def test_app_password_of_another_mailbox_is_refused(running_mailplane, mailbox_factory):
    address, _ = mailbox_factory()
    other, _ = mailbox_factory()
    _app, token = app_password_create(user=mailbox_of(other).user, name="Other")
    assert imap_login(running_mailplane, address, token)[0] is False


def test_master_user_logs_in_from_loopback_as_any_mailbox(running_mailplane, mailbox_factory, settings):
    # given a mailbox whose domain requires 2FA (master logins are unaffected)
    domain = DomainFactory()
    address, _ = mailbox_factory(domain=domain)
    domain_set_require_2fa(domain=domain, required=True)
    # when the project's services open a session through the master user, with the client's IP
    with imap_session(address, client_ip="203.0.113.9") as imap:
        folders = sorted(name for _flags, _sep, name in imap.list_folders())
        selected = imap.select_folder("INBOX")
    # then the session is the mailbox's
    assert folders == ["Drafts", "INBOX", "Junk", "Sent", "Trash"]
    assert selected[b"EXISTS"] == 0


def test_master_user_with_wrong_password_or_inactive_target_is_refused(
    running_mailplane, mailbox_factory, settings
):
    address, _ = mailbox_factory()
    ok, _ = imap_login(
        running_mailplane, f"{address}*{settings.MAILSTORE_MASTER_USER}", "wrong-master-password"
    )
    assert ok is False
    mailbox_update(mailbox=mailbox_of(address), is_active=False)
    with pytest.raises(Unavailable):
        with imap_session(address):
            pass


def test_getquotaroot_reports_the_tier(running_mailplane, mailbox_factory):
    # given an 8 GB mailbox
    address, password = mailbox_factory(quota_tier=8)
    imap = imaplib.IMAP4_SSL(
        running_mailplane.host, running_mailplane.ports["imaps"], ssl_context=running_mailplane.ssl_context()
    )
    imap.login(address, password)
    typ, data = imap.getquotaroot("INBOX")
    imap.logout()
    # then the storage limit is 8 GB in KB
    assert typ == "OK"
    assert data[1] == [b'"User quota" (STORAGE 0 8388608)']


def test_stop_and_restart_through_the_fixture(running_mailplane, mailbox_factory):
    address, password = mailbox_factory()
    running_mailplane.stop()
    try:
        assert running_mailplane.is_running() is False
        with pytest.raises(OSError):
            imap_login(running_mailplane, address, password)
    finally:
        running_mailplane.start()
    assert imap_login(running_mailplane, address, password)[0] is True





def wait_for_rows(queryset, count: int, timeout: float = 5.0) -> list:
    deadline = time.monotonic() + timeout
    while True:
        rows = list(queryset.all())  # .all(): a fresh query each time, not the cached result
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def test_logins_reach_the_access_log_through_the_auth_policy(running_mailplane, mailbox_factory):
    # given a mailbox
    address, password = mailbox_factory()
    # when it logs in once with a wrong password and once with the right one over IMAPS
    assert imap_login(running_mailplane, address, password + "x")[0] is False
    assert imap_login(running_mailplane, address, password)[0] is True
    # then Dovecot reported both to the accounts endpoint, which wrote one row each
    rows = wait_for_rows(
        AccessLogEntry.objects.filter(login=address)
        .order_by("at", "id")
        .values_list("protocol", "result", "remote_ip", "tls"),
        2,
    )
    assert rows == [("imap", "failure", "127.0.0.1", True), ("imap", "success", "127.0.0.1", True)]


def test_master_sessions_are_not_logged_as_the_users_login(running_mailplane, mailbox_factory):
    address, _ = mailbox_factory()
    with imap_session(address, client_ip="198.51.100.7") as imap:
        imap.noop()
    time.sleep(0.5)
    assert AccessLogEntry.objects.filter(login=address).count() == 0
