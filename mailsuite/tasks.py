import logging

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

logger = logging.getLogger(__name__)


@shared_task(name="mailsuite.tasks.heartbeat")
def heartbeat() -> str:
    """Proves beat and worker are alive: stores the time of the last run in the cache."""
    now = timezone.now().isoformat()
    cache.set("mailsuite:heartbeat", now, timeout=None)
    return now
