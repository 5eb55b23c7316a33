"""Local delivery to Dovecot over LMTP (TCP): the only module that talks LMTP.

One recipient per LMTP transaction: `smtplib.LMTP.sendmail` with several recipients reads a
single reply after DATA and silently loses the per-recipient others.
"""

import smtplib
import socket
import threading
import time
from dataclasses import dataclass

from mailstore.newmail import new_mail_published


class LMTPError(Exception):
    """Delivery refused or impossible. `code` is the SMTP reply code (421 when unreachable).

    `outcome_unknown`: the connection broke once the message was being sent (DATA), before
    Dovecot's reply arrived: the copy may or may not be in the mailbox."""

    def __init__(self, code: int, message: str, *, outcome_unknown: bool = False):
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message
        self.outcome_unknown = outcome_unknown

    @property
    def temporary(self) -> bool:
        return not 500 <= self.code < 600

    @property
    def reply(self) -> str:
        """The reply as one SMTP line, e.g. '552 5.2.2 <a@b> Quota exceeded'."""
        return f"{self.code} {self.message}"


@dataclass(frozen=True)
class LMTPEndpoint:
    host: str
    port: int
    timeout: float = 30.0


def _text(resp: bytes | str) -> str:
    if isinstance(resp, bytes):
        resp = resp.decode("utf-8", "replace")
    return " ".join(resp.split())


class LMTPSession:
    """A connection to Dovecot's LMTP listener, used for one or more single-recipient
    transactions. Use as a context manager."""

    def __init__(self, endpoint: LMTPEndpoint):
        self.endpoint = endpoint
        self._conn: smtplib.LMTP | None = None
        self.last_used = 0.0

    def __enter__(self) -> "LMTPSession":
        try:
            conn = smtplib.LMTP(timeout=self.endpoint.timeout)
            # An SMTPUTF8 sender (jörg@exämple.de) is passed on as UTF-8: Dovecot's LMTP accepts
            # it (without advertising SMTPUTF8); smtplib's default ASCII would raise and turn
            # every such message into a 451 retried until the sender gives up.
            conn.command_encoding = "utf-8"
            conn.connect(self.endpoint.host, self.endpoint.port)
            code, resp = conn.ehlo()  # LHLO
            if code != 250:
                raise LMTPError(421, f"4.4.2 LMTP LHLO refused: {_text(resp)}")
        except (OSError, smtplib.SMTPException) as exc:
            raise LMTPError(421, f"4.4.1 Local delivery unavailable ({exc.__class__.__name__})") from exc
        self._conn = conn
        return self

    def __exit__(self, *exc_info) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (OSError, smtplib.SMTPException):
                self._conn.close()
            self._conn = None

    def deliver(self, *, sender: str, recipient: str, data: bytes, mailbox_id: int | None = None) -> str:
        """Deliver one copy; returns Dovecot's reply text, raises LMTPError. With `mailbox_id`, a
        delivered copy is announced on the mailbox's new-mail channel (mailstore.newmail: Ping).

        A kept-open connection found closed at MAIL FROM (nothing sent yet) is reopened once."""
        if self._conn is None:
            self.__enter__()
        try:
            code, resp = self._conn.mail(sender)
        except (OSError, smtplib.SMTPServerDisconnected):
            code, resp = 421, b"connection lost"
        if code == 421:
            # Closed under us, or a "421 Shutting down" Dovecot left in the socket when it
            # restarted: nothing was sent yet, so a fresh connection is safe.
            try:
                self._conn.close()
            except (OSError, AttributeError):
                pass
            self._conn = None
            self.__enter__()
            code, resp = self._command(lambda c: c.mail(sender))
        if code != 250:
            self._reset()
            raise LMTPError(code, _text(resp))
        code, resp = self._command(lambda c: c.rcpt(recipient))
        if code not in (250, 251):
            self._reset()
            raise LMTPError(code, _text(resp))
        code, resp = self._command(lambda c: c.data(data), sending_message=True)
        if code != 250:
            self._reset()
            # Dovecot's LMTP, told to shut down (its master process killed), answers "421 4.3.2
            # Shutting down" even to a message it has already saved: measured, not assumed.
            raise LMTPError(code, _text(resp), outcome_unknown=code == 421)
        self.last_used = time.monotonic()
        if mailbox_id is not None:
            new_mail_published(mailbox_id=mailbox_id)
        return f"{code} {_text(resp)}"

    def _command(self, call, *, sending_message: bool = False):
        try:
            return call(self._conn)
        except smtplib.SMTPResponseException as exc:
            return exc.smtp_code, exc.smtp_error
        except (OSError, smtplib.SMTPException) as exc:
            self._conn = None
            raise LMTPError(
                421,
                f"4.4.2 Local delivery interrupted ({exc.__class__.__name__})",
                outcome_unknown=sending_message,
            ) from exc

    def _reset(self) -> None:
        try:
            self._conn.rset()
            # smtplib's rset() puts the command encoding back to ASCII: the next transaction on
            # this kept-open connection must still pass a UTF-8 sender on.
            self._conn.command_encoding = "utf-8"
        except (OSError, smtplib.SMTPException, AttributeError):
            self._conn = None

    def check_alive(self) -> bool:
        if self._conn is None:
            return False
        try:
            return self._conn.noop()[0] == 250
        except (OSError, smtplib.SMTPException):
            self._conn = None
            return False


def deliver_one(
    endpoint: LMTPEndpoint, *, sender: str, recipient: str, data: bytes, mailbox_id: int | None = None
) -> str:
    with LMTPSession(endpoint) as session:
        return session.deliver(sender=sender, recipient=recipient, data=data, mailbox_id=mailbox_id)


def probe(endpoint: LMTPEndpoint) -> bool:
    """True when something accepts TCP connections at the endpoint."""
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=2):
            return True
    except OSError:
        return False


# One kept-open LMTP connection per worker thread of the SMTP server: saves the connect and LHLO
# of every message. A connection found dead (Dovecot restarted, idle timeout) is replaced.
_pool = threading.local()


def pooled_session(endpoint: LMTPEndpoint) -> LMTPSession:
    session: LMTPSession | None = getattr(_pool, "session", None)
    if session is not None and session.endpoint == endpoint and session._conn is not None:
        # Used in the last few seconds: trust it (deliver() reopens it if it died at MAIL FROM);
        # idle longer: one NOOP first.
        if time.monotonic() - session.last_used < 5 or session.check_alive():
            return session
    if session is not None:
        session.__exit__(None, None, None)
        _pool.session = None
    session = LMTPSession(endpoint).__enter__()
    _pool.session = session
    return session


def close_pooled_session() -> None:
    session: LMTPSession | None = getattr(_pool, "session", None)
    if session is not None:
        session.__exit__(None, None, None)
        _pool.session = None
