from django.urls import path
from django.views.generic import TemplateView

from accounts.web.decorators import portal_login_required
from accounts.web.urls import login_urlpatterns
from webmail.views import WEBMAIL, brand_logo

app_name = "webmail"

urlpatterns = [
    *login_urlpatterns(WEBMAIL),
    path("brand/<str:domain_name>/logo.png", brand_logo, name="brand_logo"),
    # Placeholder until the webmail lands; already behind the webmail's own login.
    path(
        "",
        portal_login_required("webmail", login_url="webmail:login")(
            TemplateView.as_view(template_name="portal_home.html")
        ),
        name="home",
    ),
]
