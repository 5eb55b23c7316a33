"""What happens to a message after DATA: headers added, remote copies durably queued, local
copies delivered to Dovecot, one SMTP reply.

SMTP has one DATA reply for all recipients, so "partially delivered" cannot be said. Choices:
- a temporary failure of any copy (Dovecot down, LMTP 4xx, database) → 451, and the copies that
  did succeed are remembered (HandledCopy: fingerprint of sender + original bytes, recipient) so
  the sender's retry of the same message skips them: exactly one copy each;
- remote copies are queued first (one transaction), local copies delivered after;
- exactly once across a crash: before each local copy's LMTP hand-off its intent is recorded
  (HandledCopy "delivering", in the same round trip that reads the prior copies), and each local
  copy carries a delivery header (`X-Mailsuite-Delivery: <id>`, a keyed hash of the fingerprint
  and the recipient). When an attempt's outcome is unknown (the SMTP server killed after
  Dovecot's 250 but before the row said "done"; Dovecot killed before its reply reached us), the
  retry searches the mailbox, every folder, for that header over IMAP before delivering again.
  Only that retry pays for the search; the normal path adds no round trip;
- a permanent failure (e.g. 552 5.2.2 over quota) when nothing else was delivered → that reply
  itself; when other copies were delivered → 250 and a DSN to the sender for the failed one;
- the Archive first: before any copy is queued or delivered (and before any delivery intent is
  recorded), the message is journaled into the archive of each archived local recipient
  ("Received") and of the archived submitting mailbox ("Sent"), durably
  (archiving.journaling). If that fails (blob store or database down) this function raises and
  the server answers 4xx with nothing delivered; a retry is archived once (same fingerprint).
"""

import dataclasses
import datetime as dt
import email.utils
import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from email.header import Header, decode_header, make_header
from email.parser import BytesHeaderParser

from django.conf import settings
from django.utils import timezone

from archiving.journaling import archive_journal
from mailstore.errors import MailstoreError
from mailstore.imap import mailbox_has_header
from mta import dkimsign, routing, services
from mta.lmtp import LMTPEndpoint, LMTPError, LMTPSession, pooled_session
from mta.models import TracemailEntry

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


DELIVERY_HEADER = "X-Mailsuite-Delivery"


def delivery_id(fingerprint: str, recipient: str) -> str:
    """The id the MX writes in each local copy: the same for every attempt of the same message to
    the same recipient, keyed by the server secret so that no sender can forge the id of another
    message (and have its real copy taken for delivered)."""
    key = ("mailsuite.mta.delivery:" + settings.SECRET_KEY).encode()
    mac = hmac.new(key, f"{fingerprint}\0{recipient.lower()}".encode("utf-8", "replace"), hashlib.sha256)
    return mac.hexdigest()[:32]


def _already_in_mailbox(recipient: str, fingerprint: str, day: dt.date) -> bool:
    """Raises mailstore.errors.MailstoreError when the mailbox cannot be searched (Dovecot still down)."""
    return mailbox_has_header(
        recipient,
        name=DELIVERY_HEADER,
        value=delivery_id(fingerprint, recipient),
        since=day - dt.timedelta(days=1),  # IMAP SINCE is a date in the server's time zone
    )


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


