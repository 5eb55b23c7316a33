from django.urls import path

from portalkit.branding import brand_urlpatterns
from portalkit.placeholder import placeholder_view

app_name = "timemachine"

urlpatterns = [path("", placeholder_view("timemachine"), name="home"), *brand_urlpatterns()]
