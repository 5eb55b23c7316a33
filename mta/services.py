"""State changes of the mail transfer agent: Tracemail rows, handled copies, the outbound queue,
delivery attempts, bounces and purges. The SMTP handler and the Celery tasks call these."""

import datetime as dt
import logging
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from domains.models import Domain
from mta import routing, spool
from mta.dsn import build_dsn, enhanced_status
from mta.lmtp import LMTPEndpoint, LMTPError, deliver_one
from mta.models import HandledCopy, OutboundMessage, OutboundRecipient, TracemailEntry, TracemailEvent
from mta.outbound import Delivered, OutboundError, send

logger = logging.getLogger(__name__)

HANDLED_COPY_RETENTION = dt.timedelta(days=3)
Status = TracemailEntry.Status
Direction = TracemailEntry.Direction


@dataclass
class MessageTrace:
    """What Tracemail records of a message, whoever the recipient."""

    sender: str
    sender_domain_id: int | None
    message_id: str = ""
    subject: str = ""
    size: int = 0
    client_ip: str | None = None
    queue_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16].upper())
    # The envelope sender of the copies queued for remote delivery when it is not `sender`: a
    # Sieve redirect of a null-sender message is traced as its mailbox's but keeps <> (no
    # bounce of a bounce, as Pigeonhole intends).
    envelope_sender: str | None = None
    # The inbound filter's verdict and score (mta.filtering), on every row of an MX message.
    spam_verdict: str = ""
    spam_score: float | None = None


_CONTROL_CHARS = dict.fromkeys(range(0x20), " ") | {0x7F: " "}


def _clip(text: str, length: int = 500) -> str:
    """A header value as Tracemail stores it: control characters (a NUL in a Subject would make
    PostgreSQL refuse the row, and the message with it) become spaces; at most `length`."""
    return (text or "").translate(_CONTROL_CHARS)[:length]


def tracemail_record(
    *,
    trace: MessageTrace,
    recipient: str,
    recipient_domain_id: int | None,
    direction: str,
    status: str,
    reason: str = "",
    remote_host: str = "",
) -> TracemailEntry:
    with transaction.atomic():
        entry = TracemailEntry.objects.create(
            direction=direction,
            status=status,
            reason=_clip(reason),
            sender=_clip(trace.sender, 320),
            recipient=_clip(recipient, 320),
            sender_domain_id=trace.sender_domain_id,
            recipient_domain_id=recipient_domain_id,
            message_id=_clip(trace.message_id),
            subject=_clip(trace.subject),
            size=trace.size,
            client_ip=trace.client_ip,
            remote_host=_clip(remote_host, 255),
            queue_id=trace.queue_id,
            spam_verdict=trace.spam_verdict,
            spam_score=trace.spam_score,
        )
        TracemailEvent.objects.create(
            entry=entry, status=status, reason=entry.reason, remote_host=entry.remote_host
        )
    return entry


def tracemail_update(*, entry_id: int, status: str, reason: str = "", remote_host: str = "") -> None:
    with transaction.atomic():
        TracemailEntry.objects.filter(pk=entry_id).update(
            status=status,
            reason=_clip(reason),
            remote_host=_clip(remote_host, 255),
            updated_at=timezone.now(),
        )
        TracemailEvent.objects.create(
            entry_id=entry_id, status=status, reason=_clip(reason), remote_host=_clip(remote_host, 255)
        )


_LOCAL_COPY_SQL = """
WITH handled AS (
    INSERT INTO {handled} (fingerprint, recipient, at, state, owner_pid, attempt_at)
    VALUES (%(fingerprint)s, %(recipient_key)s, %(now)s, 'done', NULL, NULL)
    ON CONFLICT (fingerprint, recipient) DO UPDATE SET state = 'done', owner_pid = NULL
), entry AS (
    INSERT INTO {entry} (created_at, updated_at, direction, status, reason, sender, recipient,
                         sender_domain_id, recipient_domain_id, message_id, subject, size, client_ip,
                         remote_host, queue_id, spam_verdict, spam_score)
    VALUES (%(now)s, %(now)s, %(direction)s, 'delivered', %(reason)s, %(sender)s, %(recipient)s,
            %(sender_domain_id)s, %(recipient_domain_id)s, %(message_id)s, %(subject)s, %(size)s,
            %(client_ip)s, '', %(queue_id)s, %(spam_verdict)s, %(spam_score)s)
    RETURNING id
)
INSERT INTO {event} (entry_id, at, status, reason, remote_host)
SELECT entry.id, %(now)s, v.status, v.reason, '' FROM entry
CROSS JOIN (VALUES (1, 'accepted', ''), (2, 'delivered', %(reason)s)) AS v(n, status, reason) ORDER BY v.n
"""


