"""Time Machine restores: the confirmation's figures, the request (and its one charge), the run.

The merge is mailstore's (mailstore.restore): non-destructive and idempotent, so the run needs
no bookkeeping of its own to be safe. What this module adds:
- one run per mailbox at a time: a PostgreSQL advisory lock (session level) held by the run;
  a worker killed with -9 loses its connection and so the lock, at once;
- progress saved after every batch (state, counts) for the portal's progress bar;
- resumption: `restores_resume` (beat, every minute, and at worker start) queues every request
  still queued or running; a run that finds the lock taken leaves at once, so queueing one
  that is alive costs nothing;
- the user's email when it is done.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import connection, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from billing.models import LedgerEvent
from billing.selectors import price_list_on
from billing.services import charge_intervention
from mailstore.errors import MailstoreError, OverQuota
from mailstore.restore import Progress, RestorePlan, restore_merge, restore_plan
from snapshots.models import RestoreRequest, RestoreScope, RestoreState
from snapshots.selectors import snapshots_of

if TYPE_CHECKING:
    from domains.models import Mailbox

logger = logging.getLogger(__name__)

_LOCK_NAMESPACE = 0x7E57  # advisory-lock key space of restores: (namespace, mailbox id)
MAX_ATTEMPTS = 30  # runs interrupted by mail-store errors (resumed every minute): then failed


@dataclass(frozen=True)
class RestoreWhat:
    day: datetime.date
    scope: str
    folder: str = ""
    uids: tuple[int, ...] = ()


def restore_price(*, day: datetime.date | None = None) -> Decimal:
    """The price of a restore in the price list in force (billing's; zero without one)."""
    price_list = price_list_on(day or timezone.localdate())
    return Decimal(price_list.timemachine_restore) if price_list is not None else Decimal("0.00")


def restore_check(*, mailbox: Mailbox, what: RestoreWhat) -> None:
    """ValidationError unless `day` is a snapshot day of the mailbox and the scope is whole."""
    if not snapshots_of(mailbox=mailbox).filter(day=what.day).exists():
        raise ValidationError({"day": [_("There is no snapshot of that day.")]})
    if what.scope not in RestoreScope.values:
        raise ValidationError({"scope": [_("Choose what to restore.")]})
    if what.scope != RestoreScope.MAILBOX and not what.folder:
        raise ValidationError({"folder": [_("Choose a folder.")]})
    if what.scope == RestoreScope.MESSAGES and not what.uids:
        raise ValidationError({"uids": [_("Choose at least one message.")]})


def _merge_arguments(what: RestoreWhat) -> dict[str, Any]:
    return {
        "folder": what.folder if what.scope != RestoreScope.MAILBOX else None,
        "uids": list(what.uids) if what.scope == RestoreScope.MESSAGES else None,
    }


def restore_preview(*, mailbox: Mailbox, what: RestoreWhat) -> RestorePlan:
    """What would come back now (messages, bytes, folders, whether it fits the quota). Raises
    ValidationError for a bad request, a mailstore error when the store cannot tell."""
    restore_check(mailbox=mailbox, what=what)
    return restore_plan(
        address=mailbox.address, mailbox_id=mailbox.pk, day=what.day, **_merge_arguments(what)
    )


def restore_request_create(
    *, mailbox: Mailbox, what: RestoreWhat, actor: Any, accepted_price: Decimal
) -> RestoreRequest:
    """Record the request and, when it costs money, its one ledger event (an extraordinary
    intervention), in one transaction; the run is queued after the commit. `accepted_price`
    is what the confirmation page showed: a different price now (the price list changed
    meanwhile) is refused, so nobody is charged what they did not see."""
    restore_check(mailbox=mailbox, what=what)
    price = restore_price()
    if Decimal(accepted_price) != price:
        raise ValidationError({"price": [_("The price has changed: check it and confirm again.")]})
    with transaction.atomic():
        request = RestoreRequest.objects.create(
            mailbox=mailbox,
            day=what.day,
            scope=what.scope,
            folder=what.folder if what.scope != RestoreScope.MAILBOX else "",
            uids=list(what.uids) if what.scope == RestoreScope.MESSAGES else [],
            requested_by=actor,
            price=price,
        )
        if price > 0:
            charge_intervention(
                kind=LedgerEvent.Intervention.TIMEMACHINE_RESTORE,
                actor=actor,
                mailbox=mailbox,
                description=_("Time Machine restore to %(day)s (request %(id)s)")
                % {"day": what.day.isoformat(), "id": request.pk},
                amount=price,
            )
        from snapshots.tasks import restore_run_task

        pk = request.pk
        transaction.on_commit(lambda: restore_run_task.delay(pk))
    return request


def _try_lock(mailbox_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, int(mailbox_id)])
        return bool(cursor.fetchone()[0])


