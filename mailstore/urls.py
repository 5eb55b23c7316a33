from django.urls import path
from django.views.generic import TemplateView

app_name = "internal"

urlpatterns = [path("", TemplateView.as_view(template_name="portal_home.html"), name="home")]
