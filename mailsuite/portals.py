"""Host → portal routing (the portals are declared in core.portals.REGISTRY).

In production each portal has a host name of its own (settings.PORTAL_HOSTS, e.g.
webmail.example.net); a request for that host is served by the portal's own URLconf at the
root. In development every portal lives under a path prefix of one host (mailsuite.urls).
"""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http.request import split_domain_port

from core.internal_endpoints import is_internal_path
from core.portals import portal_for_host


class PortalHostMiddleware:
    """A request for the own host of a portal (settings.PORTAL_HOSTS, from core.portals.REGISTRY)
    is served by that portal's host URLconf (mailsuite.urls.HOST_URLCONFS); request.portal is the
    portal's name, or None on any other host (the root URLconf: every portal under its prefix)."""

    # Async-capable: under ASGI a sync-only middleware would hold a thread for a whole waiting
    # ActiveSync Ping. __call__ returns get_response's coroutine then, which Django awaits.
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        from mailsuite.urls import HOST_URLCONFS  # the URLconf imports every portal's views

        spec = portal_for_host(request.get_host())
        request.portal = spec.name if spec else None
        if spec:
            request.urlconf = HOST_URLCONFS[spec.name]
        return self.get_response(request)


class InternalHostMiddleware:
    """The internal host name (settings.INTERNAL_ONLY_HOSTS, from MAILSUITE_INTERNAL_BASE_URL)
    is in ALLOWED_HOSTS so that Dovecot and the health check reach /internal/ and /healthz under
    production settings; any other path on it is refused as Django refuses an unknown host."""

    # Async-capable: under ASGI a sync-only middleware would hold a thread for a whole waiting
    # ActiveSync Ping. __call__ returns get_response's coroutine then, which Django awaits.
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        internal_hosts = settings.INTERNAL_ONLY_HOSTS
        if internal_hosts and not is_internal_path(request.path_info):
            domain, _port = split_domain_port(request._get_raw_host())
            if domain in internal_hosts:
                raise DisallowedHost(f"Host {domain!r} serves only the internal endpoints and /healthz.")
        return self.get_response(request)
