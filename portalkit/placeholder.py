"""The first page of a portal that is not built yet (Time Machine, Archive): the design system's
shell with the portal's title and the domain's brand (?domain= or the host name, as on the
login pages)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from core.portals import portal
from portalkit.branding import login_branding


def placeholder_view(name: str):
    spec = portal(name)
    branding = login_branding(spec.namespace)

    def view(request: HttpRequest) -> HttpResponse:
        return TemplateResponse(request, "portal_home.html", {"portal": spec, **branding(request)})

    return view
