"""Host → portal routing.

In production each portal has a host name of its own (settings.PORTAL_HOSTS, e.g.
webmail.example.net); a request for that host is served by the portal's own URLconf at the
root. In development every portal lives under a path prefix of one host (mailsuite.urls).
"""

from django.conf import settings

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
