"""Dovecot against the web app under PRODUCTION settings, end to end.

The web app runs as in docker-compose.yml: gunicorn, MAILSUITE_DEBUG=0, one host name per portal,
MAILSUITE_ALLOWED_HOSTS = those names, the production secrets, pointed at the test database. A
private Dovecot calls its internal endpoints at MAILSUITE_INTERNAL_BASE_URL (plain HTTP on
loopback, as in the compose file). Real IMAP and POP3 clients then prove that brute-force blocking
and the access log work there, and the health check answers as the container's health check
calls it.

(Before the internal host was accepted, every Dovecot call got 400 DisallowedHost, the policy
failed open, and none of this held.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from accounts.models import AccessLogEntry
from tests.protocol.helpers import imap_login, pop3_login
from tests.protocol.mailplane import MailPlane, free_ports, scratch_config

pytestmark = pytest.mark.protocol

BASE_DIR = Path(__file__).resolve().parents[2]
TOKEN = "production-internal-token-" + "k" * 24
PORTAL_HOSTS = {portal: f"{portal}.example.test" for portal in settings.PORTALS}


class WebApp:
    def __init__(self, url: str, log_path: Path):
        self.url, self.log_path = url, log_path

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text()[-4000:]
        except OSError:
            return ""


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60.0) -> None:
    """Until a worker answers /healthz: the master listens before its workers have loaded Django,
    and a first request then waits for that (seconds on a loaded machine), longer than the 3 s
    the container's health check gives it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start answering")


