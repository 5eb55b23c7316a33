"""What happens to a message after DATA: headers added, remote copies durably queued, local
copies delivered to Dovecot, one SMTP reply.

SMTP has one DATA reply for all recipients, so "partially delivered" cannot be said. Choices:
- a temporary failure of any copy (Dovecot down, LMTP 4xx, database) → 451, and the copies that
  did succeed are remembered (HandledCopy: fingerprint of sender + original bytes, recipient) so
  the sender's retry of the same message skips them: exactly one copy each;
- remote copies are queued first (one transaction), local copies delivered after;
- a permanent failure (e.g. 552 5.2.2 over quota) when nothing else was delivered → that reply
  itself; when other copies were delivered → 250 and a DSN to the sender for the failed one.
"""

import email.utils
import hashlib
import logging
from dataclasses import dataclass, field
from email.header import Header, decode_header, make_header
from email.parser import BytesHeaderParser

from django.db import connection
from django.utils import timezone

from domains.models import Domain
from mta import routing, services
from mta.lmtp import LMTPEndpoint, LMTPError, pooled_session
from mta.models import HandledCopy, TracemailEntry

logger = logging.getLogger(__name__)

Status = TracemailEntry.Status
Direction = TracemailEntry.Direction


@dataclass(frozen=True)
class Headers:
    message_id: str
    subject: str


@dataclass
class Accepted:
    reply: str
    newly_handled: set[str] = field(default_factory=set)  # lower-case recipients handled by this call


def parse_headers(content: bytes) -> Headers:
    """Message-ID and the decoded Subject, from the header block only (compat32 parsing is
    several times cheaper than the modern policy; the Subject is decoded explicitly)."""
    head = content.split(b"\r\n\r\n", 1)[0]
    try:
        msg = BytesHeaderParser().parsebytes(head + b"\r\n\r\n")
        message_id = str(msg.get("Message-ID", "") or "").strip()
        raw_subject = msg.get("Subject", "") or ""
        if isinstance(raw_subject, Header):
            # 8-bit bytes in the header (RFC 6532 UTF-8 headers of SMTPUTF8 mail, or a legacy
            # charset): compat32 hands them over as "unknown-8bit"; str() would garble them.
            subject = "".join(_eight_bit_text(chunk) for chunk, _ in decode_header(raw_subject))
        else:
            subject = str(make_header(decode_header(str(raw_subject)))) if raw_subject else ""
    except Exception:  # a broken header must not refuse the message
        return Headers(message_id="", subject="")
    return Headers(message_id=" ".join(message_id.split()), subject=" ".join(subject.split()))


def _eight_bit_text(chunk: bytes | str) -> str:
    if isinstance(chunk, str):
        return chunk
    try:
        return chunk.decode("utf-8")
    except UnicodeDecodeError:
        return chunk.decode("latin-1")


def fingerprint_of(sender: str, content: bytes) -> str:
    return hashlib.sha256(sender.encode("utf-8", "replace") + b"\0" + content).hexdigest()


def _prior_state(
    *, fingerprint: str, recipients: list[str], sender_domain: str | None
) -> tuple[int | None, set[str]]:
    """In one round trip: the copies of this message already handled (a retry), and the hosted
    domain of an MX sender (for Tracemail)."""
    # Table names come from the models, values are bound parameters.
    sql = (
        f"SELECT (SELECT id FROM {Domain._meta.db_table} WHERE name = %s), "  # noqa: S608
        f"ARRAY(SELECT recipient FROM {HandledCopy._meta.db_table} "
        "WHERE fingerprint = %s AND recipient = ANY(%s))"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [sender_domain or "", fingerprint, recipients])
        domain_id, handled = cursor.fetchone()
    return domain_id, set(handled or [])


def _received(
    *,
    helo: str,
    client_ip: str | None,
    server_hostname: str,
    protocol: str,
    queue_id: str,
    recipient: str | None,
) -> bytes:
    for_clause = f"\r\n\tfor <{recipient}>" if recipient else ""
    line = (
        f"Received: from {helo} ([{client_ip or 'unknown'}])\r\n"
        f"\tby {server_hostname} (mailsuite) with {protocol} id {queue_id}{for_clause};\r\n"
        f"\t{email.utils.format_datetime(timezone.now())}\r\n"
    )
    return line.encode("utf-8", "replace")


