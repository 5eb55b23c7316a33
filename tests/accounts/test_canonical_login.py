"""One canonical login (issue 9, item 7): every IDNA-equivalent spelling of an address reaches the
same mailbox AND shares its brute-force budget, on SMTP AUTH, the auth-policy endpoint Dovecot
calls, and the web portals; the access log shows the canonical login."""

import json

import pytest

from accounts.logins import canonical_login
from accounts.models import AccessLogEntry
from domains.mailauth import authenticate_mail
from tests.factories import MAILBOX_PASSWORD

pytestmark = pytest.mark.django_db

IP = "198.51.100.7"
ADDRESS = "mario@example.test"
# Ten spellings of mario@example.test (the threshold in tests/accounts/conftest.py is ten).
SPELLINGS = [
    "ｍａｒｉｏ@ｅｘａｍｐｌｅ.ｔｅｓｔ",  # full-width letters
    "ｍａｒｉｏ＠ｅｘａｍｐｌｅ．ｔｅｓｔ",  # full-width '@' and full stop
    "ma\u00adrio@exam\u00adple.test",  # soft hyphens
    "mario@example\u3002test",  # ideographic full stop
    "mario@example\uff61test",  # half-width ideographic full stop
    "mar\u200bio@ex\u200dample.test",  # zero-width space and joiner
    "MARIO@EXAMPLE.TEST.",  # case and a trailing dot
    "mArIo@ExAmPlE.tEsT",  # mixed case
    "\u2060mario@example.test\u200e",  # word joiner, left-to-right mark
    "Mario@Example\uff0eTest\u3002",  # full-width full stop, trailing ideographic one
]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_spelling_has_the_same_canonical_form(spelling):
    assert canonical_login(spelling) == ADDRESS


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("anna@BÜCHER.test", "anna@xn--bcher-kva.test"),
        ("anna@xn--bcher-kva.test.", "anna@xn--bcher-kva.test"),
        ("anna@XN--BCHER-KVA.TEST", "anna@xn--bcher-kva.test"),
        ("anna@bu\u0308cher.test", "anna@xn--bcher-kva.test"),  # decomposed ü
        ("Manager.Acme", "manager.acme"),
        ("  ｂｏｓｓ\u00ad  ", "boss"),
        ("x@a..b", "x@a..b"),  # IDNA refuses it: the mapped form, never an exception
        ("", ""),
    ],
)
def test_unicode_domains_punycode_and_plain_logins(spelling, canonical):
    assert canonical_login(spelling) == canonical
    assert canonical_login(canonical) == canonical  # idempotent


def test_smtp_auth_spellings_share_one_budget_and_reach_the_mailbox(mailbox):
    # given ten wrong passwords, each with another spelling of the address
    for n, spelling in enumerate(SPELLINGS):
        result = authenticate_mail(spelling, f"wrong-{n}", protocol="submission", remote_ip=f"192.0.2.{n}",
                                   tls=True)
        assert (result.ok, result.reason, result.mailbox) == (False, "bad_password", mailbox)
    # when the right password comes with the plain spelling, from yet another address
    result = authenticate_mail(ADDRESS, MAILBOX_PASSWORD, protocol="submission", remote_ip="203.0.113.9",
                               tls=True)
    # then the login is blocked: the ten spellings were one login
    assert (result.ok, result.reason) == (False, "blocked")
    # and every access-log row shows the canonical login
    assert set(AccessLogEntry.objects.values_list("login", flat=True)) == {ADDRESS}
    assert AccessLogEntry.objects.filter(user=mailbox.user).count() == 11


def test_smtp_auth_with_a_full_width_spelling_and_the_right_password_succeeds(mailbox):
    result = authenticate_mail(SPELLINGS[1], MAILBOX_PASSWORD, protocol="smtp", remote_ip=IP, tls=True)
    assert (result.ok, result.mailbox) == (True, mailbox)


def _policy(client, command, payload):
    return client.post(f"/internal/auth-policy/?command={command}", data=json.dumps(payload),
                       content_type="application/json", headers={"X-API-Key": "test-internal-key"},
                       REMOTE_ADDR="127.0.0.1")


def test_auth_policy_counts_every_spelling_as_one_login(client, settings, mailbox):
    settings.INTERNAL_API_TOKEN = "test-internal-key"
    # given Dovecot's reports of ten failures, each with another spelling, from ten addresses
    for n, spelling in enumerate(SPELLINGS):
        response = _policy(client, "report", {"login": spelling, "remote": f"192.0.2.{n}", "protocol": "imap",
                                              "success": False, "pwhash": f"{n:04x}"})
        assert response.json()["status"] == 0
    # when Dovecot asks about the plain spelling from a fresh address
    response = _policy(client, "allow", {"login": ADDRESS, "remote": "203.0.113.9", "protocol": "imap"})
    # then it is refused
    assert response.json()["status"] == -1
    rows = AccessLogEntry.objects.all()
    assert {(r.login, r.user_id, r.domain_id) for r in rows} == {
        (ADDRESS, mailbox.user_id, mailbox.domain_id)}
    assert rows.count() == 10
