"""The SMTP server process: three listeners (MX, submission with implicit TLS, submission with
STARTTLS) in one asyncio loop, sharing one worker-thread pool for database, Redis and LMTP work.

`SMTPService.serve_forever()` is what `manage.py smtpd` runs; `start()`/`stop()` run the same
loop in a background thread for tests and benchmarks.
"""

import asyncio
import logging
import ssl
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from aiosmtpd.smtp import SMTP
from django.conf import settings
from django.db import connections

from mta.handler import MX, RELAY, SUBMISSION, MailEnvelope, MailHandler
from mta.helo import valid_helo_name
from mta.lmtp import LMTPEndpoint, close_pooled_session

logger = logging.getLogger(__name__)

# aiosmtpd's fixed replies, given the enhanced status codes clients and tests look for.
_SIZE_EXCEEDED = "552 5.3.4 Message size exceeds fixed maximum message size"
_REPLY_REWRITES = {
    "552 Error: Too much mail data": _SIZE_EXCEEDED,
    "552 Error: message size exceeds fixed maximum message size": _SIZE_EXCEEDED,
}


HELO_INVALID = "501 5.5.2 Syntax: HELO/EHLO needs a host name or an address literal"


class MailSMTP(SMTP):
    # RFC 5321 caps a line at 1,000 octets, but real senders (HTML without line breaks, broken
    # base64 encoders) exceed it, and aiosmtpd's 1,001 refused their mail for good with a 500
    # after DATA. Dovecot stores such lines as they are; one line is bounded here instead (also
    # the stream buffer of a connection).
    line_length_limit = 1024 * 1024

    def _create_envelope(self) -> MailEnvelope:
        return MailEnvelope()

    def _set_post_data_state(self) -> None:
        if self.envelope is not None:
            self.event_handler.release_envelope(self.envelope, self.loop)
        super()._set_post_data_state()

    async def smtp_HELO(self, hostname: str) -> None:
        if hostname and not valid_helo_name(hostname):
            await self.push(HELO_INVALID)
            return
        await super().smtp_HELO(hostname)

    async def smtp_EHLO(self, hostname: str) -> None:
        if hostname and not valid_helo_name(hostname):
            await self.push(HELO_INVALID)
            return
        await super().smtp_EHLO(hostname)

    async def smtp_AUTH(self, arg: str) -> None:
        # The MX and the relay listener offer no AUTH at all: aiosmtpd's "538 Encryption
        # required" would send a client through STARTTLS only to be refused there with 504.
        if self.event_handler.mode != SUBMISSION:
            if not await self.check_helo_needed():
                await self.push("504 5.5.4 Unrecognized authentication type")
            return
        await super().smtp_AUTH(arg)

    async def smtp_RSET(self, arg: str) -> None:
        # Refund before answering, so the client sees its counter back once RSET returns.
        if self.envelope is not None:
            await self.event_handler.refund_envelope(self.envelope)
        await super().smtp_RSET(arg)

    def connection_lost(self, error) -> None:
        if self.envelope is not None:
            self.event_handler.release_envelope(self.envelope, self.loop)
        super().connection_lost(error)

    async def push(self, status) -> None:
        if isinstance(status, str):
            status = _REPLY_REWRITES.get(status, status)
            # aiosmtpd refuses an oversized DATA itself (552) and drops the envelope after the
            # reply: give the reserved send-limit units back before answering, as RSET does, so
            # the client sees its counter back once it has the 552.
            if status == _SIZE_EXCEEDED and self.envelope is not None:
                await self.event_handler.refund_envelope(self.envelope)
        await super().push(status)


class _AiosmtpdNoiseFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "auth_require_tls == False" not in message and "login_data is deprecated" not in message


@dataclass
class Listener:
    name: str  # "smtp_mx" | "relay" | "smtps" | "submission" (the keys of settings.MAIL_PORTS)
    port: int


