import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailsuite.settings")

app = Celery("mailsuite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _resume_interrupted_work(sender=None, **kwargs):
    """A worker that starts resumes the restores a killed one left half-way (snapshots.tasks)."""
    sender.app.send_task("snapshots.tasks.restores_resume")
