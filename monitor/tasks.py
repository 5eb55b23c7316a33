"""Celery tasks of the Monitor (queue "billing"). Thin: they compute the day and call the
service; the service's DailyNotice rows make every run and retry harmless.

The task keeps its registered name "billing.tasks.send_daily_notices" from before the move: a
message already queued, or a beat schedule of a running deployment, names it so."""

import datetime

from celery import shared_task
from django.utils import timezone

from monitor.notices import daily_notices_send

# Days looked back by each run, so a night the beat or the worker was down is caught up.
CATCH_UP_DAYS = 3


@shared_task(name="billing.tasks.send_daily_notices", bind=True, max_retries=5, default_retry_delay=600)
def send_daily_notices(self, day: str | None = None) -> dict[str, int]:
    """Runs at 00:05 Europe/Rome for the day just ended (and the days before it, for catch-up).
    `day` (ISO date) sends one given day only."""
    if day:
        days = [datetime.date.fromisoformat(day)]
    else:
        today = timezone.localdate()
        days = [today - datetime.timedelta(days=n) for n in range(CATCH_UP_DAYS, 0, -1)]
    total = {"sent": 0, "failed": 0, "skipped": 0}
    for one in days:
        for key, value in daily_notices_send(day=one).items():
            total[key] += value
    if total["failed"]:
        raise self.retry()
    return total
