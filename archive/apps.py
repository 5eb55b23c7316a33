from django.apps import AppConfig


class ArchivePortalConfig(AppConfig):
    """The Archive portal (views, URLs). The domain code is the `archiving` app (label "archive")."""

    name = "archive"
    label = "archive_portal"
