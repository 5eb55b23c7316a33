"""Dovecot's auth policy endpoint: JSON in and out, loopback and API key only."""

import itertools
import json
import statistics
import time

import pytest
from django.urls import reverse

from accounts.models import AccessLogEntry
from domains.models import Mailbox

pytestmark = pytest.mark.django_db

URL = "/internal/auth-policy/"
KEY = "test-internal-key"
PWHASHES = (f"{n:03x}" for n in itertools.count())


@pytest.fixture(autouse=True)
def api_key(settings):
    settings.INTERNAL_API_TOKEN = KEY


def post(client, command, payload, *, key=KEY, remote="127.0.0.1", raw=None):
    headers = {"X-API-Key": key} if key is not None else {}
    body = raw if raw is not None else json.dumps(payload)
    return client.post(f"{URL}?command={command}", data=body, content_type="application/json",
                       headers=headers, REMOTE_ADDR=remote)


def attempt(login="mario@example.test", remote="198.51.100.7", **extra):
    """One attempt as Dovecot sends it; each with a different password hash unless given."""
    extra.setdefault("pwhash", next(PWHASHES))
    return {"login": login, "remote": remote, "device_id": "", "protocol": "imap",
            "session_id": "s1", **extra}


def test_url_is_the_contract_path():
    assert reverse("internal:auth_policy") == URL


def test_allow_answers_status_0_when_nothing_is_blocked(client, mailbox):
    response = post(client, "allow", attempt())

    assert response.status_code == 200
    assert response.json() == {"status": 0, "msg": ""}
    assert AccessLogEntry.objects.count() == 0


@pytest.mark.parametrize(
    ("key", "remote"),
    [(None, "127.0.0.1"), ("wrong-key", "127.0.0.1"), (KEY, "192.0.2.1"), (KEY, "10.0.0.5")],
)
def test_without_the_key_or_from_outside_loopback_is_forbidden(client, mailbox, key, remote):
    response = post(client, "report", attempt(success=False), key=key, remote=remote)

    assert response.status_code == 403
    assert AccessLogEntry.objects.count() == 0


def test_ipv6_loopback_is_accepted(client, mailbox):
    assert post(client, "allow", attempt(), remote="::1").json() == {"status": 0, "msg": ""}


def test_empty_token_setting_refuses_everyone(client, settings):
    settings.INTERNAL_API_TOKEN = ""

    assert post(client, "allow", attempt(), key="").status_code == 403


def test_get_is_not_allowed(client):
    response = client.get(f"{URL}?command=allow", headers={"X-API-Key": KEY}, REMOTE_ADDR="127.0.0.1")

    assert response.status_code == 405


def test_malformed_json_is_a_bad_request(client):
    assert post(client, "allow", None, raw="{not json").status_code == 400
    assert post(client, "allow", None, raw="[1, 2]").status_code == 400


def test_failed_report_logs_and_counts_until_allow_refuses(client, mailbox):
    for _ in range(10):
        assert post(client, "report", attempt(success=False, policy_reject=False)).json()["status"] == 0

    response = post(client, "allow", attempt(remote="192.0.2.99"))

    assert response.json()["status"] == -1
    assert response.json()["msg"] != ""
    rows = AccessLogEntry.objects.all()
    assert [(r.login, r.protocol, r.result, r.remote_ip, r.tls, r.domain_id) for r in rows[:1]] == [
        ("mario@example.test", "imap", "failure", "198.51.100.7", False, mailbox.domain_id)]
    assert rows.count() == 10


def test_successful_report_logs_success_with_tls_and_updates_last_login(client, mailbox):
    response = post(client, "report", attempt(success=True, policy_reject=False, tls=True))

    assert response.json() == {"status": 0, "msg": ""}
    row = AccessLogEntry.objects.get()
    assert (row.result, row.tls, row.user, row.domain) == ("success", True, mailbox.user, mailbox.domain)
    assert Mailbox.objects.get(pk=mailbox.pk).last_login_at == row.at


def test_reports_of_the_same_password_hash_count_once(client, mailbox):
    for _ in range(12):
        post(client, "report", attempt(success=False, pwhash="5a1"))

    assert post(client, "allow", attempt()).json()["status"] == 0
    assert AccessLogEntry.objects.filter(result="failure").count() == 12


def test_report_without_success_field_is_a_failure(client, mailbox):
    post(client, "report", attempt())

    assert AccessLogEntry.objects.get().result == "failure"


def test_policy_reject_is_logged_as_blocked_and_not_counted(client, mailbox):
    for _ in range(12):
        post(client, "report", attempt(success=False, policy_reject=True))

    assert AccessLogEntry.objects.filter(result="blocked").count() == 12
    assert post(client, "allow", attempt()).json()["status"] == 0


def test_managesieve_service_is_logged_as_sieve_and_lmtp_is_ignored(client, mailbox):
    post(client, "report", attempt(protocol="sieve", success=True))
    post(client, "report", attempt(protocol="lmtp", success=True))

    assert list(AccessLogEntry.objects.values_list("protocol", flat=True)) == ["sieve"]


def test_master_user_logins_of_our_own_services_are_not_logged(client, mailbox):
    post(client, "report", attempt(success=False, master="mailsuite"))

    assert AccessLogEntry.objects.count() == 0


def test_redis_down_refuses_by_default_fail_closed_and_still_logs(client, mailbox, redis_down, settings):
    # The default (MAILSUITE_AUTH_POLICY_FAIL_MODE=closed): a check that cannot be made refuses.
    assert settings.AUTH_POLICY_FAIL_MODE == "closed"
    response = post(client, "allow", attempt()).json()
    assert response["status"] == -1
    assert response["msg"] != ""
    assert post(client, "report", attempt(success=False)).json() == {"status": 0, "msg": ""}
    assert AccessLogEntry.objects.get().result == "failure"


def test_redis_down_allows_when_fail_open_and_still_logs(client, mailbox, redis_down, settings):
    settings.AUTH_POLICY_FAIL_MODE = "open"
    assert post(client, "allow", attempt()).json() == {"status": 0, "msg": ""}
    assert post(client, "report", attempt(success=False)).json() == {"status": 0, "msg": ""}
    assert AccessLogEntry.objects.get().result == "failure"


@pytest.mark.parametrize("forwarded", ["127.0.0.1", "198.51.100.9"])
def test_a_request_forwarded_by_a_trusted_proxy_on_loopback_is_not_dovecot(
    client, mailbox, settings, forwarded
):
    # Given a reverse proxy on loopback that forwards the public's requests
    settings.TRUSTED_PROXIES = ["127.0.0.1/32"]
    # When a client behind it calls the internal endpoint with the right key
    response = client.post(
        f"{URL}?command=allow", data=json.dumps(attempt()), content_type="application/json",
        headers={"X-API-Key": KEY, "X-Forwarded-For": f"{forwarded}, 203.0.113.50"}, REMOTE_ADDR="127.0.0.1",
    )
    # Then it is refused: the client is 203.0.113.50, not loopback
    assert response.status_code == 403


def test_allow_is_fast(client, mailbox):
    post(client, "allow", attempt())  # warm-up (URL resolver, Redis connection)
    timings = []
    for _ in range(50):
        start = time.perf_counter()
        post(client, "allow", attempt())
        timings.append(time.perf_counter() - start)

    median_ms = statistics.median(timings) * 1000
    print(f"auth policy allow: median {median_ms:.2f} ms through the test client")
    assert median_ms < 5
