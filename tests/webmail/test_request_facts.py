"""Every webmail request reads the mailbox, its domain and the 2FA facts fresh (one query, no
cache): an admin's change applies to the user's very next request."""

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

from domains.models import Mailbox
from domains.services import (
    domain_set_require_2fa,
    mailbox_set_password,
    mailbox_update,
)

SUGGEST = "/webmail/compose/suggest/?q=x"  # a webmail view that needs no IMAP


def mailbox_of(user) -> Mailbox:
    return Mailbox.objects.select_related("domain", "user").get(user__username=user.address)


def goes_to_login(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith("/webmail/login/")


def test_deactivated_mailbox_is_out_at_the_next_request(webmail_user):
    user = webmail_user()
    assert user.client.get(SUGGEST).status_code == 200

    mailbox_update(mailbox=mailbox_of(user), is_active=False)

    assert goes_to_login(user.client.get(SUGGEST))
    assert goes_to_login(user.client.get(SUGGEST))  # logged out, not only refused once


def test_deactivated_domain_is_out_at_the_next_request(webmail_user):
    user = webmail_user()
    assert user.client.get(SUGGEST).status_code == 200

    domain = mailbox_of(user).domain
    type(domain).objects.filter(pk=domain.pk).update(is_active=False)

    assert goes_to_login(user.client.get(SUGGEST))


def test_password_changed_by_an_admin_ends_the_session(webmail_user):
    user = webmail_user()
    assert user.client.get(SUGGEST).status_code == 200

    mailbox_set_password(mailbox=mailbox_of(user), password="A-new-Passw0rd-2026", must_change=False)

    assert goes_to_login(user.client.get(SUGGEST))


def test_2fa_required_by_the_domain_applies_at_the_next_request(webmail_user):
    user = webmail_user()
    assert user.client.get(SUGGEST).status_code == 200

    domain_set_require_2fa(domain=mailbox_of(user).domain, required=True)

    assert goes_to_login(user.client.get(SUGGEST))


def test_2fa_required_for_the_mailbox_applies_at_the_next_request(webmail_user):
    user = webmail_user()
    assert user.client.get(SUGGEST).status_code == 200

    mailbox_update(mailbox=mailbox_of(user), require_2fa=True)

    assert goes_to_login(user.client.get(SUGGEST))


def test_a_list_request_costs_four_queries(webmail_user):
    # given a logged-in user whose session was already touched this minute
    user = webmail_user()
    assert user.client.get("/webmail/mail/?f=INBOX").status_code == 200

    # when they open the list again
    with CaptureQueriesContext(connection) as queries:
        response = user.client.get("/webmail/mail/?f=INBOX")

    # then: session, user, mailbox with domain and page size, confirmed-authenticator check
    assert response.status_code == 200
    tables = [re.findall(r'FROM ("\w+")', q["sql"])[-1] for q in queries.captured_queries]  # outer FROM
    assert tables == ['"django_session"', '"accounts_user"', '"domains_mailbox"', '"otp_totp_totpdevice"']


def enrol_totp(user) -> None:
    """The user turns 2FA on from the webmail's settings (their session counts as verified)."""
    import base64

    import pyotp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user.client.post("/webmail/settings/security/", {"op": "start"})
    device = TOTPDevice.objects.get(user__username=user.address, confirmed=False)
    code = pyotp.TOTP(base64.b32encode(device.bin_key).decode()).now()
    assert (
        user.client.post("/webmail/settings/security/", {"op": "confirm", "token": code}).status_code == 200
    )


def test_2fa_reset_by_an_admin_when_the_domain_requires_it_ends_the_session(webmail_user):
    from domains.twofactor import totp_reset

    # given a user with 2FA on, in a domain that requires it
    user = webmail_user()
    enrol_totp(user)
    mailbox = mailbox_of(user)
    domain_set_require_2fa(domain=mailbox.domain, required=True)
    assert user.client.get(SUGGEST).status_code == 200
    # when an admin resets their 2FA (lost phone)
    totp_reset(mailbox.user, actor=None)
    # then the next request goes to the login (to enrol again)
    assert goes_to_login(user.client.get(SUGGEST))


def test_2fa_reset_where_it_is_optional_leaves_the_session_without_2fa(webmail_user):
    from domains.twofactor import totp_reset

    user = webmail_user()
    enrol_totp(user)
    assert user.client.get(SUGGEST).status_code == 200

    totp_reset(mailbox_of(user).user, actor=None)

    assert user.client.get(SUGGEST).status_code == 200
