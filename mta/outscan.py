"""Outbound scanning: a message leaving for the Internet (submission, the Sieve relay) is checked
by rspamd before the 250, so a compromised account cannot get the provider's addresses blacklisted.

The rule: spam is rspamd's "reject", "add header" or "rewrite subject" action, or a score at or
above MAILSUITE_RSPAMD_SPAM_SCORE (the score that files inbound mail in Junk); DMARC symbols do not
count (the author is authenticated). Spam is refused (554 5.7.1, nothing is sent, not even the
internal copies) and the mailbox's outgoing mail is put on hold (Mailbox.sending_held_at): every
further message to the outside is refused at RCPT until the postmaster releases it in the control
panel; mail within the suite still works. The domain's postmaster (and Manager) is emailed.

rspamd down → 451 4.3.0 (the client retries), or with MAILSUITE_RSPAMD_FAIL_OPEN sent unscanned.
rspamd is told the login (`User`), so it knows the message was authenticated.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings

from domains.services import mailbox_sending_hold
from mta import filtering
from mta.rspamd import REJECT, SPAM_ACTIONS, RspamdUnavailable, rspamd_check

logger = logging.getLogger(__name__)

SPAM_REPLY = (
    "554 5.7.1 Message refused: it was scored as spam (score %(score).1f); outgoing mail of this "
    "mailbox is now held, contact your postmaster"
)
HELD_REPLY = "550 5.7.1 Sending to external addresses suspended, contact your postmaster"


@dataclass(frozen=True)
class Scanned:
    reply: str  # "" = send it
    verdict: str  # filtering.CLEAN, SPAM, DEFERRED, UNFILTERED
    score: float | None = None


def outbound_scan(
    *,
    content: bytes,
    sender: str,
    recipients: list[str],
    client_ip: str | None,
    helo: str,
    hostname: str,
    login: str,
    mailbox_id: int,
    subject: str,
    queue_id: str = "",
) -> Scanned:
    """Sync (a worker thread): rspamd's verdict on a message with recipients outside the suite;
    on spam the mailbox's outgoing mail is held (domains service, audited, postmaster emailed)."""
    if not settings.RSPAMD_FILTERING:
        return Scanned(reply="", verdict=filtering.UNFILTERED)
    try:
        verdict = rspamd_check(
            content=content,
            sender=sender,
            recipients=recipients,
            client_ip=client_ip,
            helo=helo,
            hostname=hostname,
            queue_id=queue_id,
            user=login,
        )
    except RspamdUnavailable as exc:
        if settings.RSPAMD_FAIL_OPEN:
            logger.warning("DATA %s: rspamd unavailable, sent unscanned: %s", queue_id, exc)
            return Scanned(reply="", verdict=filtering.UNFILTERED)
        logger.warning("DATA %s: rspamd unavailable, 451: %s", queue_id, exc)
        return Scanned(reply=filtering.UNAVAILABLE_REPLY, verdict=filtering.DEFERRED)
    score = round(verdict.score, 2)
    spam = (
        verdict.action in SPAM_ACTIONS
        or verdict.action == REJECT
        or verdict.score >= settings.RSPAMD_SPAM_SCORE
    )
    if not spam:
        return Scanned(reply="", verdict=filtering.CLEAN, score=score)
    logger.warning("DATA %s: outgoing spam from %s (%s, %.2f): held", queue_id, login, verdict.action, score)
    mailbox_sending_hold(
        mailbox_id=mailbox_id,
        reason=f"spam score {score:.2f} ({verdict.action}): {', '.join(verdict.top_symbols)}",
        score=score,
        symbols=list(verdict.top_symbols),
        subject=subject,
    )
    return Scanned(reply=SPAM_REPLY % {"score": score}, verdict=filtering.SPAM, score=score)
