from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    """The base app: what every other app may use (audit records, CSV export, local-day ranges,
    the internal-endpoint guard, the client address, admin base classes). It imports no other app
    of the project."""

    name = "core"
    verbose_name = _("Core")
