"""The back office's URLs: the admin site (backoffice.site.BackofficeSite) with the portals' login
steps, in Django admin's own namespace "admin" (the admin reverses "admin:…" everywhere)."""

from django.contrib import admin

app_name = "admin"

urlpatterns = admin.site.get_urls()