def local_copy_delivered(
    *,
    fingerprint: str,
    trace: MessageTrace,
    recipient: str,
    recipient_domain_id: int | None,
    direction: str,
    reason: str = "250 2.0.0 delivered to mailbox",
) -> None:
    """Remember the copy as done (so a retry of the same message skips it) and trace it as
    delivered.

    One SQL statement (hence one transaction, one round trip): it runs once per local copy on the
    MX's hot path, where the latency of each round trip is what limits throughput."""
    sql = _LOCAL_COPY_SQL.format(
        handled=HandledCopy._meta.db_table,
        entry=TracemailEntry._meta.db_table,
        event=TracemailEvent._meta.db_table,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "fingerprint": fingerprint,
                "recipient_key": recipient.lower(),
                "now": timezone.now(),
                "direction": direction,
                "reason": reason,
                "sender": _clip(trace.sender, 320),
                "recipient": _clip(recipient, 320),
                "sender_domain_id": trace.sender_domain_id,
                "recipient_domain_id": recipient_domain_id,
                "message_id": _clip(trace.message_id),
                "subject": _clip(trace.subject),
                "size": trace.size,
                "client_ip": trace.client_ip,
                "queue_id": trace.queue_id,
                "spam_verdict": trace.spam_verdict,
                "spam_score": trace.spam_score,
            },
        )


# Copies of a message handled before, in one round trip, and the intent to deliver each new local
# copy recorded before its LMTP hand-off (see HandledCopy). Rows of an earlier attempt whose
# outcome is unknown are claimed by this attempt (the owner_pid test makes two simultaneous
# retries claim a row once); a row another live session is still delivering is left alone.
_PREPARE_SQL = """
WITH prior AS (
    SELECT h.recipient, h.state, h.owner_pid, h.at::date AS day,
           COALESCE(h.state = 'delivering' AND h.attempt_at > %(now)s - %(attempt_bound)s
                    AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = h.owner_pid), false) AS busy
    FROM {handled} h
    WHERE h.fingerprint = %(fingerprint)s AND h.recipient = ANY(%(recipients)s)
), intent AS (
    INSERT INTO {handled} (fingerprint, recipient, at, state, owner_pid, attempt_at)
    SELECT %(fingerprint)s, r, %(now)s, 'delivering', pg_backend_pid(), %(now)s
    FROM unnest(%(local)s::varchar[]) AS r
    WHERE r NOT IN (SELECT recipient FROM prior)
    ON CONFLICT DO NOTHING
    RETURNING recipient
), claimed AS (
    UPDATE {handled} h SET state = 'delivering', owner_pid = pg_backend_pid(), attempt_at = %(now)s
    FROM prior p
    WHERE h.fingerprint = %(fingerprint)s AND h.recipient = p.recipient AND h.recipient = ANY(%(local)s)
      AND p.state <> 'done' AND NOT p.busy AND h.state <> 'done'
      AND h.owner_pid IS NOT DISTINCT FROM p.owner_pid
    RETURNING h.recipient, p.day
)
SELECT (SELECT id FROM {domain} WHERE name = %(sender_domain)s),
       ARRAY(SELECT recipient FROM prior WHERE state = 'done'),
       ARRAY(SELECT recipient FROM intent),
       ARRAY(SELECT recipient FROM claimed),
       ARRAY(SELECT day FROM claimed)
"""

