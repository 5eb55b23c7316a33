"""The endpoints Dovecot and the container's health check call: /internal/… and /healthz.

They are reached over plain HTTP on loopback at settings.INTERNAL_BASE_URL, whose host name is
accepted for these paths only (mailsuite.portals.InternalHostMiddleware) and which the TLS
redirect leaves alone (SECURE_REDIRECT_EXEMPT). /internal/ answers only a caller that is on
loopback (the peer, and the client when a trusted proxy forwarded the request) and presents the
internal API token.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest

from core.client_address import client_ip, parse_address

INTERNAL_PREFIX = "/internal/"
HEALTH_PATH = "/healthz"


def is_internal_path(path: str) -> bool:
    return path.startswith(INTERNAL_PREFIX) or path == HEALTH_PATH


def internal_caller_allowed(request: HttpRequest) -> bool:
    """True for a loopback caller presenting the internal API token."""
    peer = parse_address(request.META.get("REMOTE_ADDR"))
    client = parse_address(client_ip(request))
    if peer is None or client is None or not (peer.is_loopback and client.is_loopback):
        return False
    token = settings.INTERNAL_API_TOKEN
    given = request.headers.get("X-API-Key", "")
    return bool(token) and hmac.compare_digest(given.encode(), token.encode())
