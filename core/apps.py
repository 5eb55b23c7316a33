from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The base app: what every other app may use (no domain models)."""

    name = "core"
