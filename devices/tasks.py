"""Celery tasks of the devices app."""

from celery import shared_task

from devices.services import sent_messages_forget


@shared_task(name="devices.tasks.sent_messages_forget")
def sent_messages_forget_task() -> int:
    """Daily: forget old SendMail ClientIds (devices.services.SENT_MESSAGE_KEEP)."""
    return sent_messages_forget()
