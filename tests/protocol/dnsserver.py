"""A real authoritative DNS server on loopback for the tests (dnslib), serving test zones.

Tests that check SPF, DKIM, DMARC or the control panel's DNS page point their resolver (rspamd's
`dns.nameserver`, dnspython through settings.DNS_RESOLVER) at it instead of the Internet, which
this machine cannot reach. It answers over UDP and TCP on 127.0.0.1, on a free high port.

    def test_x(dns_server):
        dns_server.set("acme.test", "TXT", "v=spf1 ip4:127.0.0.1 -all")
        dns_server.set("_dmarc.acme.test", "TXT", "v=DMARC1; p=reject")
        dns_server.set("acme.test", "MX", "10 mx.acme.test.")
        dns_server.address  # ("127.0.0.1", port)

Records are per test (the fixture clears them at the end). A name with no record answers
NXDOMAIN; a name that has records of other types answers NOERROR with no answer (as a real
authoritative server does), which SPF and DMARC evaluation tell apart.
"""

from __future__ import annotations

import socket
import threading

import pytest
from dnslib import QTYPE, RCODE, RR
from dnslib.server import BaseResolver, DNSServer


def _free_port() -> int:
    # One port free for both UDP and TCP.
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            if port > 10000:
                return port
    raise RuntimeError("no free port for the test DNS server")


def _norm(name: str) -> str:
    return name.rstrip(".").lower() + "."


def _zone_line(name: str, rtype: str, value: str, ttl: int) -> str:
    if rtype == "TXT":
        # A TXT value longer than 255 bytes (a 2048-bit DKIM key) is split in strings.
        chunks = [value[i : i + 255] for i in range(0, len(value), 255)] or [""]
        value = " ".join('"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks)
    return f"{name} {ttl} IN {rtype} {value}"


class TestDNS(BaseResolver):
    __test__ = False  # not a test class for pytest

    def __init__(self):
        self._records: dict[str, list[tuple[str, str, int]]] = {}
        self._lock = threading.Lock()
        self.port = _free_port()
        self.host = "127.0.0.1"
        self.queries: list[tuple[str, str]] = []
        self._servers = [
            DNSServer(self, address=self.host, port=self.port, tcp=tcp, logger=_Quiet())
            for tcp in (False, True)
        ]

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def start(self) -> TestDNS:
        for server in self._servers:
            server.start_thread()
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
            server.server.server_close()

    # The records -----------------------------------------------------------------------------
    def set(self, name: str, rtype: str, *values: str, ttl: int = 60) -> None:
        """Replace `name`'s records of `rtype` with `values` (none: remove them)."""
        key = _norm(name)
        rtype = rtype.upper()
        with self._lock:
            kept = [r for r in self._records.get(key, []) if r[0] != rtype]
            kept += [(rtype, v, ttl) for v in values]
            if kept:
                self._records[key] = kept
            else:
                self._records.pop(key, None)

    def add(self, name: str, rtype: str, value: str, ttl: int = 60) -> None:
        with self._lock:
            self._records.setdefault(_norm(name), []).append((rtype.upper(), value, ttl))

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self.queries.clear()

    # dnslib's resolver interface -----------------------------------------------------------------
    def resolve(self, request, handler):
        reply = request.reply()
        reply.header.aa = 1
        qname = str(request.q.qname)
        qtype = QTYPE[request.q.qtype]
        key = _norm(qname)
        with self._lock:
            self.queries.append((key, qtype))
            records = list(self._records.get(key, []))
        if not records:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for rtype, value, ttl in records:
            if rtype == qtype or (qtype == "ANY"):
                reply.add_answer(*RR.fromZone(_zone_line(key, rtype, value, ttl)))
            elif rtype == "CNAME":
                reply.add_answer(*RR.fromZone(_zone_line(key, rtype, value, ttl)))
        return reply


class _Quiet:
    """dnslib's logger interface, silent."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


@pytest.fixture(scope="session")
def _dns_server_process():
    server = TestDNS().start()
    yield server
    server.stop()


@pytest.fixture
def dns_server(_dns_server_process, settings):
    """The test DNS server, empty, with settings.DNS_RESOLVER pointing at it."""
    _dns_server_process.clear()
    settings.DNS_RESOLVER = f"{_dns_server_process.host}:{_dns_server_process.port}"
    yield _dns_server_process
    _dns_server_process.clear()
