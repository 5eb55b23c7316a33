from django.urls import path
from django.views.generic import TemplateView

from internal.auth_policy import auth_policy
from internal.quota import quota_warning

app_name = "internal"

urlpatterns = [
    path("", TemplateView.as_view(template_name="portal_home.html"), name="home"),
    path("auth-policy/", auth_policy, name="auth_policy"),
    path("quota-warning/", quota_warning, name="quota_warning"),
]
