"""Inbound filtering on the MX: what rspamd's verdict means for one message, before the 250.

- Headers a sender could forge to steer us are removed first: any `X-Spam*` header (the global
  Sieve script files `X-Spam: Yes` in Junk) and any `Authentication-Results:` whose authserv-id
  is the suite's own host name (RFC 8601 §5: a receiver removes those claiming to be its own).
  rspamd scans the message without them.
- DMARC p=reject (DMARC_POLICY_REJECT) → 550 5.7.1; a virus (ClamAV, MAILSUITE_CLAMAV) → 554
  5.7.1 saying so; rspamd's reject action → 554 5.7.1; the virus scanner unreachable → 451 4.3.0;
  soft reject (greylisting, rate limits) → 451 4.7.1.
- Spam (add header / rewrite subject, a score at or above MAILSUITE_RSPAMD_SPAM_SCORE, DMARC
  p=quarantine) → `X-Spam: Yes`, filed in Junk by the global Sieve script.
- Every accepted message gets rspamd's `Authentication-Results:` (authserv-id = the host name)
  and `X-Spam-Score:`.
- rspamd down → 451 4.3.0 (the sender retries; nothing was accepted, so nothing is lost), or with
  MAILSUITE_RSPAMD_FAIL_OPEN the message is accepted with `X-Spam-Status: unchecked`.

Mail that arrives on the MX is never internal, whatever domain it claims: it is checked like any
other (the rspamd configuration gives no trust to local or authenticated peers).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from django.conf import settings

from mta import rdns
from mta.rspamd import (
    CLAMAV_FAIL_SYMBOL,
    CLAMAV_SYMBOL,
    REJECT,
    SOFT_REJECT,
    RspamdUnavailable,
    Verdict,
    rspamd_check,
)

logger = logging.getLogger(__name__)

# What Tracemail records (TracemailEntry.spam_verdict).
CLEAN, SPAM, REJECTED, DEFERRED, UNFILTERED = "clean", "spam", "rejected", "deferred", "unfiltered"

DMARC_REJECT_REPLY = "550 5.7.1 Message rejected: the sender's domain DMARC policy (p=reject) failed"
SPAM_REJECT_REPLY = "554 5.7.1 Message rejected as spam"
VIRUS_REJECT_REPLY = "554 5.7.1 Message rejected: it contains a virus"
VIRUS_SCANNER_REPLY = "451 4.3.0 Virus scanner unavailable, please try again later"
SOFT_REJECT_REPLY = "451 4.7.1 Message deferred by the filter, please try again later"
UNAVAILABLE_REPLY = "451 4.3.0 Message filter unavailable, please try again later"
UNCHECKED_HEADER = b"X-Spam-Status: unchecked (the filter was unavailable; accepted unfiltered)\r\n"


@dataclass(frozen=True)
class Filtered:
    reply: str  # "" = go on and deliver `content`; else the SMTP reply, nothing accepted
    content: bytes
    verdict: str  # CLEAN, SPAM, REJECTED, DEFERRED, UNFILTERED
    score: float | None = None


_HEADER_NAME = re.compile(rb"^([!-9;-~]+)[ \t]*:")


def _header_blocks(head: bytes) -> list[bytes]:
    """The header block as whole fields (each with its folded continuation lines)."""
    fields: list[bytes] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\r\n" + line
        else:
            fields.append(line)
    return [f for f in fields if f]


def _authserv_id(value: bytes) -> bytes:
    """The authserv-id of an Authentication-Results value: the first token, before `;`, any
    comment or version number."""
    text = re.sub(rb"\([^)]*\)", b" ", value.replace(b"\r\n", b" "))
    return (text.split(b";", 1)[0].split() or [b""])[0].lower()


def without_forged_headers(content: bytes, *, hostname: str) -> bytes:
    """`content` without X-Spam* headers and without Authentication-Results claiming `hostname`."""
    head, sep, body = content.partition(b"\r\n\r\n")
    if not sep:
        head, body = content, b""
    own = hostname.lower().encode("utf-8")
    kept: list[bytes] = []
    dropped = 0
    for field in _header_blocks(head):
        match = _HEADER_NAME.match(field)
        name = match.group(1).lower() if match else b""
        if name.startswith(b"x-spam"):
            dropped += 1
            continue
        if name == b"authentication-results" and _authserv_id(field[match.end() :]) == own:
            dropped += 1
            continue
        kept.append(field)
    if not dropped:
        return content
    return b"\r\n".join(kept) + b"\r\n\r\n" + body


def _header(name: str, value: str) -> bytes:
    # rspamd folds its values with CRLF + tab already; anything else stays one line.
    value = value.replace("\r\n", "\n").replace("\r", "").replace("\n", "\r\n")
    return f"{name}: {value}\r\n".encode("utf-8", "replace")


def inbound_filter(
    *,
    content: bytes,
    sender: str,
    recipients: list[str],
    client_ip: str | None,
    helo: str,
    hostname: str,
    queue_id: str = "",
) -> Filtered:
    """Sync (a worker thread): rspamd's verdict on one MX message, and the message to deliver."""
    content = without_forged_headers(content, hostname=hostname)
    if not settings.RSPAMD_FILTERING:
        return Filtered(reply="", content=content, verdict=UNFILTERED)
    try:
        verdict: Verdict = rspamd_check(
            content=content,
            sender=sender,
            recipients=recipients,
            client_ip=client_ip,
            helo=helo,
            hostname=hostname,
            client_hostname=rdns.client_hostname(client_ip),
            queue_id=queue_id,
        )
    except RspamdUnavailable as exc:
        if settings.RSPAMD_FAIL_OPEN:
            logger.warning("DATA %s: rspamd unavailable, accepted unfiltered: %s", queue_id, exc)
            return Filtered(reply="", content=UNCHECKED_HEADER + content, verdict=UNFILTERED)
        logger.warning("DATA %s: rspamd unavailable, 451: %s", queue_id, exc)
        return Filtered(reply=UNAVAILABLE_REPLY, content=content, verdict=DEFERRED)
    score = round(verdict.score, 2)
    if verdict.dmarc_reject:
        return Filtered(reply=DMARC_REJECT_REPLY, content=content, verdict=REJECTED, score=score)
    if CLAMAV_SYMBOL in verdict.symbols:
        logger.warning("DATA %s: virus found, 554: %s", queue_id, verdict.message)
        return Filtered(reply=VIRUS_REJECT_REPLY, content=content, verdict=REJECTED, score=score)
    if CLAMAV_FAIL_SYMBOL in verdict.symbols:
        logger.warning("DATA %s: virus scanner unavailable, 451", queue_id)
        return Filtered(reply=VIRUS_SCANNER_REPLY, content=content, verdict=DEFERRED, score=score)
    if verdict.action == REJECT or verdict.score >= settings.RSPAMD_REJECT_SCORE:
        return Filtered(reply=SPAM_REJECT_REPLY, content=content, verdict=REJECTED, score=score)
    if verdict.action in (SOFT_REJECT, "greylist"):
        return Filtered(reply=SOFT_REJECT_REPLY, content=content, verdict=DEFERRED, score=score)
    added = _header("Authentication-Results", verdict.authentication_results or f"{hostname}; none")
    added += _header("X-Spam-Score", f"{score:.2f}")
    if verdict.spam:
        added += b"X-Spam: Yes\r\n"
    return Filtered(reply="", content=added + content, verdict=SPAM if verdict.spam else CLEAN, score=score)
