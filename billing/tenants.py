"""The tables billing prices, reached by name.

Billing sits below domains (domains calls billing's charges inside its own transactions), so it
imports no domains code: its foreign keys are string references ("domains.Customer") and the
counts it prices (a customer's mailboxes by tier, its sites' voice channels) are read through
the models Django's registry returns for those names. What a mailbox *is* stays domains'
business; billing only counts rows."""

from django.apps import apps
from django.db.models import Model


def customer_model() -> type[Model]:
    return apps.get_model("domains", "Customer")


def site_model() -> type[Model]:
    return apps.get_model("domains", "Site")


def mailbox_model() -> type[Model]:
    return apps.get_model("domains", "Mailbox")
