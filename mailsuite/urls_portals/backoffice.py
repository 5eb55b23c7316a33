from django.contrib import admin
from django.urls import path

from mailsuite.urls import common_patterns

urlpatterns = [*common_patterns, path("", admin.site.urls)]
