from django.apps import AppConfig


class MtaConfig(AppConfig):
    name = "mta"
