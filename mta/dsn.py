"""Delivery status notifications (RFC 3464): multipart/report sent to the sender of a message
that could not be delivered."""

import email.utils
from email.message import EmailMessage, Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _


def build_dsn(
    *, original: bytes, sender: str, recipient: str, status: str, diagnostic: str, remote_host: str = ""
) -> bytes:
    """`status` is the enhanced code (e.g. "5.1.1"); `diagnostic` the remote server's reply."""
    with translation.override(settings.LANGUAGE_CODE):
        human = MIMEText(
            _(
                "This is the mail system at %(host)s.\n\n"
                "Your message could not be delivered to %(recipient)s.\n\n"
                "Reason: %(diagnostic)s\n"
            )
            % {"host": settings.MAIL_HOSTNAME, "recipient": recipient, "diagnostic": diagnostic},
            "plain",
            "utf-8",
        )
        subject = _("Undelivered Mail Returned to Sender")

    # message/delivery-status: a block of per-message fields, then one block per recipient.
    per_message = Message()
    per_message["Reporting-MTA"] = f"dns; {settings.MAIL_HOSTNAME}"
    per_message["Arrival-Date"] = email.utils.format_datetime(timezone.now())
    per_recipient = Message()
    per_recipient["Final-Recipient"] = f"rfc822; {recipient}"
    per_recipient["Action"] = "failed"
    per_recipient["Status"] = status
    if remote_host:
        per_recipient["Remote-MTA"] = f"dns; {remote_host.rsplit(':', 1)[0]}"
    per_recipient["Diagnostic-Code"] = f"smtp; {diagnostic}"
    delivery_status = MIMEBase("message", "delivery-status")
    delivery_status.set_payload([per_message, per_recipient])

    headers_only = original.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    returned = MIMEText(headers_only + "\r\n", "rfc822-headers", "utf-8")
    returned.replace_header("Content-Type", "text/rfc822-headers")

    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = f"Mail Delivery System <MAILER-DAEMON@{settings.MAIL_HOSTNAME}>"
    report["To"] = sender
    report["Subject"] = subject
    report["Date"] = email.utils.format_datetime(timezone.now())
    report["Message-ID"] = email.utils.make_msgid(domain=settings.MAIL_HOSTNAME)
    report["Auto-Submitted"] = "auto-replied"
    report.attach(human)
    report.attach(delivery_status)
    report.attach(returned)
    return report.as_bytes(policy=EmailMessage().policy.clone(linesep="\r\n"))


def enhanced_status(code: int, message: str) -> str:
    """The enhanced status code at the start of a reply text, or one derived from the code."""
    first = message.split(" ", 1)[0]
    parts = first.split(".")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        return first
    return f"{str(code)[0]}.0.0"
