from django.contrib.admin.apps import AdminConfig


class BackofficeAdminConfig(AdminConfig):
    """INSTALLED_APPS names this instead of django.contrib.admin, so `admin.site` (and every
    @admin.register) is the back office's site with the portals' login (backoffice/site.py).
    A module of its own: INSTALLED_APPS imports it before the models are ready."""

    default_site = "backoffice.site.BackofficeSite"
