from django.urls import include, path

from mailsuite.urls import common_patterns

urlpatterns = [*common_patterns, path("", include("customer.urls", namespace="customer"))]
