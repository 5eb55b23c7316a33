"""Customer area (mounted at /customer/ with namespace "customer", or at the root of its own
host). Staff pages for the price list and the end-of-day notices are in the back office."""

from django.urls import path

from core.portals import portal as portal_spec
from customer import views
from portalkit.portal import Portal
from portalkit.urls import login_urlpatterns

app_name = "customer"

_spec = portal_spec("customer")
portal = Portal(name=_spec.name, title=_spec.title, may_enter=views.may_enter, home_url=_spec.home)

urlpatterns = [
    path("", views.home, name="home"),
    path("mail/monitor/", views.monitor, name="monitor"),
    path("mail/monitor/data/", views.monitor_data, name="monitor_data"),
    *login_urlpatterns(portal),
]
