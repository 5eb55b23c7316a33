"""A domain's brand on any portal: its company name and the URL of its logo.

Every portal that shows a brand (webmail, Time Machine, Archive) mounts `brand_urlpatterns()`
in its own URLconf, so the logo is served by the portal's own `<portal>:brand_logo` URL and
resolves on that portal's host in production (a host per portal), not only on the webmail's.

- `brand_for(domain, portal=...)`: the Brand of a domain (pages after login).
- `login_branding(portal)`: the `Portal.branding` callable of the shared login pages (the
  domain comes from ?domain= or the host name).
- `logo`: the view that serves the re-encoded PNG (domains.services.branding stores it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import FileResponse, Http404, HttpRequest
from django.urls import URLPattern, path, reverse
from django.views.decorators.cache import cache_control

from domains.models import Domain


@dataclass(frozen=True)
class Brand:
    name: str  # the company name, or the domain name when there is none
    logo_url: str  # "" when the domain has no logo


def brand_for(domain: Domain, *, portal: str) -> Brand:
    """The brand of `domain` as `portal` shows it (the logo served by that portal's URL)."""
    logo_url = reverse(f"{portal}:brand_logo", args=[domain.name]) if domain.brand_logo else ""
    return Brand(name=domain.brand_name or domain.name, logo_url=logo_url)


def brand_domain(request: HttpRequest) -> Domain | None:
    """The domain whose brand a login page shows: ?domain=<name>, or the host name
    (mail.example.com or webmail.example.com → example.com; example.com itself)."""
    names = []
    if request.GET.get("domain"):
        names.append(request.GET["domain"].strip().lower())
    host = request.get_host().split(":", 1)[0].lower()
    names += [host, host.split(".", 1)[1] if host.count(".") >= 2 else host]
    for name in names:
        domain = Domain.objects.filter(name=name, is_active=True).first()
        if domain is not None:
            return domain
    return None


def login_branding(portal: str) -> Callable[[HttpRequest], dict[str, Any]]:
    """The branding of `portal`'s login pages (Portal.branding): brand_domain, brand_name,
    brand_logo_url in the template's context, nothing when no domain is recognised."""

    def branding(request: HttpRequest) -> dict[str, Any]:
        domain = brand_domain(request)
        if domain is None:
            return {}
        brand = brand_for(domain, portal=portal)
        return {"brand_domain": domain, "brand_name": brand.name, "brand_logo_url": brand.logo_url}

    return branding


@cache_control(public=True, max_age=300)
def logo(request: HttpRequest, domain_name: str) -> FileResponse:
    domain = Domain.objects.filter(name=domain_name, is_active=True).first()
    if domain is None or not domain.brand_logo:
        raise Http404
    try:
        handle = domain.brand_logo.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    return FileResponse(handle, content_type="image/png")


def brand_urlpatterns() -> list[URLPattern]:
    """The logo URL a portal mounts to show brands (named brand_logo in its namespace)."""
    return [path("brand/<str:domain_name>/logo.png", logo, name="brand_logo")]
