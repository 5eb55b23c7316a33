from django.apps import AppConfig


class TimemachineConfig(AppConfig):
    name = "timemachine"
