from django.apps import AppConfig


class CustomerConfig(AppConfig):
    """The customer area portal (the billing Monitor); it reads through billing's selectors."""

    name = "customer"
