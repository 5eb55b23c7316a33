"""Handing a message to the suite's own submission server, as the mailbox itself (STARTTLS on
MAIL_PORTS["submission"], AUTH with the mailbox's credential): the send limit, the header From
rule, Tracemail and the archive apply as to any other client. ActiveSync's SendMail submits
this way with the credential the phone authenticated with. (webmail.submission does the same
with its own messages in the user's language; it can be rebased on this module.)

The one error type is SubmissionRefused, with the server's reply."""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings


@dataclass
class SubmissionRefused(Exception):
    code: int  # the SMTP reply code (0: no server reached)
    reply: str  # "553 5.7.1 ..." or the network error
    recipient: str = ""
    temporary: bool = False
    auth: bool = False  # the credential was refused

    def __str__(self) -> str:
        return self.reply

    @property
    def enhanced(self) -> str:
        parts = self.reply.split(" ", 2)
        return parts[1] if len(parts) > 1 else ""


def _tls_context() -> ssl.SSLContext:
    ca = settings.WEBMAIL_SUBMISSION_CA or settings.TLS_CERT_FILE
    ctx = ssl.create_default_context()
    if ca and Path(ca).exists():
        ctx.load_verify_locations(cafile=str(ca))
    ctx.check_hostname = False  # loopback: the certificate names the mail host, not 127.0.0.1
    return ctx


def _reply(code: int, text: bytes | str) -> str:
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {text}".strip()


def submit(*, login: str, secret: str, sender: str, recipients: list[str], data: bytes) -> dict[str, str]:
    """Submit `data`; returns the recipients the server refused (address → reply) when others
    were accepted. Raises SubmissionRefused when nothing was sent."""
    host, port = settings.MAIL_BIND, settings.MAIL_PORTS["submission"]
    try:
        client = smtplib.SMTP(host, port, timeout=60)
    except (OSError, socket.timeout) as exc:
        raise SubmissionRefused(0, str(exc), temporary=True) from exc
    try:
        client.starttls(context=_tls_context())
        try:
            client.login(login, secret)
        except smtplib.SMTPAuthenticationError as exc:
            raise SubmissionRefused(
                exc.smtp_code,
                _reply(exc.smtp_code, exc.smtp_error),
                temporary=400 <= exc.smtp_code < 500,
                auth=exc.smtp_code == 535,
            ) from exc
        try:
            refused = client.sendmail(sender, recipients, data)
        except smtplib.SMTPRecipientsRefused as exc:
            rcpt, (code, text) = next(iter(exc.recipients.items()))
            raise SubmissionRefused(
                code,
                _reply(code, text),
                recipient=rcpt,
                temporary=all(400 <= c < 500 for c, _t in exc.recipients.values()),
            ) from exc
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            raise SubmissionRefused(
                exc.smtp_code, _reply(exc.smtp_code, exc.smtp_error), temporary=400 <= exc.smtp_code < 500
            ) from exc
        return {rcpt: _reply(code, text) for rcpt, (code, text) in refused.items()}
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPResponseException, OSError, ssl.SSLError) as exc:
        raise SubmissionRefused(0, str(exc), temporary=True) from exc
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()
