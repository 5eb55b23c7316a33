"""The author fields of a message (From, Sender) read strictly, and the few header changes the
SMTP server makes for the send-as rule and the Sieve relay.

Works on the raw header block (CRLF line ends: `mta.lineendings.normalise` runs first), so the
body's bytes are never touched. The rule is an allow-list, so a parse that goes wrong refuses:
exactly one From field with at least one address; at most one Sender field; every address
allowed; any defect the standard library's RFC 5322 parser reports (an address it had to guess,
`me@here <evil@there>`, a stray angle bracket, a NUL) is a refusal. Replies stay in English: they
are SMTP protocol text.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from dataclasses import dataclass
from email.headerregistry import HeaderRegistry

_REGISTRY = HeaderRegistry()

# Pigeonhole prepends this header to every message its `redirect` sends, naming the mailbox
# whose script ran. The server renames every copy it receives, so the only one a message on
# the relay listener can carry is Pigeonhole's.
REDIRECTED_FROM = "x-sieve-redirected-from"
UNTRUSTED_REDIRECTED_FROM = b"X-Mailsuite-Untrusted-Sieve-Redirected-From"


@dataclass
class HeaderBlock:
    fields: list[bytes]  # each field with its folded lines and final CRLF
    rest: bytes  # the empty line and the body (b"" when the message has no body)

    def named(self, name: str) -> list[bytes]:
        return [f for f in self.fields if field_name(f) == name]

    def values(self, name: str) -> list[bytes]:
        return [unfold(f) for f in self.named(name)]

    def as_bytes(self) -> bytes:
        return b"".join(self.fields) + self.rest


def split(content: bytes) -> HeaderBlock:
    if content.startswith(b"\r\n"):
        return HeaderBlock(fields=[], rest=content)
    end = content.find(b"\r\n\r\n")
    head, rest = (content, b"") if end < 0 else (content[: end + 2], content[end + 2 :])
    fields: list[bytes] = []
    for line in head.splitlines(keepends=True):
        if fields and line[:1] in (b" ", b"\t"):
            fields[-1] += line  # a folded continuation
        else:
            fields.append(line)
    return HeaderBlock(fields=fields, rest=rest)


def field_name(field: bytes) -> str | None:
    """The lower-case name ("From :" counts as From, as lenient readers take it), or None for a
    line that is no field at all."""
    if b":" not in field:
        return None
    return field.split(b":", 1)[0].rstrip(b" \t").decode("ascii", "replace").lower()


def unfold(field: bytes) -> bytes:
    value = field.split(b":", 1)[1]
    return value.replace(b"\r\n", b"").replace(b"\n", b"").strip()


@dataclass(frozen=True)
class Author:
    display_name: str
    address: str


def parse_addresses(name: str, value: bytes) -> list[Author] | None:
    """The addresses of one address field, or None when it is not clean RFC 5322 (or 6532)."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return None
    try:
        header = _REGISTRY(name, text)
    except Exception:  # noqa: BLE001 - whatever the parser chokes on is a refusal
        return None
    if header.defects:
        return None
    authors = [Author(a.display_name, a.addr_spec) for a in header.addresses]
    if any(not a.address or "@" not in a.address for a in authors):
        return None
    return authors


def foreign_author(content: bytes, may_send_as: Callable[[str], bool]) -> str | None:
    """None when the header From (exactly one field) and Sender (at most one) name only
    addresses `may_send_as` allows; otherwise the reason, in English, naming the address."""
    block = split(content)
    froms = block.values("from")
    if not froms:
        return "The message has no From header"
    if len(froms) > 1:
        return "The message has more than one From header"
    authors = parse_addresses("from", froms[0])
    if not authors:
        return "The From header cannot be read as a list of addresses"
    for author in authors:
        if not may_send_as(author.address):
            return f"From <{_printable(author.address)}> is not an address this mailbox may send as"
    senders = block.values("sender")
    if len(senders) > 1:
        return "The message has more than one Sender header"
    if senders:
        sender = parse_addresses("sender", senders[0])
        if not sender or len(sender) != 1:
            return "The Sender header cannot be read as one address"
        if not may_send_as(sender[0].address):
            return f"Sender <{_printable(sender[0].address)}> is not an address this mailbox may send as"
    return None


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() and c.isascii() else "?" for c in text)[:254]


def rename(content: bytes, name: str, new_name: bytes) -> bytes:
    """Every field called `name` renamed to `new_name` (its value kept)."""
    if name.encode() not in content[: _head_end(content)].lower():
        return content  # the common case: no such field, no copy
    block = split(content)
    block.fields = [
        new_name + b":" + f.split(b":", 1)[1] if field_name(f) == name else f for f in block.fields
    ]
    return block.as_bytes()


def _head_end(content: bytes) -> int:
    end = content.find(b"\r\n\r\n")
    return len(content) if end < 0 else end


def redirected_from(content: bytes) -> list[bytes]:
    return split(content).values(REDIRECTED_FROM)


def sent_as(content: bytes, *, mailbox_address: str) -> bytes:
    """A redirected message whose author the mailbox does not own, made the mailbox's own, the
    way mailing lists answer DMARC: `From: "Boss via me@here" <me@here>`, the original author as
    Reply-To (unless the message has one), the original fields kept as X-Original-From /
    X-Original-Sender."""
    block = split(content)
    froms = block.values("from")
    authors = parse_addresses("from", froms[0]) if len(froms) == 1 else None
    first = authors[0] if authors else None
    name = (first.display_name or first.address) if first else ""
    display = f"{name} via {mailbox_address}" if name else ""
    new_from = email.utils.formataddr((display, mailbox_address), charset="utf-8")
    kept: list[bytes] = []
    originals: list[bytes] = []
    for f in block.fields:
        if field_name(f) == "from":
            originals.append(b"X-Original-From:" + f.split(b":", 1)[1])
        elif field_name(f) == "sender":
            originals.append(b"X-Original-Sender:" + f.split(b":", 1)[1])
        else:
            kept.append(f)
    added = [b"From: " + new_from.encode("ascii") + b"\r\n"]
    if first is not None and not block.named("reply-to"):
        added.append(b"Reply-To: " + froms[0] + b"\r\n")
    block.fields = kept + added + originals
    return block.as_bytes()
