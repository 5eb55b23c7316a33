"""Web logins behind a reverse proxy (MAILSUITE_TRUSTED_PROXIES): the counters and the access
log see each real client, and a client that is not a trusted proxy cannot pick its address."""

import pytest
from django.test import Client

from accounts.models import AccessLogEntry
from tests.panel.conftest import POSTMASTER_PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/mailadmin/login/"
PROXY = "10.0.0.5"


@pytest.fixture
def behind_proxy(settings):
    settings.TRUSTED_PROXIES = [PROXY]
    settings.BRUTEFORCE_LOGIN_FAILURES = 10
    settings.BRUTEFORCE_IP_FAILURES = 30


def via_proxy(client_address: str) -> Client:
    """A browser at `client_address`, reaching the web app through the proxy (which appends the
    address it received the request from, as nginx's $proxy_add_x_forwarded_for does)."""
    return Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=client_address)


def test_thirty_failures_from_one_client_behind_the_proxy_do_not_lock_out_another(world, behind_proxy):
    # Given an attacker behind the proxy who tries 30 wrong passwords over many logins
    attacker = via_proxy("203.0.113.10")
    for i in range(30):
        response = attacker.post(LOGIN, {"login": f"user{i}@acme.test", "password": "wrong"})
        assert response.status_code == 400
    # (the attacker's address is now blocked, for any login)
    assert attacker.post(LOGIN, {"login": world.postmaster.user.username, "password": "x"}).status_code == 429

    # When another user behind the same proxy logs in with the right password
    response = via_proxy("203.0.113.20").post(
        LOGIN, {"login": world.postmaster.user.username, "password": POSTMASTER_PASSWORD}
    )

    # Then they get in, and the access log shows each real client
    assert response.status_code == 302, response.content[:300]
    assert AccessLogEntry.objects.filter(remote_ip="203.0.113.10").count() == 31
    assert list(
        AccessLogEntry.objects.filter(login=world.postmaster.user.username)
        .order_by("pk")
        .values_list("remote_ip", "result")
    ) == [("203.0.113.10", "blocked"), ("203.0.113.20", "success")]
    assert not AccessLogEntry.objects.filter(remote_ip=PROXY).exists()


def test_a_forged_forwarded_for_from_an_untrusted_peer_is_ignored(world, behind_proxy):
    # Given a client that reaches the web port directly and writes its own X-Forwarded-For,
    # a new address for every attempt
    for i in range(30):
        forger = Client(REMOTE_ADDR="198.51.100.66", HTTP_X_FORWARDED_FOR=f"203.0.113.{i + 1}")
        forger.post(LOGIN, {"login": f"user{i}@acme.test", "password": "wrong"})

    # Then every attempt counted against its real address, which is now blocked
    forger = Client(REMOTE_ADDR="198.51.100.66", HTTP_X_FORWARDED_FOR="203.0.113.200")
    response = forger.post(LOGIN, {"login": world.postmaster.user.username, "password": POSTMASTER_PASSWORD})
    assert response.status_code == 429
    assert set(AccessLogEntry.objects.values_list("remote_ip", flat=True)) == {"198.51.100.66"}


def test_a_client_writing_its_own_forwarded_for_through_the_proxy_gets_its_real_address(
    world, behind_proxy
):
    # The proxy appends the real address to what the client sent: the walk from the right stops there
    client = via_proxy("127.0.0.1, 198.51.100.1, 203.0.113.30")
    client.post(LOGIN, {"login": world.postmaster.user.username, "password": "wrong"})
    assert AccessLogEntry.objects.get().remote_ip == "203.0.113.30"


def test_forwarded_proto_is_believed_from_the_trusted_proxy_only(world, behind_proxy, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    # From the proxy: https, so no redirect, and the login is logged as TLS
    via = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.40", HTTP_X_FORWARDED_PROTO="https")
    assert via.get(LOGIN).status_code == 200
    via.post(LOGIN, {"login": world.postmaster.user.username, "password": "wrong"})
    assert AccessLogEntry.objects.get().tls is True
    # From anyone else the header is dropped: plain HTTP, redirected to HTTPS
    direct = Client(REMOTE_ADDR="198.51.100.67", HTTP_X_FORWARDED_PROTO="https")
    response = direct.get(LOGIN)
    assert (response.status_code, response["Location"]) == (301, f"https://testserver{LOGIN}")
