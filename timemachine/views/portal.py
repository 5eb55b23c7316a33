"""The Time Machine as a portal of the shared login views: mailbox credentials, 2FA by the
domain's rules (portalkit.session), the domain's branding (portalkit.branding)."""

from django.utils.translation import gettext_lazy as _

from portalkit.branding import login_branding
from portalkit.portal import Portal
from snapshots.selectors import mailbox_of


def _may_enter(user) -> bool:
    return mailbox_of(user=user) is not None


TIMEMACHINE = Portal(
    name="timemachine",
    title=_("Time Machine"),
    may_enter=_may_enter,
    home_url="timemachine:home",
    branding=login_branding("timemachine"),
)
