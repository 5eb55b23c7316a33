"""Placeholder landing page of a portal whose own app has not landed yet: says what the portal is."""

from django.urls import path
from django.views.generic import TemplateView

app_name = "portal"

urlpatterns = [path("", TemplateView.as_view(template_name="portal_home.html"), name="home")]
