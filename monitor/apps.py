from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MonitorConfig(AppConfig):
    """The billing Monitor of the customer area and the end-of-day notices: reads of what a
    customer's mail costs (billing's prices and ledger over domains' mailboxes)."""

    name = "monitor"
    verbose_name = _("Monitor")
