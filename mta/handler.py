"""aiosmtpd handler: MX (inbound, no AUTH) and submission (AUTH under TLS).

The handler stays thin: RCPT does cheap checks in a worker thread (routing, sender, send limit),
DATA hands the message to `mta.acceptance.accept_message`, which answers 250 only when every
local copy is in Dovecot and every remote copy is durably queued.
"""

import base64
import functools
import ipaddress
import logging
import threading
from concurrent.futures import Executor
from dataclasses import dataclass, field

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, Session
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils.translation import gettext as _

from mta import filtering, headerfrom, lineendings, outscan, routing, sendlimit, services
from mta.acceptance import Accepted, accept_message, fingerprint_of, parse_headers
from mta.lmtp import LMTPEndpoint
from mta.models import TracemailEntry

logger = logging.getLogger(__name__)

MX = "mx"
SUBMISSION = "submission"
# Internal listener for Dovecot's Sieve (vacation replies, redirects): trusted peers, no AUTH.
# Every message is attributed at DATA to the mailbox whose script produced it (the envelope
# sender Pigeonhole sets, or its X-Sieve-Redirected-From on a redirect of a null-sender message),
# then treated like that mailbox's submission: send limit, Tracemail, From rule.
RELAY = "relay"

TEMP_BACKEND = "451 4.3.0 Temporary server error, please try again later"
AUTH_TEMPFAIL = "454 4.7.0 Temporary authentication failure, please try again later"
AUTH_INVALID = "535 5.7.8 Authentication credentials invalid"
# The right temporary password before the first-login change (English: SMTP replies stay English).
AUTH_MUST_CHANGE = (
    "535 5.7.8 Password change required: change it on the web (webmail or control panel) "
    "before using mail clients"
)
AUTH_NEEDS_TLS = "538 5.7.11 Encryption required for requested authentication mechanism"
# A brute-force block lifts by itself: a temporary reply, so the right password tried later
# works, and a user is not told "credentials invalid" about a password that is right.
AUTH_BLOCKED = "454 4.7.0 Too many failed logins, please try again later"


@dataclass(frozen=True)
class Identity:
    """What a successful AUTH leaves on the session."""

    login: str
    mailbox_id: int


@dataclass
class Reserved:
    key: str
    address: str
    # The final recipients an alias's reservation stands for: kept if any of them is handled.
    covers: tuple[str, ...] = ()

    def handled(self, done: set[str]) -> bool:
        return self.address in done or any(a in done for a in self.covers)


class MailEnvelope(Envelope):
    def __init__(self) -> None:
        super().__init__()
        self.routes: dict[str, routing.Route] = {}  # by final recipient: one copy each
        self.rcpts_seen: set[str] = set()
        self.sender: routing.Sender | None = None
        self.reservations: list[Reserved] = []
        self.trace: services.MessageTrace | None = None


_thread_state = threading.local()


def _prepare_connection() -> None:
    """Once per database connection of a worker thread: bookkeeping rows (Tracemail, handled
    copies, access log) do not wait for a WAL flush. Mail is never at stake: local copies are
    in Dovecot before they are recorded, and the outbound queue sets synchronous_commit back on
    for its own transaction. A PostgreSQL crash may lose the last fraction of a second of rows."""
    connection.ensure_connection()
    raw = connection.connection
    if getattr(_thread_state, "prepared", None) is not raw:
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit = off")
        _thread_state.prepared = raw


class _DatabaseErrors:
    """How many database errors the worker threads have met. A PostgreSQL restart breaks every
    thread's kept connection at once; the first thread to see it bumps the count, and each other
    thread reconnects before its next call instead of spending one sender's 4xx to find out."""

    count = 0
    lock = threading.Lock()

    @classmethod
    def seen(cls) -> None:
        with cls.lock:
            cls.count += 1


def _db_call(fn, *args, **kwargs):
    """Run in a worker thread. The thread keeps its database connection between calls (no health
    check per call: that is a round trip per SMTP command); after a database error in any thread,
    every thread starts its next call on a fresh connection."""
    if getattr(_thread_state, "errors_seen", 0) != _DatabaseErrors.count:
        connection.close()
        _thread_state.errors_seen = _DatabaseErrors.count
    try:
        _prepare_connection()
        return fn(*args, **kwargs)
    except DatabaseError:
        _DatabaseErrors.seen()
        _thread_state.errors_seen = _DatabaseErrors.count
        close_old_connections()
        raise