class SMTPService:
    def __init__(
        self,
        *,
        host: str | None = None,
        internal_host: str | None = None,  # the relay listener's address; settings.INTERNAL_BIND
        ports: dict[str, int] | None = None,
        tls_context: ssl.SSLContext,
        lmtp: LMTPEndpoint | None = None,  # None: settings.LMTP_HOST / MAIL_PORTS["lmtp"] at each delivery
        hostname: str | None = None,
        max_workers: int = 8,
        max_message_size: int | None = None,
        max_recipients: int | None = None,
    ):
        self.host = host or settings.MAIL_BIND
        # Sieve's relay needs no AUTH (trusted peers): it never listens on the public address.
        self.internal_host = internal_host or settings.INTERNAL_BIND
        wanted = ports or {k: settings.MAIL_PORTS[k] for k in ("smtp_mx", "relay", "smtps", "submission")}
        self.listeners = [Listener(name, port) for name, port in wanted.items()]
        self.tls_context = tls_context
        self.lmtp = lmtp
        self.hostname = hostname or settings.MAIL_HOSTNAME
        self.max_workers = max_workers
        self.max_message_size = max_message_size or settings.SMTP_MAX_MESSAGE_SIZE
        self.max_recipients = max_recipients  # None: settings.SMTP_MAX_RECIPIENTS at each RCPT
        # Worker threads mostly wait on PostgreSQL, Redis and Dovecot; with the default 5 ms switch
        # interval each reply they get waits up to 5 ms for the event loop thread to yield the GIL.
        sys.setswitchinterval(0.0005)
        # aiosmtpd logs every command at INFO ("mail.log"): too chatty for a production MX.
        aiosmtpd_log = logging.getLogger("mail.log")
        aiosmtpd_log.setLevel(logging.WARNING)
        if not any(isinstance(f, _AiosmtpdNoiseFilter) for f in aiosmtpd_log.filters):
            aiosmtpd_log.addFilter(_AiosmtpdNoiseFilter())
        self.executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="smtpd")
        self.ports: dict[str, int] = {}
        self.addresses: dict[str, str] = {}  # listener name → the address it is bound to
        self._servers: list[asyncio.AbstractServer] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def _factory(self, name: str):
        mode = {"smtp_mx": MX, "relay": RELAY}.get(name, SUBMISSION)
        handler = MailHandler(
            mode=mode, lmtp=self.lmtp, executor=self.executor, max_recipients=self.max_recipients
        )
        common = dict(
            hostname=self.hostname,
            ident="mailsuite ESMTP",
            data_size_limit=self.max_message_size,
            enable_SMTPUTF8=True,
            timeout=300,
        )
        if name == "relay":
            # INTERNAL_BIND only, trusted peers only (checked at MAIL): Sieve's outgoing mail.
            return lambda: MailSMTP(handler, auth_exclude_mechanism=["PLAIN", "LOGIN"], **common)
        if name == "smtp_mx":
            # STARTTLS offered, never required; no AUTH on the MX.
            return lambda: MailSMTP(
                handler,
                tls_context=self.tls_context,
                auth_require_tls=True,
                auth_exclude_mechanism=["PLAIN", "LOGIN"],
                **common,
            )
        if name == "smtps":
            # The whole connection is TLS already: aiosmtpd's STARTTLS-based auth_require_tls check
            # does not know it, so the handler checks the transport itself (and aiosmtpd's warning
            # about AUTH without TLS, false here, is silenced).
            def implicit_tls() -> MailSMTP:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    return MailSMTP(handler, auth_required=True, auth_require_tls=False, **common)

            return implicit_tls
        return lambda: MailSMTP(
            handler,
            tls_context=self.tls_context,
            require_starttls=True,
            auth_required=True,
            auth_require_tls=True,
            **common,
        )

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        for listener in self.listeners:
            host = self.internal_host if listener.name == "relay" else self.host
            server = await loop.create_server(
                self._factory(listener.name),
                host=host,
                port=listener.port,
                ssl=self.tls_context if listener.name == "smtps" else None,
                reuse_address=True,
            )
            self._servers.append(server)
            self.ports[listener.name] = server.sockets[0].getsockname()[1]
            self.addresses[listener.name] = server.sockets[0].getsockname()[0]
            logger.info("smtpd %s listening on %s:%d", listener.name, host, self.ports[listener.name])

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()

    def serve_forever(self) -> None:
        async def main() -> None:
            await self.open()
            try:
                await asyncio.Event().wait()
            finally:
                await self.close()

        try:
            asyncio.run(main())
        finally:
            self._shutdown_executor()

    # Background-thread mode (tests, benchmarks) ------------------------------------------------

    def start(self) -> "SMTPService":
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.open())
            except BaseException as exc:  # noqa: BLE001
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.close())
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

        self._thread = threading.Thread(target=run, name="smtpd-loop", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)
        self._shutdown_executor()

    def _shutdown_executor(self) -> None:
        """Close the database connection of every worker thread (each thread runs exactly one of
        these tasks thanks to the barrier), then stop the pool."""
        barrier = threading.Barrier(self.max_workers, timeout=10)

        def close_connections() -> None:
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                pass
            connections.close_all()
            close_pooled_session()

        futures = [self.executor.submit(close_connections) for _ in range(self.max_workers)]
        for future in futures:
            future.result(timeout=30)
        self.executor.shutdown(wait=True)
