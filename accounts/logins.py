"""The canonical form of a login: one spelling per account, used to find it and to count it.

Many spellings reach the same account: full-width letters (ｍａｒｉｏ＠ａｃｍｅ.ｔｅｓｔ), soft
hyphens and zero-width characters, ideographic full stops (。．｡) between labels, upper case, a
trailing dot after the domain, a Unicode domain or its punycode. Every place that authenticates,
counts failures (accounts.bruteforce) or writes the access log passes the login through
`canonical_login` first, so all of them share one account and one brute-force budget.

The mapping is IDNA's (RFC 3491 nameprep, as Python's stdlib `idna` codec does it; UTS #46
transitional processing maps the same way for these characters):
  1. characters IDNA maps to nothing (stringprep table B.1: soft hyphen, zero-width space and
     joiners, word joiner, variation selectors, BOM) and the other invisible format characters
     (Unicode category Cf, e.g. bidi marks) are removed;
  2. NFKC, case fold, NFKC again (full-width and compatibility forms become plain letters);
  3. the domain (after the last '@') is split on any IDNA full stop, a trailing dot dropped, and
     each label encoded to ASCII (punycode); an ACE label (xn--) is decoded and encoded again,
     so a non-canonical punycode spelling lands on the canonical one.
A domain IDNA refuses keeps its mapped Unicode form (it cannot be a hosted domain, but its
counter is still shared by all its spellings). A login without '@' (Manager, Delegate, customer
area, staff) gets steps 1 and 2.

Stdlib only: the `idna` package (IDNA 2008 + UTS #46) is not a dependency, and for this mapping
the two agree; where they differ (code points assigned after Unicode 3.2, ß kept by IDNA 2008)
the domain cannot be a hosted one (domains are stored as ASCII, validated by
domains.validators) and the counter is still shared.
"""

from __future__ import annotations

import encodings.idna as _idna
import re
import stringprep
import unicodedata

MAX_LOGIN_LENGTH = 254

# Not in category Cf but invisible and ignored by IDNA / Default_Ignorable_Code_Point.
_IGNORED_EXTRA = {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0}
_FULL_STOPS = re.compile("[.\u3002\uff0e\uff61]")


def _ignored(char: str) -> bool:
    code = ord(char)
    return (
        stringprep.in_table_b1(char)
        or unicodedata.category(char) == "Cf"
        or 0x180B <= code <= 0x180F
        or 0xFE00 <= code <= 0xFE0F
        or 0xE0100 <= code <= 0xE01EF
        or code in _IGNORED_EXTRA
    )


def _fold(text: str) -> str:
    text = "".join(c for c in text if not _ignored(c))
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return "".join(c for c in text if not _ignored(c)).strip()


def _ascii_label(label: str) -> str:
    """One domain label in its canonical ASCII form; raises UnicodeError if IDNA refuses it."""
    if label.startswith("xn--"):
        try:
            label = label[4:].encode("ascii").decode("punycode")
        except (UnicodeError, ValueError) as exc:
            raise UnicodeError(str(exc)) from exc
        label = _fold(label)
    return _idna.ToASCII(label).decode("ascii").lower()


def canonical_domain(domain: str) -> str:
    """The canonical (ASCII, lower-case, no trailing dot) form of a domain name, or its mapped
    Unicode form when IDNA refuses it."""
    domain = _fold(domain or "")
    labels = _FULL_STOPS.split(domain)
    if labels and labels[-1] == "":
        labels.pop()  # a trailing dot: "acme.test." is "acme.test"
    try:
        return ".".join(_ascii_label(label) for label in labels)
    except UnicodeError:
        return ".".join(labels)


def canonical_login(login: str) -> str:
    """The one spelling of `login` used for authentication, counters and the access log."""
    text = _fold(login or "")
    local_part, at, domain = text.rpartition("@")
    if at:
        text = f"{local_part}@{canonical_domain(domain)}"
    return text[:MAX_LOGIN_LENGTH]


def looks_like_address(login: str) -> bool:
    """Does `login` contain an '@' once canonical (also a full-width or small '@')?"""
    return "@" in canonical_login(login)