def _trusted_relay_peer(client_ip: str | None) -> bool:
    if not client_ip:
        return False
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    networks = settings.SMTP_RELAY_TRUSTED_NETWORKS
    return any(address in ipaddress.ip_network(net, strict=False) for net in networks)


UNATTRIBUTED = "550 5.7.1 Relay refused: the message cannot be attributed to a hosted mailbox"


@dataclass
class _RelayAdmission:
    reply: str  # "" = admitted
    content: bytes = b""
    trace: services.MessageTrace | None = None
    reservations: list["Reserved"] = field(default_factory=list)
    mailbox_id: int | None = None  # the mailbox the message is attributed to (its archive's "Sent")


@dataclass
class _RcptVerdict:
    reply: str
    routes: list[routing.Route] = field(default_factory=list)
    reservations: list[Reserved] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return self.reply.startswith("250")


class MailHandler:
    def __init__(
        self, *, mode: str, lmtp: LMTPEndpoint | None, executor: Executor, max_recipients: int | None
    ):
        assert mode in (MX, SUBMISSION, RELAY)
        self.mode = mode
        self.lmtp = lmtp
        self.executor = executor
        self.max_recipients = max_recipients

    async def run(self, fn, *args, **kwargs):
        call = functools.partial(_db_call, fn, *args, **kwargs)
        return await sync_to_async(call, thread_sensitive=False, executor=self.executor)()

    # AUTH ---------------------------------------------------------------------------------
    # Handler auth_* methods replace aiosmtpd's built-in ones, which call the authenticator
    # synchronously inside the event loop (Django's ORM and Argon2 must run in a thread).

    async def auth_PLAIN(self, server: SMTP, args: list[str]) -> AuthResult:
        if len(args) == 1:
            blob = await server.challenge_auth("")
            if blob is MISSING:
                return AuthResult(success=False, handled=True)
        else:
            try:
                blob = base64.b64decode(args[1].encode(), validate=True)
            except ValueError:
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        try:
            _authz, login, password = blob.split(b"\x00")
        except ValueError:
            await server.push("501 5.5.2 Can't split auth value")
            return AuthResult(success=False, handled=True)
        return await self._authenticate(server, login, password)

    async def auth_LOGIN(self, server: SMTP, args: list[str]) -> AuthResult:
        if len(args) == 1:
            login = await server.challenge_auth(SMTP.AuthLoginUsernameChallenge)
            if login is MISSING:
                return AuthResult(success=False, handled=True)
        else:
            try:
                login = base64.b64decode(args[1].encode(), validate=True)
            except ValueError:
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        password = await server.challenge_auth(SMTP.AuthLoginPasswordChallenge)
        if password is MISSING:
            return AuthResult(success=False, handled=True)
        return await self._authenticate(server, login, password)

    async def _authenticate(self, server: SMTP, login_b: bytes, password_b: bytes) -> AuthResult:
        if self.mode != SUBMISSION:
            return AuthResult(success=False, handled=False, message="503 5.5.1 AUTH not available here")
        if server.transport is None or server.transport.get_extra_info("ssl_object") is None:
            return AuthResult(success=False, handled=False, message=AUTH_NEEDS_TLS)
        login = login_b.decode("utf-8", "replace").strip()
        password = password_b.decode("utf-8", "replace")
        from domains import mailauth

        remote_ip = server.session.peer[0] if server.session and server.session.peer else None
        try:
            result = await self.run(
                mailauth.authenticate_mail,
                login,
                password,
                protocol="submission",
                remote_ip=remote_ip,
                tls=True,
            )
        except DatabaseError:
            logger.exception("AUTH: database error")
            return AuthResult(success=False, handled=False, message=AUTH_TEMPFAIL)
        if result.temporary:
            return AuthResult(success=False, handled=False, message=AUTH_TEMPFAIL)
        if result.reason == mailauth.BLOCKED:
            return AuthResult(success=False, handled=False, message=AUTH_BLOCKED)
        if result.reason == mailauth.MUST_CHANGE_PASSWORD:
            return AuthResult(success=False, handled=False, message=AUTH_MUST_CHANGE)
        if not result.ok or result.mailbox is None:
            return AuthResult(success=False, handled=False, message=AUTH_INVALID)
        return AuthResult(success=True, auth_data=Identity(login=login, mailbox_id=result.mailbox.pk))

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: MailEnvelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        # aiosmtpd advertises "AUTH" with an empty list when every mechanism is excluded (MX).
        return [r for r in responses if r.strip() != "250-AUTH"]

    # MAIL ---------------------------------------------------------------------------------

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: MailEnvelope, address: str, mail_options: list[str]
    ) -> str:
        sender = "" if address == "<>" else address
        client_ip = session.peer[0] if session.peer else None
        if self.mode == MX:
            # The sender's hosted domain (for Tracemail) is looked up at DATA, in the same worker call.
            envelope.trace = services.MessageTrace(sender=sender, sender_domain_id=None, client_ip=client_ip)
        elif self.mode == RELAY:
            if not _trusted_relay_peer(client_ip):
                return "554 5.7.1 " + _("Relay access denied")
            if sender:
                try:
                    who = await self.run(routing.sender_by_address, sender)
                except DatabaseError:
                    return TEMP_BACKEND
                if who is None or not who.active:
                    return "550 5.7.1 " + _("Sender <%(sender)s> is not an active mailbox here") % {
                        "sender": sender
                    }
                envelope.sender = who
                envelope.trace = services.MessageTrace(
                    sender=who.address, sender_domain_id=who.domain_id, client_ip=client_ip
                )
            else:
                envelope.trace = services.MessageTrace(sender="", sender_domain_id=None, client_ip=client_ip)
        else:
            identity: Identity = session.auth_data
            try:
                who = await self.run(routing.sender_for, identity.mailbox_id)
            except DatabaseError:
                return TEMP_BACKEND
            if who is None or not who.active:
                return "550 5.7.1 " + _("Mailbox not active")
            if sender.lower() != who.address.lower() and not await self.run(routing.may_send_as, who, sender):
                reply = "553 5.7.1 " + _("Sender address <%(sender)s> not owned by user %(login)s") % {
                    "sender": sender,
                    "login": identity.login,
                }
                trace = services.MessageTrace(
                    sender=sender, sender_domain_id=who.domain_id, client_ip=client_ip
                )
                await self._trace_rejection(
                    trace, recipient="", domain_id=None, direction="out", reason=reply
                )
                return reply
            envelope.sender = who
            envelope.trace = services.MessageTrace(
                sender=who.address, sender_domain_id=who.domain_id, client_ip=client_ip
            )
        envelope.mail_from = sender or "<>"
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    # RCPT ---------------------------------------------------------------------------------

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: MailEnvelope, address: str, rcpt_options: list[str]
    ) -> str:
        key = address.lower()
        if key in envelope.rcpts_seen:
            return "250 2.1.5 OK"  # a duplicate: one copy, counted once
        max_recipients = self.max_recipients or settings.SMTP_MAX_RECIPIENTS
        if len(envelope.rcpt_tos) >= max_recipients:
            return "452 4.5.3 " + _("Too many recipients (at most %(n)d per message)") % {"n": max_recipients}
        try:
            verdict = await self.run(
                self._check_recipient, address, envelope.sender, envelope.trace, frozenset(envelope.routes)
            )
        except (DatabaseError, sendlimit.SendLimitUnavailable):
            logger.exception("RCPT check failed")
            return TEMP_BACKEND
        if not verdict.accepted:
            return verdict.reply
        for route in verdict.routes:
            envelope.routes.setdefault(route.address.lower(), route)
        envelope.reservations.extend(verdict.reservations)
        envelope.rcpts_seen.add(key)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return verdict.reply

    def _check_recipient(
        self,
        address: str,
        sender: routing.Sender | None,
        envelope_trace: services.MessageTrace | None,
        seen: frozenset[str] = frozenset(),
    ) -> _RcptVerdict:
        """Sync, in a worker thread. Rejections are traced here. `seen`: the final recipients
        the envelope already has (an alias reaching one of them adds no second copy)."""
        route = routing.resolve_for_rcpt(address)
        trace = None
        if self.mode == MX:
            if route.kind == routing.Kind.LOCAL:
                return _RcptVerdict("250 2.1.5 OK", routes=[route])
            trace = services.MessageTrace(
                sender=envelope_trace.sender if envelope_trace else "",
                sender_domain_id=None,
                client_ip=envelope_trace.client_ip if envelope_trace else None,
            )
            if route.kind == routing.Kind.ADDRESS:
                return self._expand(route, address, None, trace, TracemailEntry.Direction.IN, seen)
            if route.kind == routing.Kind.UNKNOWN:
                reply = "550 5.1.1 " + _("<%(rcpt)s>: Recipient address rejected: User unknown") % {
                    "rcpt": address
                }
            else:
                reply = "554 5.7.1 " + _("<%(rcpt)s>: Relay access denied") % {"rcpt": address}
            self._trace_rejection_sync(trace, address, route.domain_id, TracemailEntry.Direction.IN, reply)
            return _RcptVerdict(reply)

        if self.mode == RELAY:
            # The mailbox to charge is known only at DATA (see _relay_admit); a forwarder's
            # copies are charged to the forwarder's mailbox here.
            if route.kind == routing.Kind.UNKNOWN:
                reply = "550 5.1.1 " + _("<%(rcpt)s>: Recipient address rejected: User unknown") % {
                    "rcpt": address
                }
                return _RcptVerdict(reply)
            if route.kind == routing.Kind.ADDRESS:
                trace = envelope_trace or services.MessageTrace(sender="", sender_domain_id=None)
                return self._expand(route, address, sender, trace, TracemailEntry.Direction.INTERNAL, seen)
            return _RcptVerdict("250 2.1.5 OK", routes=[route])
        assert sender is not None
        fresh = routing.sender_for(sender.mailbox_id)  # the tier may have changed a second ago
        if fresh is None or not fresh.active:
            return _RcptVerdict("550 5.7.1 " + _("Mailbox not active"))
        trace = services.MessageTrace(sender=fresh.address, sender_domain_id=fresh.domain_id)
        verdict = self._charge(route, address, fresh, trace)
        if not verdict.accepted or route.kind != routing.Kind.ADDRESS:
            return verdict
        expanded = self._expand(route, address, fresh, trace, TracemailEntry.Direction.INTERNAL, seen)
        if not expanded.accepted:
            for r in verdict.reservations:
                sendlimit.refund(key=r.key)
            return expanded
        # The sender's unit for the alias stands as long as any of its copies is handled.
        for r in verdict.reservations:
            r.covers = tuple(f.address.lower() for f in expanded.routes)
        expanded.reservations = verdict.reservations + expanded.reservations
        return expanded

    def _expand(
        self,
        route: routing.Route,
        address: str,
        poster: routing.Sender | None,
        trace: services.MessageTrace,
        direction: str,
        seen: frozenset[str],
    ) -> _RcptVerdict:
        """An alias, list, forwarder or catch-all: its final recipients, each once. A forwarded
        copy is charged to the forwarder's mailbox (its daily external limit); one over that
        limit is left out and traced in that mailbox's domain."""
        expanded = routing.expand_route(route, poster=poster, rcpt=address)
        if expanded.reply:
            self._trace_rejection_sync(trace, address, route.domain_id, direction, expanded.reply)
            return _RcptVerdict(expanded.reply)
        routes: list[routing.Route] = []
        reservations: list[Reserved] = []
        already = False
        refusal = ""
        for final in expanded.routes:
            key = final.address.lower()
            if key in seen:
                already = True
                continue
            if final.forwarded_by is not None:
                owner = routing.sender_for(final.forwarded_by)
                if owner is None or not owner.active:
                    continue
                reservation = sendlimit.reserve(mailbox_id=owner.mailbox_id, limit=owner.send_limit)
                if not reservation.ok:
                    refusal = "550 5.7.1 " + _(
                        "Daily limit of %(limit)d external recipients reached; resets at 00:00 (Europe/Rome)"
                    ) % {"limit": reservation.limit}
                    forwarded = services.MessageTrace(
                        sender=trace.sender, sender_domain_id=owner.domain_id, client_ip=trace.client_ip
                    )
                    self._trace_rejection_sync(
                        forwarded,
                        final.address,
                        None,
                        TracemailEntry.Direction.OUT,
                        f"{refusal} (forwarded by {final.via}, charged to {owner.address})",
                    )
                    continue
                reservations.append(Reserved(reservation.key, key))
            routes.append(final)
        if not routes and not already:
            reply = refusal or "550 5.1.1 " + _("<%(rcpt)s>: Recipient address rejected: User unknown") % {
                "rcpt": address
            }
            if not refusal:
                self._trace_rejection_sync(trace, address, route.domain_id, direction, reply)
            return _RcptVerdict(reply)
        return _RcptVerdict("250 2.1.5 OK", routes=routes, reservations=reservations)

    def _charge(
        self, route: routing.Route, address: str, fresh: routing.Sender, trace: services.MessageTrace
    ) -> _RcptVerdict:
        """A recipient of an attributed mailbox: unknown refused, own domain free, any other
        recipient reserved against the daily limit. Refusals are traced in its domain."""
        if route.kind == routing.Kind.UNKNOWN:
            reply = "550 5.1.1 " + _("<%(rcpt)s>: Recipient address rejected: User unknown") % {
                "rcpt": address
            }
            self._trace_rejection_sync(
                trace, address, route.domain_id, TracemailEntry.Direction.INTERNAL, reply
            )
            return _RcptVerdict(reply)
        direction = (
            TracemailEntry.Direction.OUT
            if route.kind == routing.Kind.REMOTE
            else TracemailEntry.Direction.INTERNAL
        )
        if fresh.sending_held and route.kind == routing.Kind.REMOTE:
            reply = outscan.HELD_REPLY
            self._trace_rejection_sync(trace, address, route.domain_id, direction, reply)
            return _RcptVerdict(reply)
        if route.domain_id == fresh.domain_id:
            return _RcptVerdict("250 2.1.5 OK", routes=[route])  # one's own domain: unlimited
        reservation = sendlimit.reserve(mailbox_id=fresh.mailbox_id, limit=fresh.send_limit)
        if not reservation.ok:
            reply = "550 5.7.1 " + _(
                "Daily limit of %(limit)d external recipients reached; resets at 00:00 (Europe/Rome)"
            ) % {"limit": reservation.limit}
            self._trace_rejection_sync(trace, address, route.domain_id, direction, reply)
            return _RcptVerdict(reply)
        return _RcptVerdict(
            "250 2.1.5 OK",
            routes=[route],
            reservations=[Reserved(reservation.key, address.lower(), covers=(route.address.lower(),))],
        )

    def _trace_rejection_sync(self, trace, recipient, domain_id, direction, reason) -> None:
        try:
            services.tracemail_record(
                trace=trace,
                recipient=recipient,
                recipient_domain_id=domain_id,
                direction=direction,
                status=TracemailEntry.Status.REJECTED,
                reason=reason,
            )
        except DatabaseError:
            logger.exception("could not trace a rejection")

    async def _trace_rejection(self, trace, *, recipient, domain_id, direction, reason) -> None:
        await self.run(self._trace_rejection_sync, trace, recipient, domain_id, direction, reason)

    # DATA ---------------------------------------------------------------------------------

    async def handle_DATA(self, server: SMTP, session: Session, envelope: MailEnvelope) -> str:
        # CRLF only from here on: nothing that leaves can end early at a lax receiver.
        content = lineendings.normalise(envelope.original_content or b"")
        trace = envelope.trace or services.MessageTrace(sender="", sender_domain_id=None)
        # Whose archive's "Sent" this message goes to: the authenticated mailbox (submission), the
        # mailbox a Sieve message is attributed to (relay, below); none on the MX.
        sent_by = envelope.sender.mailbox_id if self.mode == SUBMISSION and envelope.sender else None
        headers = parse_headers(content)
        trace.message_id = headers.message_id
        trace.subject = headers.subject
        if self.mode == SUBMISSION:
            refusal = await self.run(self._author_refusal, content, envelope)
            if refusal:
                await self._refund([r.key for r in envelope.reservations])
                envelope.reservations = []
                return refusal
        elif self.mode == RELAY:
            try:
                admission = await self.run(self._relay_admit, content, envelope, trace)
            except (DatabaseError, sendlimit.SendLimitUnavailable):
                logger.exception("relay admission failed")
                return TEMP_BACKEND
            if admission.reply:
                await self._refund([r.key for r in envelope.reservations])
                envelope.reservations = []
                return admission.reply
            content, trace = admission.content, admission.trace
            envelope.reservations = envelope.reservations + admission.reservations
            sent_by = admission.mailbox_id
        # Any X-Sieve-Redirected-From that arrives is renamed: in a mailbox, and so in what its
        # Sieve redirects, the only one is the one Pigeonhole adds (the relay's attribution).
        content = headerfrom.rename(content, headerfrom.REDIRECTED_FROM, headerfrom.UNTRUSTED_REDIRECTED_FROM)
        if self.mode == SUBMISSION:
            protocol = "ESMTPSA"
        elif session.ssl is not None or (server.transport and server.transport.get_extra_info("ssl_object")):
            protocol = "ESMTPS"
        else:
            protocol = "ESMTP" if session.extended_smtp else "SMTP"
        # The copies' identity (a retry skips those handled) is the message as the sender sent
        # it: the filter's headers (a score) may differ between attempts.
        fingerprint = fingerprint_of("" if envelope.mail_from == "<>" else envelope.mail_from, content)
        if self.mode == MX:
            filtered, refusal = await self._checked(
                envelope,
                "filter",
                self._filter_inbound,
                content,
                envelope,
                trace,
                session.host_name or "unknown",
                server.hostname,
            )
            if refusal:
                return refusal
            content = filtered.content
        elif sent_by is not None and any(r.kind == routing.Kind.REMOTE for r in envelope.routes.values()):
            login = session.auth_data.login if self.mode == SUBMISSION else trace.sender
            _scanned, refusal = await self._checked(
                envelope,
                "outbound scan",
                self._scan_outbound,
                content,
                envelope,
                trace,
                sent_by,
                login,
                session.host_name or "unknown",
                server.hostname,
            )
            if refusal:
                return refusal
        reservations, envelope.reservations = envelope.reservations, []
        try:
            result: Accepted = await self.run(
                accept_message,
                content=content,
                fingerprint=fingerprint,
                sender="" if envelope.mail_from == "<>" else envelope.mail_from,
                routes=list(envelope.routes.values()),
                trace=trace,
                submission=self.mode != MX,
                helo=session.host_name or "unknown",
                protocol=protocol,
                lmtp=self.lmtp or LMTPEndpoint(settings.LMTP_HOST, settings.MAIL_PORTS["lmtp"]),
                server_hostname=server.hostname,
                sent_by=sent_by,
            )
        except Exception:
            logger.exception("DATA: acceptance failed")
            await self._refund([r.key for r in reservations])
            return TEMP_BACKEND
        # Give back what was reserved but not sent now: a retry of a copy already queued, a
        # recipient whose copy failed.
        unsent = [r.key for r in reservations if not r.handled(result.newly_handled)]
        await self._refund(unsent)
        return result.reply

    # Inbound filtering -------------------------------------------------------------------------

    def _filter_inbound(
        self, content: bytes, envelope: MailEnvelope, trace: services.MessageTrace, helo: str, hostname: str
    ) -> filtering.Filtered:
        """Sync, in a worker thread: rspamd's verdict (mta.filtering) on an MX message, kept on
        the trace for every Tracemail row; a refusal or deferral is traced for each recipient."""
        sender = "" if envelope.mail_from == "<>" else envelope.mail_from
        filtered = filtering.inbound_filter(
            content=content,
            sender=sender,
            recipients=list(envelope.rcpt_tos),
            client_ip=trace.client_ip,
            helo=helo,
            hostname=hostname,
            queue_id=trace.queue_id,
        )
        trace.spam_verdict, trace.spam_score = filtered.verdict, filtered.score
        if filtered.reply:
            trace.size = len(content)
            status = (
                TracemailEntry.Status.DEFERRED
                if filtered.reply.startswith("4")
                else TracemailEntry.Status.REJECTED
            )
            for route in envelope.routes.values():
                try:
                    services.tracemail_record(
                        trace=trace,
                        recipient=route.address,
                        recipient_domain_id=route.domain_id,
                        direction=TracemailEntry.Direction.IN,
                        status=status,
                        reason=filtered.reply,
                    )
                except DatabaseError:
                    logger.exception("could not trace a filter verdict")
        return filtered

    # Outbound scanning ------------------------------------------------------------------------

    def _scan_outbound(
        self,
        content: bytes,
        envelope: MailEnvelope,
        trace: services.MessageTrace,
        mailbox_id: int,
        login: str,
        helo: str,
        hostname: str,
    ) -> outscan.Scanned:
        """Sync, in a worker thread: rspamd's verdict (mta.outscan) on a submitted or relayed
        message with recipients outside the suite, kept on the trace; a refusal or deferral is
        traced for each recipient (nothing is sent, internal copies included)."""
        routes = list(envelope.routes.values())
        scanned = outscan.outbound_scan(
            content=content,
            sender="" if envelope.mail_from == "<>" else envelope.mail_from,
            recipients=[r.address for r in routes],
            client_ip=trace.client_ip,
            helo=helo,
            hostname=hostname,
            login=login,
            mailbox_id=mailbox_id,
            subject=trace.subject,
            queue_id=trace.queue_id,
        )
        trace.spam_verdict, trace.spam_score = scanned.verdict, scanned.score
        if scanned.reply:
            trace.size = len(content)
            status = (
                TracemailEntry.Status.DEFERRED
                if scanned.reply.startswith("4")
                else TracemailEntry.Status.REJECTED
            )
            for route in routes:
                direction = (
                    TracemailEntry.Direction.OUT
                    if route.kind == routing.Kind.REMOTE
                    else TracemailEntry.Direction.INTERNAL
                )
                try:
                    services.tracemail_record(
                        trace=trace,
                        recipient=route.address,
                        recipient_domain_id=route.domain_id,
                        direction=direction,
                        status=status,
                        reason=scanned.reply,
                    )
                except DatabaseError:
                    logger.exception("could not trace an outbound scan verdict")
        return scanned

    # Header From ------------------------------------------------------------------------------

    def _author_refusal(self, content: bytes, envelope: MailEnvelope) -> str | None:
        """Sync, in a worker thread: a submitted message's From and Sender must be addresses the
        authenticated mailbox may send as (mta.routing.may_send_as); a refusal is traced."""
        sender = envelope.sender
        assert sender is not None
        problem = headerfrom.foreign_author(content, lambda a: routing.may_send_as(sender, a))
        if problem is None:
            return None
        reply = f"553 5.7.1 {problem}"
        trace = envelope.trace or services.MessageTrace(
            sender=sender.address, sender_domain_id=sender.domain_id
        )
        for route in envelope.routes.values() or [None]:
            direction = (
                TracemailEntry.Direction.OUT
                if route is None or route.kind == routing.Kind.REMOTE
                else TracemailEntry.Direction.INTERNAL
            )
            self._trace_rejection_sync(
                trace, route.address if route else "", route.domain_id if route else None, direction, reply
            )
        return reply

    # The Sieve relay -------------------------------------------------------------------------

    def _relay_admit(
        self, content: bytes, envelope: MailEnvelope, trace: services.MessageTrace
    ) -> "_RelayAdmission":
        """Sync, in a worker thread. Whose script produced this message: Pigeonhole's
        X-Sieve-Redirected-From on a redirect (the only one: the server renames every copy it
        receives), else the envelope sender Pigeonhole set (`sieve_redirect_envelope_from` and
        `sieve_vacation_send_from_recipient` = the mailbox). Unattributable mail is refused.
        Then that mailbox's rules: From it owns, daily limit, Tracemail rows in its domain."""
        routes = list(envelope.routes.values())
        stamped = headerfrom.redirected_from(content)
        mailbox = None
        if len(stamped) > 1:
            logger.warning("relay: %d X-Sieve-Redirected-From headers, refused", len(stamped))
            return _RelayAdmission(reply=UNATTRIBUTED)
        if stamped:
            named = headerfrom.parse_addresses("to", stamped[0])
            if named and len(named) == 1:
                mailbox = routing.sender_by_address(named[0].address)
            if mailbox is None or (envelope.sender and envelope.sender.mailbox_id != mailbox.mailbox_id):
                logger.warning("relay: X-Sieve-Redirected-From %r names no sender mailbox", stamped[0])
                return _RelayAdmission(reply=UNATTRIBUTED)
        elif envelope.sender is not None:
            mailbox = routing.sender_for(envelope.sender.mailbox_id)
        if mailbox is None:
            logger.warning("relay: a message no mailbox can be charged for, refused")
            return _RelayAdmission(reply=UNATTRIBUTED)
        trace.sender, trace.sender_domain_id = mailbox.address, mailbox.domain_id
        if envelope.sender is None:
            trace.envelope_sender = ""  # a redirect of a null-sender message stays <>
        if not mailbox.active:
            return self._relay_refuse(trace, routes, "550 5.7.1 " + _("Mailbox not active"))
        problem = headerfrom.foreign_author(content, lambda a: routing.may_send_as(mailbox, a))
        if problem is not None:
            if not stamped:
                # Generated by the script itself (vacation :from, or :addresses matching a
                # foreign address): it may not speak for someone else.
                return self._relay_refuse(trace, routes, f"550 5.7.1 {problem}")
            # A redirect of someone else's message leaves as the mailbox's own.
            content = headerfrom.sent_as(content, mailbox_address=mailbox.address)
        reserved: list[Reserved] = []
        for route in routes:
            if route.forwarded_by is not None:
                continue  # a forwarder's copy: charged to its mailbox at RCPT
            verdict = self._charge(route, route.address, mailbox, trace)
            if not verdict.accepted:
                for r in reserved:
                    sendlimit.refund(key=r.key)
                return _RelayAdmission(reply=verdict.reply)
            reserved.extend(verdict.reservations)
        return _RelayAdmission(
            reply="", content=content, trace=trace, reservations=reserved, mailbox_id=mailbox.mailbox_id
        )

    def _relay_refuse(self, trace, routes: list[routing.Route], reply: str) -> "_RelayAdmission":
        for route in routes:
            direction = (
                TracemailEntry.Direction.OUT
                if route.kind == routing.Kind.REMOTE
                else TracemailEntry.Direction.INTERNAL
            )
            self._trace_rejection_sync(trace, route.address, route.domain_id, direction, reply)
        return _RelayAdmission(reply=reply)

    # Unexpected errors ----------------------------------------------------------------------

    async def handle_exception(self, error: Exception) -> str:
        """aiosmtpd's default answers "500 Error: (<type>) <text>", telling any client the
        exception's text; the client gets a generic temporary reply, the log the traceback."""
        logger.error("SMTP handler error", exc_info=error)
        return TEMP_BACKEND

    async def _checked(self, envelope: Envelope, what: str, check, *args):
        """Run a check of the message before its 250 (the MX's filter, the outbound scan):
        (verdict, None) to go on, or (verdict or None, the reply) when it refuses, or when its
        verdict could not be recorded (4xx: the sender retries); a refused message gives its
        send-limit units back before the reply."""
        try:
            verdict = await self.run(check, *args)
        except DatabaseError:
            logger.exception("DATA: %s verdict not recorded", what)
            verdict = None
        if verdict is not None and not verdict.reply:
            return verdict, None
        await self._refund([r.key for r in envelope.reservations])
        envelope.reservations = []
        return verdict, (verdict.reply if verdict is not None else TEMP_BACKEND)

    async def _refund(self, keys: list[str]) -> None:
        for key in keys:
            try:
                await self.run(sendlimit.refund, key=key)
            except sendlimit.SendLimitUnavailable:
                logger.warning("send limit refund lost for %s (Redis unavailable)", key)

    async def refund_envelope(self, envelope: Envelope) -> None:
        reservations = getattr(envelope, "reservations", None)
        if reservations:
            envelope.reservations = []
            await self._refund([r.key for r in reservations])

    def release_envelope(self, envelope: Envelope, loop) -> None:
        """The envelope is being dropped without DATA (RSET, new MAIL after error, disconnect)."""
        reservations = getattr(envelope, "reservations", None)
        if reservations:
            envelope.reservations = []
            loop.create_task(self._refund([r.key for r in reservations]))
