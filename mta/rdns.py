"""The MX client's host name as a filter wants it: forward-confirmed reverse DNS (FCrDNS).

rspamd does no PTR lookup of its own: the MTA passes the verified name (its `Hostname` request
header) or "unknown", and "unknown" scores as spam (RDNS_NONE, HFILTER_HOSTNAME_UNKNOWN). A
name counts only when one of its A/AAAA records is the client's address again (a PTR record alone
is whatever the address's owner wrote). Answers are kept for a few minutes per process.
"""

from __future__ import annotations

import ipaddress
import threading
import time

import dns.exception
import dns.resolver
import dns.reversename
from django.conf import settings

UNKNOWN = "unknown"
CACHE_SECONDS = 600
LIFETIME = 3.0  # seconds for each lookup, all tries included

_cache: dict[tuple[str, str], tuple[str, float]] = {}
_lock = threading.Lock()


def resolver() -> dns.resolver.Resolver:
    """A resolver for settings.DNS_RESOLVER ("host:port"), or the system's."""
    if not settings.DNS_RESOLVER:
        return dns.resolver.Resolver()
    host, _, port = settings.DNS_RESOLVER.rpartition(":")
    if not host:
        host, port = settings.DNS_RESOLVER, "53"
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = [host]
    res.port = int(port)
    return res


def client_hostname(ip: str | None) -> str:
    """The FCrDNS name of `ip` (lower case, no final dot), or "unknown"."""
    if not ip:
        return UNKNOWN
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return UNKNOWN
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    key = (settings.DNS_RESOLVER, str(address))
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
    if hit and hit[1] > now:
        return hit[0]
    name = _lookup(address)
    with _lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[key] = (name, now + CACHE_SECONDS)
    return name


def _lookup(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    res = resolver()
    try:
        ptrs = res.resolve(dns.reversename.from_address(str(address)), "PTR", lifetime=LIFETIME)
    except (dns.exception.DNSException, OSError):
        return UNKNOWN
    rtype = "A" if address.version == 4 else "AAAA"
    for ptr in list(ptrs)[:5]:
        name = ptr.target.to_text().rstrip(".").lower()
        try:
            forward = res.resolve(name, rtype, lifetime=LIFETIME)
        except (dns.exception.DNSException, OSError):
            continue
        if any(ipaddress.ip_address(r.address) == address for r in forward):
            return name
    return UNKNOWN


def cache_clear() -> None:
    with _lock:
        _cache.clear()