@pytest.fixture
def production_web(transactional_db, tmp_path):
    """gunicorn with production settings on a free loopback port, on the test database."""
    (port,) = free_ports(1)
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}"
    if db.get("PASSWORD"):
        database_url += f":{db['PASSWORD']}"
    database_url += f"@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    bf_prefix = f"test-prod-{uuid.uuid4().hex[:12]}:bf"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILSUITE_")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "mailsuite.settings",
            "MAILSUITE_DEBUG": "0",
            "MAILSUITE_SECRET_KEY": "production-secret-key-" + "s" * 40,
            "MAILSUITE_ALLOWED_HOSTS": ",".join(PORTAL_HOSTS.values()),
            **{f"MAILSUITE_HOST_{portal.upper()}": host for portal, host in PORTAL_HOSTS.items()},
            "MAILSUITE_INTERNAL_API_TOKEN": TOKEN,
            "MAILSUITE_DOVECOT_DB_PASSWORD": "production-dovecot-db-password",
            "MAILSUITE_MAILSTORE_MASTER_PASSWORD": "production-master-password",
            "MAILSUITE_INTERNAL_BASE_URL": f"http://127.0.0.1:{port}",
            "MAILSUITE_DATABASE_URL": database_url,
            "MAILSUITE_DATA_DIR": str(tmp_path / "data"),
            "MAILSUITE_BRUTEFORCE_KEY_PREFIX": bf_prefix,
            # Every client here is 127.0.0.1: only the per-login block is under test.
            "MAILSUITE_BRUTEFORCE_IP_FAILURES": "100000",
            "MAILSUITE_EMAIL_URL": "dummymail://",
            "MAILSUITE_LOG_LEVEL": "WARNING",
        }
    )
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "mailsuite.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--worker-class",
                "gthread",  # as docker-compose.yml runs it
                "--threads",
                "4",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_port(port, process)
        yield WebApp(f"http://127.0.0.1:{port}", log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        client = redis.Redis.from_url(settings.BRUTEFORCE_REDIS_URL)
        keys = list(client.scan_iter(match=f"{bf_prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def production_mailplane(production_web, smtpd):
    """A private Dovecot whose internal_base_url is the production web app."""
    root = Path(tempfile.mkdtemp(prefix="msprod-", dir="/tmp"))
    root.chmod(0o755)
    config = scratch_config(
        root,
        internal_base_url=production_web.url,
        internal_api_token=TOKEN,
        submission_host=f"127.0.0.1:{smtpd.ports['relay']}",
    )
    plane = MailPlane(config=config)
    try:
        plane.start()
        yield plane
    finally:
        plane.stop()
        shutil.rmtree(root, ignore_errors=True)


def rows_for(address: str, count: int, timeout: float = 10.0) -> list[AccessLogEntry]:
    deadline = time.monotonic() + timeout
    while True:
        rows = list(AccessLogEntry.objects.filter(login=address).order_by("id"))
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def http(url: str, *, host: str | None = None, data: bytes | None = None, headers=None):
    """(status, headers, body) without following redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    request = urllib.request.Request(url, data=data, headers=dict(headers or {}))  # noqa: S310
    if host:
        request.add_header("Host", host)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


@pytest.mark.parametrize(
    ("protocol", "login"), [("imap", imap_login), ("pop3", pop3_login)], ids=["imap", "pop3"]
)
def test_wrong_passwords_block_the_login_and_write_the_access_log_under_production_settings(
    production_mailplane, production_web, mailbox_factory, protocol, login
):
    # Given a mailbox, and Dovecot calling the production web app
    address, password = mailbox_factory()

    # When ten wrong passwords are tried, then the right one
    for i in range(10):
        assert login(production_mailplane, address, f"wrong-password-{i}")[0] is False
    assert len(rows_for(address, 10)) == 10, production_web.log_tail()
    ok, text = login(production_mailplane, address, password)

    # Then the right password is refused while blocked, and every attempt has its access-log row
    assert ok is False, text
    rows = rows_for(address, 11)
    assert [(r.protocol, r.result) for r in rows] == [(protocol, "failure")] * 10 + [(protocol, "blocked")]
    assert {r.remote_ip for r in rows} == {"127.0.0.1"}


def test_health_check_answers_as_the_container_calls_it(production_web):
    # docker-compose.yml: urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)
    with urllib.request.urlopen(production_web.url + "/healthz", timeout=3) as response:  # noqa: S310
        assert (response.status, json.loads(response.read())) == (200, {"status": "ok"})


def test_quota_warning_endpoint_answers_dovecot_on_the_internal_host(production_web):
    status, _, body = http(
        production_web.url + "/internal/quota-warning/",
        data=json.dumps({"user": "nobody@example.test", "level": 80}).encode(),
        headers={"X-API-Key": TOKEN, "Content-Type": "application/json"},
    )
    assert (status, json.loads(body)) == (200, {"sent": False})


def test_the_internal_host_serves_nothing_but_the_internal_endpoints(production_web):
    status, _, _ = http(production_web.url + "/")
    assert status == 400
    status, _, _ = http(production_web.url + "/webmail/")
    assert status == 400


def test_portals_redirect_to_https_but_internal_endpoints_and_health_do_not(production_web):
    status, headers, _ = http(production_web.url + "/login/", host=PORTAL_HOSTS["webmail"])
    assert (status, headers["Location"]) == (301, "https://webmail.example.test/login/")
    status, _, _ = http(production_web.url + "/healthz")
    assert status == 200
    status, _, _ = http(production_web.url + "/internal/auth-policy/?command=allow", data=b"{}",
                        headers={"X-API-Key": TOKEN, "Content-Type": "application/json"})
    assert status == 200


@pytest.mark.parametrize(("reject_on_fail", "logged_in"), [(True, False), (False, True)],
                         ids=["fail-closed", "fail-open"])
def test_when_the_policy_server_cannot_be_reached_the_fail_mode_decides(
    mailbox_factory, smtpd, reject_on_fail, logged_in
):
    # Given a Dovecot whose policy server (the web app) is down: nothing listens on its port
    (closed_port,) = free_ports(1)
    root = Path(tempfile.mkdtemp(prefix="msprod-", dir="/tmp"))
    root.chmod(0o755)
    config = scratch_config(
        root,
        internal_base_url=f"http://127.0.0.1:{closed_port}",
        auth_policy_reject_on_fail=reject_on_fail,
        submission_host=f"127.0.0.1:{smtpd.ports['relay']}",
    )
    plane = MailPlane(config=config)
    address, password = mailbox_factory()
    try:
        plane.start()
        # When the mailbox logs in with the right password
        # Then fail-closed (the default) refuses it, fail-open lets Dovecot check the password alone
        assert imap_login(plane, address, password)[0] is logged_in, plane.log_tail()
        assert pop3_login(plane, address, password)[0] is logged_in, plane.log_tail()
    finally:
        plane.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_the_default_fail_mode_is_closed_and_renders_reject_on_fail(settings):
    from mailstore.dovecot import config_from_settings

    assert settings.AUTH_POLICY_FAIL_MODE == "closed"
    assert config_from_settings().auth_policy_reject_on_fail is True