# How long a live session may hold a copy as "being delivered" (LMTP timeouts are 30 s per
# command): after that a retry treats the attempt as over, whatever became of it.
ATTEMPT_BOUND = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class PriorCopies:
    sender_domain_id: int | None
    done: set[str]  # handled before: skipped
    new: set[str]  # first attempt: intent recorded, deliver
    unknown: dict[str, dt.date]  # an earlier attempt's outcome is unknown (its day): look first
    # local recipients in none of these are being delivered by another attempt right now


def copies_prepare(
    *, fingerprint: str, recipients: list[str], local: list[str], sender_domain: str | None
) -> PriorCopies:
    """`recipients` and `local` lower-case. Records a "delivering" intent for each new local copy."""
    sql = _PREPARE_SQL.format(handled=HandledCopy._meta.db_table, domain=Domain._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "fingerprint": fingerprint,
                "recipients": recipients,
                "local": local,
                "sender_domain": sender_domain or "",
                "now": timezone.now(),
                "attempt_bound": ATTEMPT_BOUND,
            },
        )
        domain_id, done, new, claimed, days = cursor.fetchone()
    return PriorCopies(
        sender_domain_id=domain_id,
        done=set(done or []),
        new=set(new or []),
        unknown=dict(zip(claimed or [], days or [], strict=True)),
    )


def local_copy_attempt_ended(*, fingerprint: str, recipient: str, outcome_unknown: bool) -> None:
    """A local delivery attempt ended without a 250: the copy may be in the mailbox (the
    connection broke while Dovecot had the message: the next retry looks first), or it surely is
    not (Dovecot refused it, or was never reached: the intent is dropped)."""
    rows = HandledCopy.objects.filter(fingerprint=fingerprint, recipient=recipient.lower()).exclude(
        state=HandledCopy.State.DONE
    )
    if outcome_unknown:
        rows.update(state=HandledCopy.State.UNKNOWN, owner_pid=None)
    else:
        rows.delete()


def outbound_enqueue(
    *,
    trace: MessageTrace,
    recipients: list[str],
    data: bytes,
    fingerprint: str = "",
    reason: str = "250 2.0.0 queued for remote delivery",
) -> OutboundMessage:
    """Durably queue a message for remote recipients: spool file fsynced, then the rows committed;
    the delivery tasks are scheduled after the commit (a failure to schedule leaves the rows
    queued for `outbound_requeue_due`)."""
    name = uuid.uuid4().hex
    path = spool.spool_write(name, data)
    try:
        with transaction.atomic():
            # Durable whatever the connection's default (smtpd turns synchronous_commit off for
            # its bookkeeping rows): a queued message must survive a PostgreSQL crash.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = on")
            message = OutboundMessage.objects.create(
                queue_id=uuid.UUID(name),
                sender=trace.sender if trace.envelope_sender is None else trace.envelope_sender,
                spool_path=str(path),
                size=len(data),
                message_id=_clip(trace.message_id),
            )
            rows = []
            for address in recipients:
                entry = tracemail_record(
                    trace=trace,
                    recipient=address,
                    recipient_domain_id=None,
                    direction=Direction.OUT,
                    status=Status.ACCEPTED,
                    reason=reason,
                )
                rows.append(
                    OutboundRecipient(
                        message=message, address=address, tracemail=entry, next_attempt_at=timezone.now()
                    )
                )
                if fingerprint:
                    HandledCopy.objects.get_or_create(fingerprint=fingerprint, recipient=address.lower())
            OutboundRecipient.objects.bulk_create(rows)
            ids = list(message.recipients.values_list("id", flat=True))
            transaction.on_commit(lambda: _schedule(ids), robust=True)
    except Exception:
        spool.spool_remove(path)
        raise
    return message


def _schedule(recipient_ids: list[int]) -> None:
    from mta.tasks import deliver_outbound

    for rid in recipient_ids:
        deliver_outbound.delay(rid)


@dataclass(frozen=True)
class AttemptOutcome:
    status: str
    retry_in: int | None = None  # seconds, when the attempt should be retried


def _backoff(attempts: int) -> int:
    return min(settings.OUTBOUND_RETRY_BASE * 2 ** max(attempts - 1, 0), settings.OUTBOUND_RETRY_MAX)


