"""Pytest plugin (registered in tests/conftest.py): the suite's own rspamd for the session.

    def test_x(rspamd, dns_server, smtpd, running_mailplane): ...

- `rspamd_ports`: the two ports (normal worker, controller) reserved for the session; the
  session's Dovecot points its Junk-learning program at this controller (tests/protocol/mailplane.py)
  whether or not rspamd is started.
- `rspamd_server`: rspamd itself, started once per session on those ports (first start ~20 s:
  Hyperscan compiles the rules into a cache kept in /tmp across runs), resolving through the test
  DNS server (tests/protocol/dnsserver.py), Redis database 5, greylisting and Internet-only
  modules off. It fails (never skips) when it cannot start.
- `rspamd`: per test, settings point the MX at it and filtering is on. Every other test runs
  with MAILSUITE_RSPAMD_FILTERING off (tests/conftest.py), as the MX did before.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from mta.rspamd import RspamdConfig, RspamdError, RspamdProcess, rspamd_stat
from tests.protocol.mailplane import free_ports

HS_CACHE_DIR = Path(tempfile.gettempdir()) / "mailsuite-rspamd-hs-cache"
REDIS_URL = "redis://127.0.0.1:6379/5"


@dataclass(frozen=True)
class RspamdPorts:
    normal: int
    controller: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.normal}"

    @property
    def controller_url(self) -> str:
        return f"http://127.0.0.1:{self.controller}"


@pytest.fixture(scope="session")
def rspamd_ports() -> RspamdPorts:
    normal, controller = free_ports(2)
    return RspamdPorts(normal=normal, controller=controller)


@pytest.fixture(scope="session")
def rspamd_server(rspamd_ports, _dns_server_process):
    root = Path(tempfile.mkdtemp(prefix="msrspamd-", dir="/tmp"))
    root.chmod(0o755)
    config = RspamdConfig(
        directory=root,
        bind="127.0.0.1",
        normal_port=rspamd_ports.normal,
        controller_port=rspamd_ports.controller,
        redis_url=REDIS_URL,
        dns_resolver=f"{_dns_server_process.host}:{_dns_server_process.port}",
        greylisting=False,
        network_checks=False,
        hs_cache_dir=HS_CACHE_DIR,
        normal_workers=1,
    )
    process = RspamdProcess(config)
    try:
        process.start(timeout=180)
    except RspamdError as exc:
        pytest.fail(f"rspamd did not start: {exc}", pytrace=False)
    try:
        yield process
    finally:
        process.stop()
        if os.environ.get("MAILSUITE_KEEP_RSPAMD_DIR"):
            print(f"\nrspamd test dir kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def rspamd(rspamd_server, rspamd_ports, settings):
    """The session's rspamd, with the MX filtering through it."""
    settings.RSPAMD_FILTERING = True
    settings.RSPAMD_FAIL_OPEN = False
    settings.RSPAMD_URL = rspamd_ports.url
    settings.RSPAMD_CONTROLLER_URL = rspamd_ports.controller_url
    settings.RSPAMD_PASSWORD = ""
    if not rspamd_server.is_running():
        pytest.fail(f"rspamd is not running:\n{rspamd_server.log_tail()}", pytrace=False)
    return rspamd_server


def learned(ports: RspamdPorts) -> int:
    """How many messages the controller has learned (spam and ham) since it started. Not the
    statfiles' revisions: the controller refreshes those from Redis only every few seconds."""
    return int(rspamd_stat(url=ports.controller_url)["learned"])
