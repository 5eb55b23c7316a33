"""Webmail portal. For now only its branded login page (the webmail itself comes later)."""

from django.http import FileResponse, Http404, HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import cache_control

from domains.models import Domain, Mailbox
from portalkit.portal import Portal


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


def branding(request: HttpRequest) -> dict:
    domain = brand_domain(request)
    if domain is None:
        return {}
    return {
        "brand_domain": domain,
        "brand_name": domain.brand_name or domain.name,
        "brand_logo_url": reverse("webmail:brand_logo", args=[domain.name]) if domain.brand_logo else "",
    }


def _may_enter(user) -> bool:
    return Mailbox.objects.filter(user=user, is_active=True, domain__is_active=True).exists()


WEBMAIL = Portal(
    name="webmail", title=_("Webmail"), may_enter=_may_enter, home_url="webmail:home", branding=branding
)


@cache_control(public=True, max_age=300)
def brand_logo(request: HttpRequest, domain_name: str) -> FileResponse:
    domain = Domain.objects.filter(name=domain_name, is_active=True).first()
    if domain is None or not domain.brand_logo:
        raise Http404
    try:
        handle = domain.brand_logo.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    return FileResponse(handle, content_type="image/png")
