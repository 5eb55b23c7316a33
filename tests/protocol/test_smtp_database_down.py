"""PostgreSQL unreachable: the MX answers 4xx (the sender keeps the message and retries) and never
250; once the database is back the retry delivers exactly one copy.

The fault is real: the test database stops accepting connections (ALLOW_CONNECTIONS false) and
every session but the test's own is terminated, so the SMTP server's worker threads, Dovecot's
SQL userdb and the auth-policy endpoint all lose it."""

import time

import psycopg
import pytest
from django.db import connection

from tests.protocol.test_smtp_hostile import SENDER, inbox

pytestmark = pytest.mark.usefixtures("smtp_isolation", "dovecot_restarted_after")


@pytest.fixture
def dovecot_restarted_after(running_mailplane):
    """The outage also broke the connections of Dovecot's SQL pool, and each would fail one
    lookup (a 451 to some later sender, as in production after a PostgreSQL restart). Later
    tests start from a Dovecot with fresh connections."""
    yield
    running_mailplane.stop()
    running_mailplane.start()


def send(smtpd, recipient: str, data: bytes) -> tuple[int, bytes]:
    """One MX transaction; the first reply that is not a success (RCPT or DATA), or DATA's."""
    with smtpd.mx() as client:
        client.ehlo("far.example")
        code, text = client.mail(SENDER)
        if code != 250:
            return code, text
        code, text = client.rcpt(recipient)
        if code != 250:
            return code, text
        return client.data(data)


def _admin() -> psycopg.Connection:
    """A session on the maintenance database: a database cannot lock itself out."""
    params = connection.get_connection_params()
    params["dbname"] = "postgres"
    return psycopg.connect(**params, autocommit=True)


def _cut_database(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        own_pid = cursor.fetchone()[0]
    with _admin() as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> %s",
            [name, own_pid],
        )


def _restore_database(name: str) -> None:
    with _admin() as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


def test_database_down_answers_4xx_and_the_retry_delivers_one_copy(
    running_mailplane, smtpd, transactional_db, mailbox_factory
):
    from mta.routing import route_cache_clear

    # given a hosted mailbox
    mario, password = mailbox_factory()
    name = connection.settings_dict["NAME"]
    data = b"From: friend@far.example\r\nSubject: while the database was down\r\n\r\nhello\r\n"
    # when PostgreSQL becomes unreachable
    _cut_database(name)
    try:
        route_cache_clear()
        code, text = send(smtpd, mario, data)
        # then the MX answers a temporary failure, never 250
        assert 400 <= code < 500, (code, text)
    finally:
        _restore_database(name)
    # and when the sender retries after the database is back (Dovecot's SQL driver reconnects
    # with a back-off of its own, so a retry may still get 4xx for a few seconds, as a real
    # sender's queue would see), exactly one copy arrives
    deadline = time.monotonic() + 60
    attempts = []
    while True:
        code, text = send(smtpd, mario, data)
        attempts.append((code, text))
        if code == 250 or not 400 <= code < 500 or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert code == 250, attempts
    messages = inbox(running_mailplane, mario, password)
    assert len(messages) == 1
    assert messages[0].endswith(data)
    # and no later sender pays for a worker thread's connection broken by the outage: every
    # thread reconnects before its next call (more messages than the server has threads)
    later = [send(smtpd, mario, data.replace(b"hello", b"later %d" % i))[0] for i in range(12)]
    assert later == [250] * 12


def _probe(smtpd, recipient: str) -> int:
    """MAIL and RCPT only: the RCPT reply (an unknown address is never cached, so it asks the
    database every time)."""
    with smtpd.mx() as client:
        client.ehlo("far.example")
        client.mail(SENDER)
        return client.rcpt(recipient)[0]


def test_after_the_database_comes_back_no_worker_thread_answers_from_a_dead_connection(
    smtpd, transactional_db
):
    from concurrent.futures import ThreadPoolExecutor

    from tests.factories import DomainFactory

    # given every worker thread of the SMTP server holds a database connection (parallel clients)
    unknown = f"nobody@{DomainFactory().name}"
    with ThreadPoolExecutor(max_workers=12) as pool:
        assert set(pool.map(lambda _: _probe(smtpd, unknown), range(48))) == {550}
    name = connection.settings_dict["NAME"]
    # when PostgreSQL drops every connection and refuses new ones for a moment
    _cut_database(name)
    try:
        assert _probe(smtpd, unknown) == 451
    finally:
        _restore_database(name)
    # then, once it is back, no later sender gets a 451 from a connection the outage broke
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda _: _probe(smtpd, unknown), range(32)))
    assert replies == [550] * 32
