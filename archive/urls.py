from django.urls import path

from archive.plan_urls import plan_urlpatterns
from core.portals import portal as portal_spec
from domains.models import Mailbox
from domains.selectors import is_active_delegate
from portalkit.branding import brand_urlpatterns, login_branding
from portalkit.placeholder import placeholder_view
from portalkit.portal import Portal
from portalkit.urls import login_urlpatterns

app_name = "archive"


# A minimal login for the plan pages until the portal's own (built beside this) is merged: the
# owner of an archived mailbox, or a Delegate.
def _may_enter(user) -> bool:
    owner = Mailbox.objects.filter(
        user=user, is_active=True, domain__is_active=True, archive_plan__isnull=False
    ).exists()
    return owner or is_active_delegate(user=user)


_spec = portal_spec("archive")
ARCHIVE = Portal(
    name=_spec.name,
    title=_spec.title,
    may_enter=_may_enter,
    home_url="archive:plan",
    branding=login_branding("archive"),
)

urlpatterns = [
    path("", placeholder_view("archive"), name="home"),
    *brand_urlpatterns(),
    *login_urlpatterns(ARCHIVE),
    *plan_urlpatterns,
]
