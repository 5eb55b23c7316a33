from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

from mailsuite.health import health

common_patterns = [
    path("healthz", health, name="health"),
    path("i18n/", include("django.conf.urls.i18n")),
    # Endpoints Dovecot and the project's own services call (auth policy, events); loopback only.
    path("internal/", include("internal.urls", namespace="internal")),
]

# Development: every portal under a path prefix of one host. Production: PortalHostMiddleware
# serves each portal's own host from mailsuite/urls_portals/<portal>.py at the root.
urlpatterns = [
    *common_patterns,
    path("", TemplateView.as_view(template_name="index.html"), name="index"),
    path("backoffice/", admin.site.urls),
    path("mailadmin/", include("mailadmin.urls", namespace="mailadmin")),
    path("webmail/", include("webmail.urls", namespace="webmail")),
    path("timemachine/", include("timemachine.urls", namespace="timemachine")),
    path("archive/", include("archive.urls", namespace="archive")),
    path("customer/", include("customer.urls", namespace="customer")),
]
