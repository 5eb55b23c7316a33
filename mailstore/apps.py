from django.apps import AppConfig


class MailstoreConfig(AppConfig):
    name = "mailstore"
