"""core.client_address.client_ip: the one answer to "who is the client"."""

import pytest
from django.test import RequestFactory

from core.client_address import client_ip


def ip(remote: str, forwarded: str | None = None) -> str | None:
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_ip(RequestFactory().get("/", **extra))


@pytest.fixture
def proxies(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24", "2001:db8:ffff::/48"]


def test_without_trusted_proxies_the_peer_is_the_client(settings):
    settings.TRUSTED_PROXIES = []
    assert ip("10.0.0.5", "203.0.113.9") == "10.0.0.5"


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("10.0.0.5", "203.0.113.9", "203.0.113.9"),  # one trusted proxy
        ("10.0.0.5", "203.0.113.9, 10.0.0.7", "203.0.113.9"),  # two trusted proxies in a row
        ("10.0.0.5", "1.2.3.4, 203.0.113.9", "203.0.113.9"),  # left of the real client: the client's own text
        ("10.0.0.5", "10.0.0.9, 10.0.0.8", "10.0.0.9"),  # only proxies: the farthest one
        ("10.0.0.5", "", "10.0.0.5"),  # no header: the proxy itself
        ("10.0.0.5", "203.0.113.9, garbage", "10.0.0.5"),  # garbage stops the walk at the last good hop
        ("10.0.0.5", "2001:db8::1", "2001:db8::1"),
        ("10.0.0.5", "[2001:db8::1]:4711", "2001:db8::1"),
        ("10.0.0.5", "203.0.113.9:4711", "203.0.113.9"),
        ("::ffff:10.0.0.5", "203.0.113.9", "203.0.113.9"),  # IPv4-mapped peer
        ("2001:db8:ffff::1", "203.0.113.9", "203.0.113.9"),
        ("198.51.100.1", "203.0.113.9", "198.51.100.1"),  # untrusted peer: header ignored
        ("", "203.0.113.9", None),
    ],
)
def test_forwarded_for_is_walked_from_the_right_past_trusted_proxies(proxies, remote, forwarded, expected):
    assert ip(remote, forwarded) == expected


def test_every_caller_uses_the_one_function():
    """No other module reads REMOTE_ADDR or X-Forwarded-For to find the client."""
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        ["git", "grep", "-n", "-E", "REMOTE_ADDR|HTTP_X_FORWARDED_FOR|def client_ip", "--", "*.py",
         ":!tests/", ":!bench/"],
        cwd=root, capture_output=True, text=True, check=False,
    )
    files = {line.split(":", 1)[0] for line in result.stdout.splitlines()}
    assert files <= {
        "core/client_address.py", "core/internal_endpoints.py", "mailsuite/settings.py"
    }
