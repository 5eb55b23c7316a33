"""Local delivery to Dovecot over LMTP (TCP): the only module that talks LMTP.

One recipient per LMTP transaction: `smtplib.LMTP.sendmail` with several recipients reads a
single reply after DATA and silently loses the per-recipient others.
"""

import smtplib
import socket
from dataclasses import dataclass


class LMTPError(Exception):
    """Delivery refused or impossible. `code` is the SMTP reply code (421 when unreachable)."""

    def __init__(self, code: int, message: str):
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message

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

    def __enter__(self) -> "LMTPSession":
        try:
            conn = smtplib.LMTP(timeout=self.endpoint.timeout)
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

    def deliver(self, *, sender: str, recipient: str, data: bytes) -> str:
        """Deliver one copy; returns Dovecot's reply text, raises LMTPError."""
        if self._conn is None:
            self.__enter__()
        conn = self._conn
        try:
            conn.sendmail(sender, [recipient], data)
        except smtplib.SMTPRecipientsRefused as exc:
            code, resp = exc.recipients[recipient]
            self._reset()
            raise LMTPError(code, _text(resp)) from exc
        except smtplib.SMTPSenderRefused as exc:
            self._reset()
            raise LMTPError(exc.smtp_code, _text(exc.smtp_error)) from exc
        except smtplib.SMTPResponseException as exc:  # DATA refused (e.g. 552 at DATA)
            self._reset()
            raise LMTPError(exc.smtp_code, _text(exc.smtp_error)) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self._conn = None
            raise LMTPError(421, f"4.4.2 Local delivery interrupted ({exc.__class__.__name__})") from exc
        return "250 2.0.0 delivered"

    def _reset(self) -> None:
        try:
            self._conn.rset()
        except (OSError, smtplib.SMTPException, AttributeError):
            self._conn = None

    @property
    def alive(self) -> bool:
        return self._conn is not None


def deliver_one(endpoint: LMTPEndpoint, *, sender: str, recipient: str, data: bytes) -> str:
    with LMTPSession(endpoint) as session:
        return session.deliver(sender=sender, recipient=recipient, data=data)


def probe(endpoint: LMTPEndpoint) -> bool:
    """True when something accepts TCP connections at the endpoint."""
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=2):
            return True
    except OSError:
        return False
