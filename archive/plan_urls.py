"""URLs of the Archive portal's plan pages (archive.views.plan), included by archive/urls.py."""

from django.urls import path

from archive.views import plan

plan_urlpatterns = [
    path("plan/", plan.plan_home, name="plan"),
    path("plan/retention/", plan.plan_retention, name="plan_retention"),
    path("plan/import/", plan.plan_import, name="plan_import"),
    path("plan/import/<int:job>/", plan.plan_import_progress, name="plan_import_progress"),
    path("plan/import/<int:job>/status/", plan.plan_import_status, name="plan_import_status"),
]
