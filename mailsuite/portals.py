"""Host → portal routing.

In production each portal has a host name of its own (settings.PORTAL_HOSTS, e.g.
webmail.example.net); a request for that host is served by the portal's own URLconf at the
root. In development every portal lives under a path prefix of one host (mailsuite.urls).
"""

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http.request import split_domain_port

from core.internal_endpoints import is_internal_path

PORTAL_URLCONFS = {
    "mailadmin": "mailsuite.urls_portals.mailadmin",
    "webmail": "mailsuite.urls_portals.webmail",
    "timemachine": "mailsuite.urls_portals.timemachine",
    "archive": "mailsuite.urls_portals.archive",
    "customer": "mailsuite.urls_portals.customer",
    "backoffice": "mailsuite.urls_portals.backoffice",
}


def portal_for_host(host: str) -> str | None:
    host = host.split(":", 1)[0].lower()
    for portal, portal_host in settings.PORTAL_HOSTS.items():
        if portal_host and portal_host.lower() == host:
            return portal
    return None


class PortalHostMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        portal = portal_for_host(request.get_host())
        request.portal = portal
        if portal:
            request.urlconf = PORTAL_URLCONFS[portal]
        return self.get_response(request)


class InternalHostMiddleware:
    """The internal host name (settings.INTERNAL_ONLY_HOSTS, from MAILSUITE_INTERNAL_BASE_URL)
    is in ALLOWED_HOSTS so that Dovecot and the health check reach /internal/ and /healthz under
    production settings; any other path on it is refused as Django refuses an unknown host."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        internal_hosts = getattr(settings, "INTERNAL_ONLY_HOSTS", ())
        if internal_hosts and not is_internal_path(request.path_info):
            domain, _port = split_domain_port(request._get_raw_host())
            if domain in internal_hosts:
                raise DisallowedHost(f"Host {domain!r} serves only the internal endpoints and /healthz.")
        return self.get_response(request)
