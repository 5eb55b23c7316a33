from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

from mailsuite.health import health

common_patterns = [
    path("healthz", health, name="health"),
    path("i18n/", include("django.conf.urls.i18n")),
]

urlpatterns = [
    *common_patterns,
    path("", TemplateView.as_view(template_name="index.html"), name="index"),
    path("backoffice/", admin.site.urls),
    path("mailadmin/", include("mailsuite.portal_home", namespace="mailadmin")),
    path("webmail/", include("mailsuite.portal_home", namespace="webmail")),
    path("timemachine/", include("mailsuite.portal_home", namespace="timemachine")),
    path("archive/", include("mailsuite.portal_home", namespace="archive")),
    path("customer/", include("mailsuite.portal_home", namespace="customer")),
]
