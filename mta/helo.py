"""Which HELO/EHLO names the SMTP server takes: a host name or an address literal (RFC 5321
4.1.3), ASCII only. Anything else (control characters, spaces, quotes, brackets in the wrong
place) is refused with 501 instead of being copied into the Received: header of every copy."""

import ipaddress
import re

# Letters, digits, hyphens and underscores (Windows host names) in dot-separated labels; a
# single label ("localhost", "DESKTOP-1") is common enough from clients to be taken.
_HOSTNAME = re.compile(
    r"^(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
    r"(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$"
)


def valid_helo_name(name: str) -> bool:
    if name.startswith("[") and name.endswith("]"):
        literal = name[1:-1]
        if literal[:5].lower() == "ipv6:":
            return _is_ip(literal[5:], version=6)
        return _is_ip(literal, version=4)
    return bool(_HOSTNAME.match(name))


def _is_ip(text: str, *, version: int) -> bool:
    try:
        return ipaddress.ip_address(text).version == version
    except ValueError:
        return False
