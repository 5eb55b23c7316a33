"""Celery tasks of the mail transfer agent (queue "delivery", routed in settings)."""

from celery import shared_task

from mta import services


class DeliveryDeferred(Exception):
    """Raised to make Celery retry a deferred copy (the reason is in the row and Tracemail)."""


@shared_task(name="mta.tasks.deliver_outbound", bind=True, acks_late=True, max_retries=None)
def deliver_outbound(self, recipient_id: int) -> str:
    """One attempt for one queued copy; deferred copies come back after an exponential backoff.
    The maximum age (then a bounce) is enforced by the service, not by a retry count."""
    outcome = services.outbound_attempt(recipient_id=recipient_id)
    if outcome.retry_in is not None and not self.request.is_eager:
        # (Eager mode, development and tests only: Celery would re-run at once, ignoring the
        # countdown; the row stays deferred and outbound_requeue_due picks it up.)
        raise self.retry(exc=DeliveryDeferred(recipient_id), countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="mta.tasks.outbound_requeue_due")
def outbound_requeue_due() -> int:
    return services.outbound_requeue_due()


@shared_task(name="mta.tasks.tracemail_purge")
def tracemail_purge() -> int:
    return services.tracemail_purge()
