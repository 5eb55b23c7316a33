"""The portals of the suite, declared once, and the absolute URL of a named view of a portal.

Every other list of portals is derived from REGISTRY: the root URLconf (development: one host, a
path prefix per portal), the URLconf of each portal's own host and the host middleware
(mailsuite/urls.py, mailsuite/portals.py), settings.PORTALS and settings.PORTAL_HOSTS (from each
portal's host variable), the index page.

Development and production differ per portal by one setting: a portal whose host variable
(MAILSUITE_HOST_<PORTAL>) is empty is served under its prefix on any allowed host, and its links
start at MAILSUITE_PUBLIC_BASE_URL; a portal with a host name of its own is served at the root of
that host, over HTTPS, and its links are https://<host>/<path>. Links that leave the process (the
emails the suite sends) are built by portal_url, never by joining a base URL and a path by hand.

A module without Django models and without imports of other apps: settings.py imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class PortalSpec:
    name: str  # also the access-log protocol of its logins
    urlconf: str  # module with the portal's urlpatterns and app_name
    namespace: str  # URL namespace the portal's views are reversed in
    prefix: str  # path prefix in development (the root URLconf), with its trailing slash
    host_setting: str  # environment variable holding the production host name
    home: str  # URL name of the portal's first page
    title: Promise  # display name
    description: Promise  # one line on the index page


REGISTRY: tuple[PortalSpec, ...] = (
    PortalSpec(
        name="mailadmin",
        urlconf="mailadmin.urls",
        namespace="mailadmin",
        prefix="mailadmin/",
        host_setting="MAILSUITE_HOST_MAILADMIN",
        home="mailadmin:home",
        title=_("Control panel"),
        description=_("postmasters and managers run their domains"),
    ),
    PortalSpec(
        name="webmail",
        urlconf="webmail.urls",
        namespace="webmail",
        prefix="webmail/",
        host_setting="MAILSUITE_HOST_WEBMAIL",
        home="webmail:home",
        title=_("Webmail"),
        description=_("read, search and send mail"),
    ),
    PortalSpec(
        name="timemachine",
        urlconf="timemachine.urls",
        namespace="timemachine",
        prefix="timemachine/",
        host_setting="MAILSUITE_HOST_TIMEMACHINE",
        home="timemachine:home",
        title=_("Mail Time Machine"),
        description=_("the mailbox as it was on each of the last 15 days"),
    ),
    PortalSpec(
        name="archive",
        urlconf="archive.urls",
        namespace="archive",
        prefix="archive/",
        host_setting="MAILSUITE_HOST_ARCHIVE",
        home="archive:home",
        title=_("Archive"),
        description=_("a read-only copy of every message sent and received"),
    ),
    PortalSpec(
        name="customer",
        urlconf="customer.urls",
        namespace="customer",
        prefix="customer/",
        host_setting="MAILSUITE_HOST_CUSTOMER",
        home="customer:home",
        title=_("Customer area"),
        description=_("billing monitor"),
    ),
    PortalSpec(
        name="backoffice",
        urlconf="backoffice.urls",
        namespace="admin",  # Django's admin reverses "admin:…" itself
        prefix="backoffice/",
        host_setting="MAILSUITE_HOST_BACKOFFICE",
        home="admin:index",
        title=_("Back office"),
        description=_("provider staff"),
    ),
)

_BY_NAME = {spec.name: spec for spec in REGISTRY}


def portal(name: str) -> PortalSpec:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise LookupError(f"No portal named {name!r}; the portals are {', '.join(_BY_NAME)}.") from None


def portal_host(name: str) -> str:
    """The portal's production host name, or "" when it is served under its prefix."""
    portal(name)
    return (settings.PORTAL_HOSTS.get(name) or "").strip().lower()


def portal_for_host(host: str) -> PortalSpec | None:
    """The portal whose own host `host` is (a port is ignored), or None."""
    from django.http.request import split_domain_port

    host, _port = split_domain_port(host)
    if not host:
        return None
    for spec in REGISTRY:
        if portal_host(spec.name) == host:
            return spec
    return None


def portal_url(
    name: str,
    viewname: str,
    *,
    args: Sequence[Any] | None = None,
    kwargs: dict[str, Any] | None = None,
    query: dict[str, str] | None = None,
) -> str:
    """Absolute URL of the view `viewname` (e.g. "mailadmin:mailbox") of the portal `name`.

    Development (no host for the portal): MAILSUITE_PUBLIC_BASE_URL + the path under the root
    URLconf, prefix included (http://127.0.0.1:8000/mailadmin/...). Production: https://<the
    portal's host>/ + the same path without the prefix, as the portal's own host serves it.
    Reversed in the root URLconf whatever request is running (a link built while the back office
    serves a request is still a control-panel link). A view of another portal is refused."""
    from django.urls import reverse  # not at import time: settings.py imports this module

    spec = portal(name)
    path = reverse(viewname, urlconf=settings.ROOT_URLCONF, args=args, kwargs=kwargs)
    prefix = "/" + spec.prefix
    if not path.startswith(prefix):
        raise ValueError(f"{viewname!r} is not a view of the portal {name!r} ({path} is not under {prefix}).")
    suffix = f"?{urlencode(query)}" if query else ""
    host = portal_host(name)
    if host:
        return f"https://{host}/{path[len(prefix):]}{suffix}"
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{path}{suffix}"


def portal_index_links() -> list[dict[str, Any]]:
    """The index page's list: each portal's home, as a path when it is served under its prefix
    here, as an absolute URL when it has a host of its own."""
    from django.urls import reverse

    links = []
    for spec in REGISTRY:
        href = portal_url(spec.name, spec.home) if portal_host(spec.name) else reverse(
            spec.home, urlconf=settings.ROOT_URLCONF
        )
        links.append({"name": spec.name, "href": href, "title": spec.title, "description": spec.description})
    return links
