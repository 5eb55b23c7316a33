"""Pytest plugin (registered in tests/conftest.py) for the SMTP tests in tests/mta and
tests/protocol/test_smtp.py: the project's SMTP server in a background thread on free ports, a
sink SMTP server standing in for the outbound relay, per-test Redis prefixes and spool dirs.

The server runs in threads: tests that talk to it use `transactional_db` (rows committed).
`smtp_isolation` gives a test its own send-limit and brute-force Redis prefixes, spool dir and
eager Celery; tests/mta uses it for every test, others request it."""

import smtplib
import socket
import uuid
from dataclasses import dataclass, field

import pytest
import redis
from aiosmtpd.controller import Controller

from mailstore.tls import client_context_for, ensure_certificate, server_context
from mta.server import SMTPService


@pytest.fixture
def sendlimit_prefix(settings):
    """Send-limit counters under a prefix of their own, deleted afterwards (the shared Redis DB
    is never flushed)."""
    prefix = f"test:{uuid.uuid4().hex}:sl"
    settings.SENDLIMIT_KEY_PREFIX = prefix
    settings.SENDLIMIT_REDIS_URL = "redis://127.0.0.1:6379/0"
    yield prefix
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def bruteforce_prefix(settings):
    """SMTP AUTH failures are counted by accounts.bruteforce: under a prefix of this test."""
    prefix = f"test:{uuid.uuid4().hex}:bf"
    settings.BRUTEFORCE_KEY_PREFIX = prefix
    url = settings.BRUTEFORCE_REDIS_URL
    yield prefix
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def spool_dir(settings, tmp_path):
    settings.SPOOL_DIR = tmp_path / "spool"
    return settings.SPOOL_DIR


@pytest.fixture
def celery_eager():
    """Outbound tasks run inline (no shared broker queue touched by tests)."""
    from mailsuite.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


@pytest.fixture
def redis_down(settings):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.SENDLIMIT_REDIS_URL = f"redis://127.0.0.1:{port}/0"


# The relay sink ---------------------------------------------------------------------------------


@dataclass
class SinkMessage:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class SinkHandler:
    """Accepts everything except recipients whose local part starts with "reject" (550 5.1.1)
    or "tempfail" (451 4.3.0)."""

    messages: list[SinkMessage] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 <%s>: no such user here" % address
        if local.startswith("tempfail"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            SinkMessage(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 2.0.0 sink accepted"


@pytest.fixture(scope="session")
def relay_sink_server():
    handler = SinkHandler()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def relay_sink(relay_sink_server, settings):
    """The sink, emptied, with settings.OUTBOUND_RELAY pointing at it."""
    handler, port = relay_sink_server
    handler.messages.clear()
    settings.OUTBOUND_RELAY = f"127.0.0.1:{port}"
    return handler


# The project's SMTP server ---------------------------------------------------------------------


@dataclass
class RunningSMTP:
    service: SMTPService
    host: str
    cert_file: str

    @property
    def ports(self) -> dict[str, int]:
        return self.service.ports

    def client_context(self):
        return client_context_for(self.cert_file)

    def mx(self) -> smtplib.SMTP:
        return smtplib.SMTP(self.host, self.ports["smtp_mx"], timeout=30)

    def smtps(self, login: str | None = None, password: str | None = None) -> smtplib.SMTP_SSL:
        client = smtplib.SMTP_SSL(self.host, self.ports["smtps"], context=self.client_context(), timeout=30)
        if login is not None:
            client.login(login, password)
        return client

    def submission(self, login: str | None = None, password: str | None = None) -> smtplib.SMTP:
        client = smtplib.SMTP(self.host, self.ports["submission"], timeout=30)
        client.starttls(context=self.client_context())
        if login is not None:
            client.login(login, password)
        return client


@pytest.fixture(scope="session")
def smtpd(django_db_setup, django_db_blocker, tmp_path_factory):
    tls = tmp_path_factory.mktemp("smtpd-tls")
    cert, key = tls / "cert.pem", tls / "key.pem"
    ensure_certificate(cert, key, hostname="localhost")
    service = SMTPService(
        host="127.0.0.1",
        ports={"smtp_mx": 0, "relay": 0, "smtps": 0, "submission": 0},
        tls_context=server_context(cert, key),
        hostname="mx.test.localhost",
        max_workers=4,
        max_message_size=200_000,
    )
    service.start()
    yield RunningSMTP(service=service, host="127.0.0.1", cert_file=str(cert))
    with django_db_blocker.unblock():
        service.stop()


@pytest.fixture
def smtp_isolation(sendlimit_prefix, bruteforce_prefix, spool_dir, celery_eager):
    from mta.routing import route_cache_clear

    route_cache_clear()  # RCPT answers cached by an earlier test's server calls
    return sendlimit_prefix