def _stamped(
    *,
    content: bytes,
    routes: list[routing.Route],
    trace: services.MessageTrace,
    submission: bool,
    helo: str,
    protocol: str,
    server_hostname: str,
) -> bytes:
    """The message as delivered: our Received line, and a Message-ID for a submission without one."""
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
    return data


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
    sent_by: int | None = None,
    fingerprint: str | None = None,
) -> Accepted:
    """`sent_by`: the mailbox id a submitted (or Sieve-relayed) message is sent by, for its
    archive's "Sent"; None on the MX. `fingerprint`: the message's identity across attempts
    (default: of `content`; the MX passes that of the bytes before the filter's headers)."""
    fingerprint = fingerprint or fingerprint_of(sender, content)
    data = _stamped(
        content=content,
        routes=routes,
        trace=trace,
        submission=submission,
        helo=helo,
        protocol=protocol,
        server_hostname=server_hostname,
    )
    archive_journal(
        data=data,
        fingerprint=fingerprint,
        received_by=[r.mailbox_id for r in routes if r.kind == routing.Kind.LOCAL and r.mailbox_id],
        sent_by=sent_by,
    )
    lookup_sender = not submission and bool(sender) and trace.sender_domain_id is None
    prior = services.copies_prepare(
        fingerprint=fingerprint,
        recipients=[r.address.lower() for r in routes],
        local=[r.address.lower() for r in routes if r.kind == routing.Kind.LOCAL],
        sender_domain=routing.split_address(sender)[1] if lookup_sender else None,
    )
    handled_before = prior.done
    if lookup_sender:
        trace.sender_domain_id = prior.sender_domain_id
    todo = [r for r in routes if r.address.lower() not in handled_before]
    remote = [r for r in todo if r.kind == routing.Kind.REMOTE]
    local = [r for r in todo if r.kind == routing.Kind.LOCAL]

    accepted = Accepted(reply="")
    # Copies for the Internet leave DKIM-signed when the server vouches for the author (submission
    # and the Sieve relay, after the send-as rule), never when the MX received them.
    outgoing = dkimsign.sign(data) if submission and remote else data
    plain = [r for r in remote if r.forwarded_by is None]
    if plain:
        services.outbound_enqueue(
            trace=trace, recipients=[r.address for r in plain], data=outgoing, fingerprint=fingerprint
        )
        accepted.newly_handled.update(r.address.lower() for r in plain)
    _enqueue_forwarded(
        [r for r in remote if r.forwarded_by is not None], trace, outgoing, fingerprint, accepted
    )

    temporary: list[LMTPError] = []
    permanent: list[tuple[routing.Route, LMTPError]] = []
    direction = Direction.INTERNAL if submission else Direction.IN
    session: LMTPSession | None = None
    unreachable: LMTPError | None = None

    def deferred(route: routing.Route, exc: LMTPError) -> None:
        temporary.append(exc)
        services.tracemail_record(
            trace=trace,
            recipient=route.address,
            recipient_domain_id=route.domain_id,
            direction=direction,
            status=Status.DEFERRED,
            reason=exc.reply,
        )

    for route in local:
        key = route.address.lower()
        if key in prior.unknown:
            # An earlier attempt of this message ended without knowing whether Dovecot has the copy.
            try:
                found = _already_in_mailbox(route.address, fingerprint, prior.unknown[key])
            except MailstoreError as exc:
                logger.warning("DATA %s: cannot tell whether %s has the copy: %s", trace.queue_id, key, exc)
                services.local_copy_attempt_ended(
                    fingerprint=fingerprint, recipient=key, outcome_unknown=True
                )
                deferred(route, LMTPError(451, "4.4.3 Earlier delivery attempt not verifiable yet"))
                continue
            if found:
                services.local_copy_delivered(
                    fingerprint=fingerprint,
                    trace=trace,
                    recipient=route.address,
                    recipient_domain_id=route.domain_id,
                    direction=direction,
                    reason="250 2.0.0 already in the mailbox (an earlier attempt was interrupted)",
                )
                accepted.newly_handled.add(key)
                continue
        elif key not in prior.new:
            # Another attempt of the same message is delivering this copy right now.
            deferred(route, LMTPError(451, "4.4.3 An earlier attempt of this message is still in progress"))
            continue
        if session is None and unreachable is None:
            try:
                session = pooled_session(lmtp)
            except LMTPError as exc:
                unreachable = exc
        if unreachable is not None:
            services.local_copy_attempt_ended(fingerprint=fingerprint, recipient=key, outcome_unknown=False)
            deferred(route, unreachable)
            continue
        stamped = f"{DELIVERY_HEADER}: {delivery_id(fingerprint, key)}\r\n".encode() + data
        try:
            session.deliver(sender=sender, recipient=route.address, data=stamped, mailbox_id=route.mailbox_id)
        except LMTPError as exc:
            services.local_copy_attempt_ended(
                fingerprint=fingerprint, recipient=key, outcome_unknown=exc.outcome_unknown
            )
            if exc.temporary:
                deferred(route, exc)
            else:
                permanent.append((route, exc))
            continue
        services.local_copy_delivered(
            fingerprint=fingerprint,
            trace=trace,
            recipient=route.address,
            recipient_domain_id=route.domain_id,
            direction=direction,
            **({"reason": f"250 2.0.0 delivered to mailbox (via {route.via})"} if route.via else {}),
        )
        accepted.newly_handled.add(key)

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


def _enqueue_forwarded(
    routes: list[routing.Route],
    trace: services.MessageTrace,
    data: bytes,
    fingerprint: str,
    accepted: Accepted,
) -> None:
    """A forwarder's copies leave as its mailbox's mail: that mailbox is the envelope sender
    (bounces return to it, the suite's SPF passes) and the Tracemail rows are its domain's,
    naming the forwarder; the message itself is forwarded unchanged."""
    by_owner: dict[int, list[routing.Route]] = {}
    for route in routes:
        by_owner.setdefault(route.forwarded_by, []).append(route)
    for owner_id, copies in by_owner.items():
        owner = routing.sender_for(owner_id)
        if owner is None:
            continue
        forwarded = dataclasses.replace(
            trace, sender_domain_id=owner.domain_id, envelope_sender=owner.address
        )
        services.outbound_enqueue(
            trace=forwarded,
            recipients=[r.address for r in copies],
            data=data,
            fingerprint=fingerprint,
            reason=f"250 2.0.0 queued for remote delivery (forwarded by {copies[0].via}, "
            f"charged to {owner.address})",
        )
        accepted.newly_handled.update(r.address.lower() for r in copies)


def _enhanced(exc: LMTPError) -> str:
    from mta.dsn import enhanced_status

    return enhanced_status(exc.code, exc.message)
