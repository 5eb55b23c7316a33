"""DKIM signatures on mail that leaves for the Internet (dkimpy, in-process).

Only messages whose author the server vouches for are signed: those accepted on submission or
on the Sieve relay, where the header From has passed the send-as rule (mta.handler). Mail the MX
receives and forwards is never signed with a hosted domain's key, whatever its From claims.

The signing domain is the header From's (its first address); it signs when that domain is hosted
and has an active key (domains.dkim), otherwise the message leaves unsigned. rsa-sha256,
relaxed/relaxed, the usual header fields when present, From signed twice so that no second From
can be added. A failure to sign never stops a message: it leaves unsigned and the log says why.

rspamd (inbound filtering) verifies signatures; signing stays here, where the key lives."""

import logging

import dkim

from domains.dkim import signing_key
from mta import headerfrom

logger = logging.getLogger(__name__)

SIGNED_FIELDS = (
    "from",
    "sender",
    "reply-to",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "list-unsubscribe",
)


def author_domain(data: bytes) -> str | None:
    """The ASCII (IDNA) domain of the header From's first address, or None."""
    froms = headerfrom.split(data).values("from")
    if len(froms) != 1:
        return None
    authors = headerfrom.parse_addresses("from", froms[0])
    if not authors:
        return None
    domain = authors[0].address.rpartition("@")[2].strip().rstrip(".").lower()
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None


def sign(data: bytes) -> bytes:
    """`data` (CRLF line ends) with a DKIM-Signature field on top, or unchanged when its author's
    domain has no active key (or the message cannot be signed)."""
    domain = author_domain(data)
    if domain is None:
        return data
    try:
        key = signing_key(domain)
        if key is None:
            return data
        present = {headerfrom.field_name(f) for f in headerfrom.split(data).fields}
        fields = [name.encode() for name in SIGNED_FIELDS if name in present] + [b"from"]
        signature = dkim.sign(
            data,
            key.selector.encode(),
            key.domain.encode(),
            key.private_pem,
            canonicalize=(b"relaxed", b"relaxed"),
            signature_algorithm=b"rsa-sha256",
            include_headers=fields,
        )
    except Exception:
        logger.exception("DKIM signing for %s failed: the message leaves unsigned", domain)
        return data
    return signature + data
