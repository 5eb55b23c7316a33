from django.urls import path, register_converter

from portalkit.branding import brand_urlpatterns
from portalkit.urls import login_urlpatterns
from timemachine.restore_urls import restore_urlpatterns
from timemachine.views import TIMEMACHINE, browse
from timemachine.views.common import DayConverter

app_name = "timemachine"

# <day:day>: a snapshot day, YYYY-MM-DD (timemachine.views.common.DayConverter); the restore's
# URLs (timemachine.views.restore) take the same.
register_converter(DayConverter, "day")

urlpatterns = [
    # Before the shared login views: the Time Machine's logout also closes its IMAP connections.
    path("logout/", browse.logout, name="logout"),
    *login_urlpatterns(TIMEMACHINE),
    *brand_urlpatterns(),
    path("", browse.home, name="home"),
    path("d/<day:day>/", browse.day, name="day"),
    path("d/<day:day>/export/", browse.export, name="export"),
    path("d/<day:day>/message/<int:uid>/", browse.message, name="message"),
    path("d/<day:day>/message/<int:uid>/body/", browse.body, name="message_body"),
    path("d/<day:day>/message/<int:uid>/part/<int:index>/", browse.part, name="message_part"),
    path("d/<day:day>/message/<int:uid>/source/", browse.source, name="message_source"),
    path("d/<day:day>/message/<int:uid>/eml/", browse.eml, name="message_eml"),
    *restore_urlpatterns,
]
