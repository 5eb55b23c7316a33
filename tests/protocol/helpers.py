"""Small client-side helpers for the protocol tests."""

import email.message
import imaplib
import poplib
import smtplib

from tests.protocol.mailplane import MailPlane


def imap_login(plane: MailPlane, login: str, password: str) -> tuple[bool, str]:
    """Log in over IMAPS; return (ok, server text). Always logs out."""
    imap = imaplib.IMAP4_SSL(plane.host, plane.ports["imaps"], ssl_context=plane.ssl_context(), timeout=15)
    try:
        typ, data = imap.login(login, password)
        imap.logout()
        return typ == "OK", data[0].decode()
    except imaplib.IMAP4.error as exc:
        imap.shutdown()
        return False, str(exc)


def pop3_login(plane: MailPlane, login: str, password: str) -> tuple[bool, str]:
    pop = poplib.POP3_SSL(plane.host, plane.ports["pop3s"], context=plane.ssl_context(), timeout=15)
    try:
        pop.user(login)
        reply = pop.pass_(password)
        pop.quit()
        return True, reply.decode()
    except poplib.error_proto as exc:
        pop.close()
        return False, str(exc)


def message(sender: str, recipient: str, *, size: int = 0, subject: str = "test") -> bytes:
    msg = email.message.EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, recipient, subject
    body = "hello\n" if size <= 0 else ("x" * 76 + "\n") * (size // 77 + 1)
    msg.set_content(body)
    return msg.as_bytes()


def lmtp_deliver(plane: MailPlane, recipient: str, data: bytes, sender: str = "sender@example.net"):
    """One LMTP transaction for one recipient; return (rcpt reply, data reply) as (code, text)."""
    with smtplib.LMTP(plane.host, plane.ports["lmtp"], timeout=30) as lmtp:
        lmtp.ehlo("test.local")
        lmtp.mail(sender)
        rcpt = lmtp.rcpt(recipient)
        if rcpt[0] != 250:
            return (rcpt[0], rcpt[1].decode()), None
        code, text = lmtp.data(data)
        return (rcpt[0], rcpt[1].decode()), (code, text.decode())