def _unlock(mailbox_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_NAMESPACE, int(mailbox_id)])


def restore_run(*, request_id: int) -> RestoreRequest | None:
    """Run (or resume) one request. None when there is nothing to do: gone, finished, or being
    run right now by another worker (it holds the mailbox's lock)."""
    request = RestoreRequest.objects.select_related("mailbox__domain").filter(pk=request_id).first()
    if request is None or request.state in (RestoreState.DONE, RestoreState.FAILED):
        return None
    if not _try_lock(request.mailbox_id):
        return None
    try:
        request.refresh_from_db()
        if request.state in (RestoreState.DONE, RestoreState.FAILED):
            return None
        return _run_locked(request)
    finally:
        _unlock(request.mailbox_id)


def _run_locked(request: RestoreRequest) -> RestoreRequest:
    mailbox = request.mailbox
    if request.attempts >= MAX_ATTEMPTS:
        RestoreRequest.objects.filter(pk=request.pk).update(state=RestoreState.RUNNING)
        _finish(
            request,
            RestoreState.FAILED,
            error=_("The mail server could not complete the restore. Ask your postmaster for help."),
        )
        request.refresh_from_db()
        return request
    # A resumed run counts on from what the killed one saved (its appends are in the mailbox
    # and the new plan no longer contains them).
    base_messages, base_bytes = request.restored_messages, request.restored_bytes
    RestoreRequest.objects.filter(pk=request.pk).update(
        state=RestoreState.RUNNING,
        started_at=request.started_at or timezone.now(),
        attempts=request.attempts + 1,
    )
    what = RestoreWhat(day=request.day, scope=request.scope, folder=request.folder, uids=tuple(request.uids))

    def on_plan(plan: RestorePlan) -> None:
        RestoreRequest.objects.filter(pk=request.pk).update(
            planned_messages=base_messages + plan.messages, planned_bytes=base_bytes + plan.bytes
        )

    def on_progress(progress: Progress) -> None:
        RestoreRequest.objects.filter(pk=request.pk).update(
            restored_messages=base_messages + progress.restored,
            restored_bytes=base_bytes + progress.restored_bytes,
            folders_created=sorted(set(request.folders_created) | set(progress.folders_created)),
        )

    try:
        restore_merge(
            address=mailbox.address,
            mailbox_id=mailbox.pk,
            day=request.day,
            on_plan=on_plan,
            on_progress=on_progress,
            **_merge_arguments(what),
        )
    except OverQuota as exc:
        _finish(request, RestoreState.FAILED, error=_("The mailbox is full: free some space and ask again."))
        logger.warning("restore %s stopped: %s", request.pk, exc)
    except MailstoreError as exc:
        # Left running: the next resume (beat, every minute) tries again from where it stopped.
        RestoreRequest.objects.filter(pk=request.pk).update(error=str(exc)[:2000])
        logger.error("restore %s interrupted: %s", request.pk, exc)
        raise
    else:
        _finish(request, RestoreState.DONE)
    request.refresh_from_db()
    return request


def _finish(request: RestoreRequest, state: str, *, error: str = "") -> None:
    with transaction.atomic():
        updated = RestoreRequest.objects.filter(pk=request.pk, state=RestoreState.RUNNING).update(
            state=state, finished_at=timezone.now(), error=error
        )
        if updated:
            pk = request.pk
            transaction.on_commit(lambda: restore_notify(request_id=pk))


def restore_notify(*, request_id: int) -> None:
    """Tell the mailbox's user that the restore has ended (in their language)."""
    request = RestoreRequest.objects.select_related("mailbox__domain", "mailbox__user").get(pk=request_id)
    mailbox = request.mailbox
    with translation.override(getattr(mailbox.user, "language", "") or settings.LANGUAGE_CODE):
        values = {
            "day": request.day.isoformat(),
            "messages": request.restored_messages,
            "size": filesizeformat(request.restored_bytes),
        }
        if request.state == RestoreState.DONE:
            subject = _("Time Machine: your mailbox is back to %(day)s") % values
            body = (
                _(
                    "The restore to %(day)s has finished: %(messages)s messages (%(size)s) are back in your "
                    "mailbox. Nothing that was there has been deleted or changed."
                )
                % values
            )
        else:
            subject = _("Time Machine: the restore to %(day)s has stopped") % values
            body = _("The restore to %(day)s has stopped: %(error)s") % {**values, "error": request.error}
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [mailbox.address])


def restores_pending() -> list[int]:
    return list(
        RestoreRequest.objects.filter(state__in=[RestoreState.QUEUED, RestoreState.RUNNING])
        .order_by("pk")
        .values_list("pk", flat=True)
    )
