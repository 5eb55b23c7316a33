"""Remote delivery: the only module that talks SMTP to other servers.

With settings.OUTBOUND_RELAY ("host:port") every message goes to that relay; when it is empty
the recipient domain's MX records are looked up (dnspython), falling back to the A record.
STARTTLS is used when the peer offers it (opportunistic, as MTAs do between themselves).
"""

import smtplib
import ssl
from dataclasses import dataclass

import dns.exception
import dns.resolver
from django.conf import settings


class OutboundError(Exception):
    def __init__(self, code: int, message: str, *, remote_host: str = ""):
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message
        self.remote_host = remote_host

    @property
    def permanent(self) -> bool:
        return 500 <= self.code < 600


@dataclass(frozen=True)
class Delivered:
    remote_host: str
    reply: str


def _targets(recipient: str) -> list[tuple[str, int]]:
    relay = settings.OUTBOUND_RELAY.strip()
    if relay:
        host, _, port = relay.rpartition(":")
        return [(host or relay, int(port) if host else 25)]
    domain = recipient.rpartition("@")[2].lower()
    try:
        answers = dns.resolver.resolve(domain, "MX", lifetime=10)
        records = sorted(answers, key=lambda r: r.preference)
        hosts = [str(r.exchange).rstrip(".") for r in records]
        if hosts == [""]:  # null MX (RFC 7505): the domain accepts no mail
            raise OutboundError(556, "5.1.10 Recipient domain does not accept mail (null MX)")
        return [(h, 25) for h in hosts]
    except dns.resolver.NXDOMAIN as exc:
        raise OutboundError(550, f"5.1.2 Recipient domain {domain} does not exist") from exc
    except dns.resolver.NoAnswer:
        return [(domain, 25)]
    except dns.exception.DNSException as exc:
        raise OutboundError(451, f"4.4.3 DNS lookup for {domain} failed") from exc


def _text(resp: bytes | str) -> str:
    if isinstance(resp, bytes):
        resp = resp.decode("utf-8", "replace")
    return " ".join(resp.split())


def _try_host(host: str, port: int, *, sender: str, recipient: str, data: bytes) -> Delivered:
    label = f"{host}:{port}"
    try:
        with smtplib.SMTP(
            host, port, local_hostname=settings.MAIL_HOSTNAME, timeout=settings.OUTBOUND_TIMEOUT
        ) as smtp:
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                smtp.starttls(context=ctx)
                smtp.ehlo()
            # Non-ASCII envelope addresses need the peer's SMTPUTF8; without it the copy cannot
            # be sent as is (RFC 6531 §3.2): a permanent failure, bounced, not retried for days.
            needs_utf8 = not (sender.isascii() and recipient.isascii())
            if needs_utf8 and not smtp.has_extn("smtputf8"):
                raise OutboundError(
                    550, "5.6.7 Non-ASCII address and the remote server lacks SMTPUTF8", remote_host=label
                )
            refused = smtp.sendmail(
                sender, [recipient], data, mail_options=["SMTPUTF8"] if needs_utf8 else []
            )
            if refused:  # cannot happen with one recipient, kept for clarity
                code, resp = refused[recipient]
                raise OutboundError(code, _text(resp), remote_host=label)
            return Delivered(remote_host=label, reply="250")
    except smtplib.SMTPRecipientsRefused as exc:
        code, resp = exc.recipients[recipient]
        raise OutboundError(code, _text(resp), remote_host=label) from exc
    except smtplib.SMTPResponseException as exc:
        raise OutboundError(exc.smtp_code, _text(exc.smtp_error), remote_host=label) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise OutboundError(
            421, f"4.4.1 Cannot reach {label} ({exc.__class__.__name__})", remote_host=label
        ) from exc


def send(*, sender: str, recipient: str, data: bytes) -> Delivered:
    """Deliver one copy to one recipient. Raises OutboundError (permanent or temporary)."""
    last: OutboundError | None = None
    for host, port in _targets(recipient):
        try:
            return _try_host(host, port, sender=sender, recipient=recipient, data=data)
        except OutboundError as exc:
            if exc.permanent:
                raise
            last = exc  # a temporary failure: try the next MX
    assert last is not None
    raise last
