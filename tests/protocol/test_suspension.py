"""Issue 15 item 2: a suspended mailbox is refused on every protocol (IMAP, POP3, ManageSieve,
SMTP AUTH, webmail), with its password and with its app passwords, and its open IMAP session ends,
while its mail is still delivered by the real MX, or refused when the control panel says so;
resuming brings everything back."""

import imaplib
import smtplib

import pytest
from django.test import Client

from domains.models import Mailbox
from domains.services import mailbox_resume, mailbox_suspend
from tests.protocol.helpers import imap_login, pop3_login
from tests.protocol.test_login_rules_and_credential_cache import mailbox_of, sieve_login, smtp_login
from tests.protocol.test_smtp import inbox, message

pytestmark = [pytest.mark.protocol, pytest.mark.usefixtures("smtp_isolation")]


def mx_send(smtpd, recipient: str, subject: str) -> None:
    with smtplib.SMTP(smtpd.host, smtpd.ports["smtp_mx"], timeout=30) as mx:
        mx.ehlo("far.example")
        mx.sendmail(
            "friend@far.example", [recipient], message("friend@far.example", recipient, subject=subject)
        )


def test_suspended_mailbox_is_refused_everywhere_its_session_ends_and_its_mail_is_delivered(
    running_mailplane, smtpd, mailbox_factory
):
    address, password = mailbox_factory()
    plane = running_mailplane
    # given an open IMAP session of the mailbox
    session = imaplib.IMAP4_SSL(plane.host, plane.ports["imaps"], ssl_context=plane.ssl_context(), timeout=15)
    session.login(address, password)
    session.select("INBOX")
    # when the Postmaster suspends it, mail still delivered
    mailbox_suspend(mailbox=mailbox_of(address), receive_mail=True)
    # then the open session is ended by the server
    with pytest.raises((imaplib.IMAP4.abort, OSError, EOFError)):
        for _ in range(20):  # kick is asynchronous: a few NOOPs at most
            session.noop()
    # and every protocol refuses the right password
    assert imap_login(plane, address, password)[0] is False
    assert pop3_login(plane, address, password)[0] is False
    assert sieve_login(plane, address, password).startswith(b"NO")
    assert smtp_login(smtpd, address, password)[0] == 535
    web = Client(REMOTE_ADDR="127.0.0.1").post("/webmail/login/", {"login": address, "password": password})
    assert web.status_code != 302
    # while the MX still delivers its mail
    mx_send(smtpd, address, "while suspended")
    # when it is resumed, the same password works again and the mail is there
    mailbox_resume(mailbox=Mailbox.objects.get(pk=mailbox_of(address).pk))
    assert imap_login(plane, address, password)[0] is True
    subjects = [raw.split(b"Subject: ")[1].split(b"\r\n")[0] for raw in inbox(plane, address, password)]
    assert subjects == [b"while suspended"]


def test_suspended_mailbox_refusing_mail_gets_a_5xx_from_the_mx(running_mailplane, smtpd, mailbox_factory):
    address, password = mailbox_factory()
    mailbox_suspend(mailbox=mailbox_of(address), receive_mail=False)
    with pytest.raises((smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError)) as refused:
        mx_send(smtpd, address, "refused")
    error = refused.value
    code = (
        error.recipients[address][0] if isinstance(error, smtplib.SMTPRecipientsRefused) else error.smtp_code
    )
    assert 500 <= code < 600
    mailbox_resume(mailbox=mailbox_of(address))
    assert inbox(running_mailplane, address, password) == []


def test_app_passwords_of_a_suspended_mailbox_are_refused_on_imap_pop3_and_smtp_and_work_after_resume(
    running_mailplane, smtpd, mailbox_factory
):
    from accounts.services import app_password_create

    address, _password = mailbox_factory()
    plane = running_mailplane
    _app, token = app_password_create(user=mailbox_of(address).user, name="Phone")
    # given a phone that logged in with its app password on every protocol (credential caches warm)
    assert imap_login(plane, address, token)[0] is True
    assert pop3_login(plane, address, token)[0] is True
    assert smtp_login(smtpd, address, token)[0] == 235
    # when the mailbox is suspended, the app password is refused everywhere
    mailbox_suspend(mailbox=mailbox_of(address), receive_mail=True)
    assert imap_login(plane, address, token)[0] is False
    assert pop3_login(plane, address, token)[0] is False
    assert smtp_login(smtpd, address, token)[0] == 535
    # and a resume brings the same app password back (suspending revokes nothing)
    mailbox_resume(mailbox=mailbox_of(address))
    assert imap_login(plane, address, token)[0] is True
    assert pop3_login(plane, address, token)[0] is True
    assert smtp_login(smtpd, address, token)[0] == 235
