from django.urls import path

from domains.models import Mailbox
from portalkit.branding import brand_urlpatterns, login_branding
from portalkit.placeholder import placeholder_view
from portalkit.portal import Portal
from portalkit.urls import login_urlpatterns
from timemachine.restore_urls import restore_urlpatterns

app_name = "timemachine"


def _may_enter(user) -> bool:
    return Mailbox.objects.filter(user=user, is_active=True, domain__is_active=True).exists()


# The login until the portal's own (browse) lands; the restore pages need timemachine:login.
TIMEMACHINE = Portal(
    name="timemachine",
    title="Time Machine",
    may_enter=_may_enter,
    home_url="timemachine:home",
    branding=login_branding("timemachine"),
)

urlpatterns = [
    path("", placeholder_view("timemachine"), name="home"),
    *login_urlpatterns(TIMEMACHINE),
    *brand_urlpatterns(),
    *restore_urlpatterns,
]
