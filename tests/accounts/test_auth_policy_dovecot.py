"""The auth policy endpoint fed by the real Dovecot (IMAP/POP3 logins over TLS): the JSON it
really sends produces access-log rows, and ten failures block the login even with the right
password."""

import time

import pytest

from accounts.models import AccessLogEntry
from domains.models import Mailbox
from tests.protocol.helpers import imap_login, pop3_login

pytestmark = pytest.mark.protocol


def rows_for(address, count, timeout=5.0):
    """Dovecot reports after answering the client: wait for the rows to land."""
    deadline = time.monotonic() + timeout
    while True:
        rows = list(AccessLogEntry.objects.filter(login=address).order_by("id"))
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def test_imap_success_and_failure_are_logged_with_protocol_address_and_tls(
    running_mailplane, mailbox_factory
):
    address, password = mailbox_factory()

    assert imap_login(running_mailplane, address, password + "x")[0] is False
    assert imap_login(running_mailplane, address, password)[0] is True

    rows = rows_for(address, 2)
    mailbox = Mailbox.objects.get(user__username=address)
    assert [(r.protocol, r.result, r.remote_ip, r.tls, r.domain_id, r.user_id) for r in rows] == [
        ("imap", "failure", "127.0.0.1", True, mailbox.domain_id, mailbox.user_id),
        ("imap", "success", "127.0.0.1", True, mailbox.domain_id, mailbox.user_id),
    ]
    assert mailbox.last_login_at == rows[1].at


def test_ten_imap_failures_block_the_login_on_pop3_too_even_with_the_right_password(
    running_mailplane, mailbox_factory
):
    address, password = mailbox_factory()
    for i in range(10):
        assert imap_login(running_mailplane, address, f"wrong-password-{i}")[0] is False
    rows_for(address, 10)

    ok_imap, _ = imap_login(running_mailplane, address, password)
    ok_pop3, _ = pop3_login(running_mailplane, address, password)

    assert (ok_imap, ok_pop3) == (False, False)
    rows = rows_for(address, 12)
    assert [r.result for r in rows] == ["failure"] * 10 + ["blocked", "blocked"]
    assert [r.protocol for r in rows[-2:]] == ["imap", "pop3"]


def test_an_imap_login_with_an_app_password_records_its_last_use(running_mailplane, mailbox_factory):
    from accounts.models import AppPassword
    from accounts.services import app_password_create

    address, _password = mailbox_factory()
    mailbox = Mailbox.objects.get(user__username=address)
    app_password, token = app_password_create(user=mailbox.user, name="phone")
    other, _other_token = app_password_create(user=mailbox.user, name="laptop")
    assert app_password.last_used_at is None

    assert imap_login(running_mailplane, address, token)[0] is True

    deadline = time.monotonic() + 5
    while AppPassword.objects.get(pk=app_password.pk).last_used_at is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert AppPassword.objects.get(pk=app_password.pk).last_used_at is not None
    assert AppPassword.objects.get(pk=other.pk).last_used_at is None
