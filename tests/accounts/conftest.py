import uuid

import pytest
import redis

from tests.factories import DomainFactory, MailboxFactory


@pytest.fixture(autouse=True)
def bruteforce_prefix(settings):
    """Brute-force counters of this test under a key prefix of their own, deleted afterwards
    (the shared Redis DB is never flushed)."""
    prefix = f"test:{uuid.uuid4().hex}:bf"
    settings.BRUTEFORCE_KEY_PREFIX = prefix
    settings.BRUTEFORCE_REDIS_URL = "redis://127.0.0.1:6379/0"
    settings.BRUTEFORCE_LOGIN_FAILURES = 10
    settings.BRUTEFORCE_IP_FAILURES = 30
    settings.BRUTEFORCE_WINDOW_SECONDS = 900
    settings.BRUTEFORCE_BLOCK_SECONDS = 900
    yield prefix
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0", decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def redis_down(settings):
    """Point the brute-force counters at a port nothing listens on."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.BRUTEFORCE_REDIS_URL = f"redis://127.0.0.1:{port}/0"


@pytest.fixture
def domain(db):
    return DomainFactory(name="example.test")


@pytest.fixture
def mailbox(domain):
    return MailboxFactory(domain=domain, local_part="mario")