def outbound_attempt(*, recipient_id: int, now: dt.datetime | None = None) -> AttemptOutcome:
    """One delivery attempt of one queued copy. Idempotent: a copy already delivered or bounced is
    left alone. Temporary failures are deferred with exponential backoff until OUTBOUND_MAX_AGE,
    then bounced; permanent failures bounce at once (a DSN to the sender)."""
    now = now or timezone.now()
    with transaction.atomic():
        rcpt = (
            OutboundRecipient.objects.select_for_update()
            .select_related("message")
            .filter(pk=recipient_id)
            .first()
        )
        if rcpt is None or rcpt.status in (
            OutboundRecipient.Status.DELIVERED,
            OutboundRecipient.Status.BOUNCED,
        ):
            return AttemptOutcome(status=rcpt.status if rcpt else "missing")
        rcpt.attempts += 1
        rcpt.save(update_fields=["attempts", "updated_at"])
    message = rcpt.message
    data = spool.spool_read(message.spool_path)
    try:
        delivered = _deliver_queued(sender=message.sender, recipient=rcpt.address, data=data)
    except OutboundError as exc:
        reason = f"{exc.code} {exc.message}"
        expired = now - message.created_at >= dt.timedelta(seconds=settings.OUTBOUND_MAX_AGE)
        if exc.permanent or expired:
            if not exc.permanent:
                reason = f"{reason} (gave up after {rcpt.attempts} attempts)"
            _bounce(
                rcpt=rcpt,
                data=data,
                code=exc.code,
                message=exc.message,
                reason=reason,
                remote_host=exc.remote_host,
                expired=not exc.permanent,
            )
            return AttemptOutcome(status=OutboundRecipient.Status.BOUNCED)
        retry_in = _backoff(rcpt.attempts)
        with transaction.atomic():
            OutboundRecipient.objects.filter(pk=rcpt.pk).update(
                status=OutboundRecipient.Status.DEFERRED,
                last_error=_clip(reason),
                next_attempt_at=now + dt.timedelta(seconds=retry_in),
                updated_at=now,
            )
            if rcpt.tracemail_id:
                tracemail_update(
                    entry_id=rcpt.tracemail_id,
                    status=Status.DEFERRED,
                    reason=reason,
                    remote_host=exc.remote_host,
                )
        return AttemptOutcome(status=OutboundRecipient.Status.DEFERRED, retry_in=retry_in)
    with transaction.atomic():
        OutboundRecipient.objects.filter(pk=rcpt.pk).update(
            status=OutboundRecipient.Status.DELIVERED, last_error="", next_attempt_at=None, updated_at=now
        )
        if rcpt.tracemail_id:
            tracemail_update(
                entry_id=rcpt.tracemail_id,
                status=Status.DELIVERED,
                reason=f"{delivered.reply} delivered",
                remote_host=delivered.remote_host,
            )
    _release_spool_if_done(message)
    return AttemptOutcome(status=OutboundRecipient.Status.DELIVERED)


def _deliver_queued(*, sender: str, recipient: str, data: bytes) -> Delivered:
    """A queued copy: to a hosted mailbox over LMTP (a DSN whose first delivery failed), anywhere
    else through the relay or MX. Raises OutboundError either way."""
    route = routing.resolve(recipient)
    if route.kind != routing.Kind.LOCAL:
        return send(sender=sender, recipient=recipient, data=data)
    endpoint = LMTPEndpoint(settings.LMTP_HOST, settings.MAIL_PORTS["lmtp"])
    try:
        reply = deliver_one(
            endpoint, sender=sender, recipient=route.address, data=data, mailbox_id=route.mailbox_id
        )
    except LMTPError as exc:
        raise OutboundError(exc.code, exc.message, remote_host="lmtp") from exc
    return Delivered(remote_host="lmtp", reply=reply)