def accept_message(
    *,
    content: bytes,
    sender: str,
    routes: list[routing.Route],
    trace: services.MessageTrace,
    submission: bool,
    helo: str,
    protocol: str,
    lmtp: LMTPEndpoint,
    server_hostname: str,
) -> Accepted:
    fingerprint = fingerprint_of(sender, content)
    lookup_sender = not submission and bool(sender) and trace.sender_domain_id is None
    sender_domain_id, handled_before = _prior_state(
        fingerprint=fingerprint,
        recipients=[r.address.lower() for r in routes],
        sender_domain=routing.split_address(sender)[1] if lookup_sender else None,
    )
    if lookup_sender:
        trace.sender_domain_id = sender_domain_id
    todo = [r for r in routes if r.address.lower() not in handled_before]
    remote = [r for r in todo if r.kind == routing.Kind.REMOTE]
    local = [r for r in todo if r.kind == routing.Kind.LOCAL]

    prefix = b""
    if submission and not trace.message_id:
        trace.message_id = email.utils.make_msgid(domain=server_hostname)
        prefix += f"Message-ID: {trace.message_id}\r\n".encode()
    one = routes[0].address if len(routes) == 1 else None
    prefix = (
        _received(
            helo=helo,
            client_ip=trace.client_ip,
            server_hostname=server_hostname,
            protocol=protocol,
            queue_id=trace.queue_id,
            recipient=one,
        )
        + prefix
    )
    data = prefix + content
    trace.size = len(data)

    accepted = Accepted(reply="")
    if remote:
        services.outbound_enqueue(
            trace=trace, recipients=[r.address for r in remote], data=data, fingerprint=fingerprint
        )
        accepted.newly_handled.update(r.address.lower() for r in remote)

    temporary: list[LMTPError] = []
    permanent: list[tuple[routing.Route, LMTPError]] = []
    if local:
        direction = Direction.INTERNAL if submission else Direction.IN
        try:
            session = pooled_session(lmtp)
        except LMTPError as exc:
            session = None
            temporary.append(exc)
            for route in local:
                services.tracemail_record(
                    trace=trace,
                    recipient=route.address,
                    recipient_domain_id=route.domain_id,
                    direction=direction,
                    status=Status.DEFERRED,
                    reason=exc.reply,
                )
        if session is not None:
            for route in local:
                try:
                    session.deliver(sender=sender, recipient=route.address, data=data)
                except LMTPError as exc:
                    if exc.temporary:
                        temporary.append(exc)
                        services.tracemail_record(
                            trace=trace,
                            recipient=route.address,
                            recipient_domain_id=route.domain_id,
                            direction=direction,
                            status=Status.DEFERRED,
                            reason=exc.reply,
                        )
                    else:
                        permanent.append((route, exc))
                    continue
                services.local_copy_delivered(
                    fingerprint=fingerprint,
                    trace=trace,
                    recipient=route.address,
                    recipient_domain_id=route.domain_id,
                    direction=direction,
                )
                accepted.newly_handled.add(route.address.lower())

    if temporary:
        accepted.reply = "451 4.3.0 Temporary local delivery failure, please try again later"
        logger.warning("DATA %s: %d temporary failure(s): %s", trace.queue_id, len(temporary), temporary[0])
    elif permanent and not accepted.newly_handled and not handled_before:
        route, exc = permanent[0]
        for route, exc in permanent:
            services.tracemail_record(
                trace=trace,
                recipient=route.address,
                recipient_domain_id=route.domain_id,
                direction=Direction.INTERNAL if submission else Direction.IN,
                status=Status.REJECTED,
                reason=exc.reply,
            )
        accepted.reply = permanent[0][1].reply
    else:
        for route, exc in permanent:
            services.tracemail_record(
                trace=trace,
                recipient=route.address,
                recipient_domain_id=route.domain_id,
                direction=Direction.INTERNAL if submission else Direction.IN,
                status=Status.BOUNCED,
                reason=exc.reply,
            )
            services.dsn_send(
                original=data,
                sender=sender,
                recipient=route.address,
                status=_enhanced(exc),
                diagnostic=exc.reply,
            )
        accepted.reply = f"250 2.0.0 OK queued as {trace.queue_id}"
    return accepted


def _enhanced(exc: LMTPError) -> str:
    from mta.dsn import enhanced_status

    return enhanced_status(exc.code, exc.message)
