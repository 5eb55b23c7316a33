"""Who is the client of a web request: the one place that answers it.

Behind a reverse proxy every request comes from the proxy's address. settings.TRUSTED_PROXIES
names the proxies (addresses or networks, empty by default). Only when the peer (REMOTE_ADDR) is
one of them is X-Forwarded-For believed, and it is walked from the right: each trusted proxy
appended the address it received the request from, so the first address from the right that is
not a trusted proxy is the client. Anything to its left was written by the client and proves
nothing. A malformed entry stops the walk at the last address known good.

Every caller uses client_ip(): the brute-force counters and the access log of web logins, and
the address the webmail passes to Dovecot (IMAP ID x-originating-ip).

ProxyHeadersMiddleware removes X-Forwarded-For and X-Forwarded-Proto from requests whose peer is
not a trusted proxy, so Django's SECURE_PROXY_SSL_HEADER (set only when there are trusted
proxies) cannot be forged by a client that reaches the web port directly.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

FORWARDED_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO")
_CACHE_ATTRIBUTE = "_mailsuite_client_ip"


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(proxy.strip(), strict=False) for proxy in proxies if proxy.strip())


def trusted_proxy_networks() -> tuple[Network, ...]:
    return _networks(tuple(settings.TRUSTED_PROXIES))


def parse_address(value: str | None) -> Address | None:
    """An IP address as a peer or a proxy writes it ("192.0.2.1", "[2001:db8::1]", with a port
    or not); IPv4-mapped IPv6 addresses become IPv4. None when it is not an address."""
    text = (value or "").strip().strip('"')
    if not text:
        return None
    if text.startswith("["):  # [v6] or [v6]:port
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, networks: tuple[Network, ...]) -> bool:
    return any(address in network for network in networks)


def peer_is_trusted_proxy(request: HttpRequest) -> bool:
    peer = parse_address(request.META.get("REMOTE_ADDR"))
    return peer is not None and _trusted(peer, trusted_proxy_networks())


def _resolve(request: HttpRequest) -> str | None:
    peer = parse_address(request.META.get("REMOTE_ADDR"))
    if peer is None:
        return None
    networks = trusted_proxy_networks()
    if not networks or not _trusted(peer, networks):
        return str(peer)
    client = peer
    hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    for hop in reversed(hops):
        address = parse_address(hop)
        if address is None:
            break
        client = address
        if not _trusted(address, networks):
            break
    return str(client)


def client_ip(request: HttpRequest) -> str | None:
    """The address of the client that made the request (see the module's notes)."""
    try:
        return getattr(request, _CACHE_ATTRIBUTE)
    except AttributeError:
        pass
    address = _resolve(request)
    try:
        setattr(request, _CACHE_ATTRIBUTE, address)
    except AttributeError:  # an object that takes no attributes: just don't cache
        pass
    return address


class ProxyHeadersMiddleware:
    """Drops X-Forwarded-For / X-Forwarded-Proto unless the peer is a trusted proxy."""

    # Async-capable: under ASGI a sync-only middleware would hold a thread for a whole waiting
    # ActiveSync Ping. __call__ returns get_response's coroutine then, which Django awaits.
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if not peer_is_trusted_proxy(request):
            for header in FORWARDED_HEADERS:
                request.META.pop(header, None)
        return self.get_response(request)
