from django.apps import AppConfig


class InternalConfig(AppConfig):
    """The endpoints Dovecot and the suite's own processes call under /internal/ (loopback and the
    internal API token only): thin views over domain services."""

    name = "internal"
