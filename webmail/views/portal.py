"""The webmail as a portal of the shared login views; its branding is portalkit.branding's."""

from django.utils.translation import gettext_lazy as _

from domains.models import Mailbox
from portalkit.branding import login_branding
from portalkit.portal import Portal


def _may_enter(user) -> bool:
    return Mailbox.objects.filter(user=user, is_active=True, domain__is_active=True).exists()


WEBMAIL = Portal(
    name="webmail",
    title=_("Webmail"),
    may_enter=_may_enter,
    home_url="webmail:home",
    branding=login_branding("webmail"),
)