def _bounce(
    *,
    rcpt: OutboundRecipient,
    data: bytes,
    code: int,
    message: str,
    reason: str,
    remote_host: str,
    expired: bool,
) -> None:
    now = timezone.now()
    with transaction.atomic():
        OutboundRecipient.objects.filter(pk=rcpt.pk).update(
            status=OutboundRecipient.Status.BOUNCED,
            last_error=_clip(reason),
            next_attempt_at=None,
            updated_at=now,
        )
        if rcpt.tracemail_id:
            tracemail_update(
                entry_id=rcpt.tracemail_id, status=Status.BOUNCED, reason=reason, remote_host=remote_host
            )
    status = "4.4.7" if expired else enhanced_status(code, message)
    dsn_send(
        original=data,
        sender=rcpt.message.sender,
        recipient=rcpt.address,
        status=status,
        diagnostic=reason,
        remote_host=remote_host,
    )
    _release_spool_if_done(rcpt.message)


def dsn_send(
    *, original: bytes, sender: str, recipient: str, status: str, diagnostic: str, remote_host: str = ""
) -> None:
    """Tell the sender a copy failed. Never for a null sender (no bounce of a bounce). A hosted
    sender gets the DSN over LMTP; a remote one through the outbound queue."""
    if not sender:
        return
    dsn = build_dsn(
        original=original,
        sender=sender,
        recipient=recipient,
        status=status,
        diagnostic=diagnostic,
        remote_host=remote_host,
    )
    trace = MessageTrace(
        sender="", sender_domain_id=None, subject="Undelivered Mail Returned to Sender", size=len(dsn)
    )
    route = routing.resolve(sender)
    if route.kind == routing.Kind.LOCAL:
        endpoint = LMTPEndpoint(settings.LMTP_HOST, settings.MAIL_PORTS["lmtp"])
        try:
            deliver_one(endpoint, sender="", recipient=route.address, data=dsn, mailbox_id=route.mailbox_id)
        except LMTPError as exc:
            if exc.temporary:
                # Dovecot unavailable: the DSN waits in the durable queue and is retried like
                # any queued copy (delivered over LMTP by the delivery task).
                logger.warning("DSN to %s deferred to the queue: %s", sender, exc)
                outbound_enqueue(trace=trace, recipients=[route.address], data=dsn)
                return
            logger.warning("DSN to %s not deliverable: %s", sender, exc)
            tracemail_record(
                trace=trace,
                recipient=route.address,
                recipient_domain_id=route.domain_id,
                direction=Direction.INTERNAL,
                status=Status.BOUNCED,
                reason=exc.reply,
            )
            return
        tracemail_record(
            trace=trace,
            recipient=route.address,
            recipient_domain_id=route.domain_id,
            direction=Direction.INTERNAL,
            status=Status.DELIVERED,
            reason="DSN delivered",
        )
    elif route.kind == routing.Kind.REMOTE:
        outbound_enqueue(trace=trace, recipients=[sender], data=dsn)


def _release_spool_if_done(message: OutboundMessage) -> None:
    pending = message.recipients.exclude(
        status__in=[OutboundRecipient.Status.DELIVERED, OutboundRecipient.Status.BOUNCED]
    ).exists()
    if not pending:
        spool.spool_remove(message.spool_path)


def outbound_requeue_due(
    *, now: dt.datetime | None = None, grace: dt.timedelta = dt.timedelta(minutes=10)
) -> int:
    """Schedule again the copies whose next attempt is overdue (a lost task, a broker that was
    down when the message was queued). Safe to run often: attempts are idempotent."""
    now = now or timezone.now()
    ids = list(
        OutboundRecipient.objects.filter(
            status__in=[OutboundRecipient.Status.QUEUED, OutboundRecipient.Status.DEFERRED],
            next_attempt_at__lt=now - grace,
        ).values_list("id", flat=True)[:1000]
    )
    _schedule(ids)
    return len(ids)


def tracemail_purge(*, now: dt.datetime | None = None) -> int:
    """Delete Tracemail rows older than TRACEMAIL_RETENTION_DAYS and expired handled copies."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.TRACEMAIL_RETENTION_DAYS)
    _, per_model = TracemailEntry.objects.filter(created_at__lt=cutoff).delete()
    HandledCopy.objects.filter(at__lt=now - HANDLED_COPY_RETENTION).delete()
    return per_model.get(TracemailEntry._meta.label, 0)
