from django.core.paginator import Paginator
from django.http import HttpRequest
from django.urls import reverse

from core.portals import portal
from domains.selectors import domains_for, is_active_delegate
from portalkit.branding import login_branding
from portalkit.decorators import portal_login_required
from portalkit.portal import Portal

PAGE_SIZE = 50


def _may_enter(user) -> bool:
    """Postmasters and Managers of an active domain; Delegates (for My account only: every
    domain page refuses them through domain_for)."""
    return domains_for(user=user).exists() or is_active_delegate(user=user)


_SPEC = portal("mailadmin")
MAILADMIN = Portal(
    name=_SPEC.name,
    title=_SPEC.title,
    may_enter=_may_enter,
    home_url=_SPEC.home,
    branding=login_branding("mailadmin"),  # the domain of ?domain= or of the host name
)

panel_view = portal_login_required("mailadmin", login_url="mailadmin:login")


def paginate(request: HttpRequest, queryset, per_page: int = PAGE_SIZE):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def mailbox_url(domain, mailbox) -> str:
    return reverse("mailadmin:mailbox", args=[domain.name, mailbox.pk])
