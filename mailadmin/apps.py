from django.apps import AppConfig


class MailadminConfig(AppConfig):
    """The control panel portal: views, forms, URLs and template tags (templates/mailadmin/).
    It calls the domain apps' services and selectors; no domain app imports it."""

    name = "mailadmin"
