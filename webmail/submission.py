"""Sending through the project's own submission server (STARTTLS on MAIL_PORTS["submission"]),
so send limits, Tracemail and the archive apply to webmail mail exactly as to a phone's.

How the webmail authenticates there: it does not keep the user's password. The first send of a
web session creates an app password named "webmail session …" (accounts.services, SHA-256
stored; Dovecot and SMTP accept it even with 2FA on), the clear token lives only in that web
session, and logging out revokes it; tokens of sessions that simply expired are revoked by
webmail.services.session_tokens_purge (daily). The user's app-password list hides them.

The one error type is SendRefused: it carries the server's reply and a message in the
user's language."""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from mta import headerfrom, lineendings, routing


@dataclass
class SendRefused(Exception):
    message: str  # for the user, in their language
    reply: str = ""  # the server's own reply, shown beside it
    temporary: bool = False
    auth: bool = False  # the session token was refused: make a new one and retry once

    def __str__(self) -> str:
        return f"{self.message} ({self.reply})" if self.reply else self.message


@dataclass
class SendResult:
    refused: dict[str, str] = field(default_factory=dict)  # recipient → explanation (partial send)


def _tls_context() -> ssl.SSLContext:
    ca = settings.WEBMAIL_SUBMISSION_CA or settings.TLS_CERT_FILE
    ctx = ssl.create_default_context()
    if ca and Path(ca).exists():
        ctx.load_verify_locations(cafile=str(ca))
    ctx.check_hostname = False  # loopback: the name is the mail host's, the address is 127.0.0.1
    return ctx


def _reply(code: int, text: bytes | str) -> str:
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {text}".strip()


_NUMBER = re.compile(r"\b(\d[\d.,]*)\b")


def explain(code: int, reply: str, *, recipient: str = "") -> str:
    """The server's refusal in the user's language, from the reply code and enhanced status."""
    enhanced = reply.split(" ", 2)[1] if reply.count(" ") >= 1 else ""
    if 400 <= code < 500:
        return _("The mail server cannot accept the message right now; try again in a few minutes.")
    if enhanced == "5.1.1":
        return _("The address %(rcpt)s does not exist.") % {"rcpt": recipient or "?"}
    if enhanced == "5.2.2":
        return _("The mailbox of %(rcpt)s is full.") % {"rcpt": recipient or "?"}
    if enhanced == "5.3.4" or code == 552:
        return _("The message is larger than the server accepts.")
    if enhanced.startswith("5.7") and (
        "00:00" in reply or "limit" in reply.lower() or "limite" in reply.lower()
    ):
        numbers = [n for n in _NUMBER.findall(reply.split(" ", 2)[-1]) if n not in ("00", "00:00")]
        limit = numbers[0] if numbers else "?"
        return _(
            "You reached your daily limit of %(limit)s external recipients; "
            "it resets at midnight (Europe/Rome)."
        ) % {"limit": limit}
    if code == 553 and enhanced == "5.7.1":
        return _("The sender of this message is not an address you may send as.")
    if enhanced in ("5.7.8", "5.7.0") and code == 535:
        return _("The mail server refused the webmail's credentials.")
    if enhanced == "5.7.1" and recipient:
        return _("The server refuses to deliver to %(rcpt)s.") % {"rcpt": recipient}
    return _("The mail server refused the message.")


def author_refusal(*, sender: str, data: bytes) -> SendRefused | None:
    """The submission server's From/Sender rule (mta.routing.may_send_as), checked before
    connecting so the user gets it in their language; the server checks it again."""
    who = routing.sender_by_address(sender)
    if who is None:
        return SendRefused(_("The mail server refused the message."), reply="553 5.7.1 unknown sender")
    problem = headerfrom.foreign_author(lineendings.normalise(data), lambda a: routing.may_send_as(who, a))
    if problem is None:
        return None
    return SendRefused(
        _("You can send only as your own address, %(address)s.") % {"address": who.address},
        reply=f"553 5.7.1 {problem}",
    )


def send(*, login: str, token: str, sender: str, recipients: list[str], data: bytes) -> SendResult:
    refusal = author_refusal(sender=sender, data=data)
    if refusal is not None:
        raise refusal
    host = settings.MAIL_BIND
    port = settings.MAIL_PORTS["submission"]
    try:
        client = smtplib.SMTP(host, port, timeout=60)
    except (OSError, socket.timeout) as exc:
        raise SendRefused(
            _("The mail server cannot be reached; try again in a few minutes."),
            reply=str(exc),
            temporary=True,
        ) from exc
    try:
        client.starttls(context=_tls_context())
        try:
            client.login(login, token)
        except smtplib.SMTPAuthenticationError as exc:
            reply = _reply(exc.smtp_code, exc.smtp_error)
            raise SendRefused(
                explain(exc.smtp_code, reply),
                reply=reply,
                auth=exc.smtp_code == 535,
                temporary=400 <= exc.smtp_code < 500,
            ) from exc
        try:
            refused = client.sendmail(sender, recipients, data)
        except smtplib.SMTPRecipientsRefused as exc:
            rcpt, (code, text) = next(iter(exc.recipients.items()))
            reply = _reply(code, text)
            raise SendRefused(
                explain(code, reply, recipient=rcpt),
                reply=reply,
                temporary=all(400 <= c < 500 for c, _t in exc.recipients.values()),
            ) from exc
        except smtplib.SMTPSenderRefused as exc:
            reply = _reply(exc.smtp_code, exc.smtp_error)
            raise SendRefused(
                explain(exc.smtp_code, reply), reply=reply, temporary=400 <= exc.smtp_code < 500
            ) from exc
        except smtplib.SMTPDataError as exc:
            reply = _reply(exc.smtp_code, exc.smtp_error)
            raise SendRefused(
                explain(exc.smtp_code, reply), reply=reply, temporary=400 <= exc.smtp_code < 500
            ) from exc
        result = SendResult()
        for rcpt, (code, text) in refused.items():
            result.refused[rcpt] = (
                f"{explain(code, _reply(code, text), recipient=rcpt)} ({_reply(code, text)})"
            )
        return result
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPResponseException, OSError, ssl.SSLError) as exc:
        if isinstance(exc, SendRefused):
            raise
        raise SendRefused(
            _("The mail server cannot be reached; try again in a few minutes."),
            reply=str(exc),
            temporary=True,
        ) from exc
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()
