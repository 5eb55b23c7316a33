from django.urls import path

from portalkit.branding import brand_urlpatterns
from portalkit.placeholder import placeholder_view

app_name = "archive"

urlpatterns = [path("", placeholder_view("archive"), name="home"), *brand_urlpatterns()]
