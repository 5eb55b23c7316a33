"""Where an address lives: a mailbox hosted here, an unknown address of a hosted domain, or a
remote domain. Read by the SMTP server at RCPT time (no tenant scope: the server acts for the
whole system)."""

import time
from dataclasses import dataclass
from enum import Enum

from django.conf import settings

from domains.models import Domain, Mailbox


class Kind(Enum):
    LOCAL = "local"  # an active mailbox of an active hosted domain
    UNKNOWN = "unknown"  # a hosted domain, but no such active mailbox
    REMOTE = "remote"  # not hosted here


@dataclass(frozen=True)
class Route:
    kind: Kind
    address: str
    domain_id: int | None = None
    mailbox_id: int | None = None


@dataclass(frozen=True)
class Sender:
    """The authenticated submitter: its mailbox, read fresh at each check."""

    mailbox_id: int
    address: str
    domain_id: int
    domain_name: str
    send_limit: int
    active: bool


def split_address(address: str) -> tuple[str, str]:
    local, _, domain = address.rpartition("@")
    return local, domain.lower().rstrip(".")


def resolve(address: str) -> Route:
    local, domain_name = split_address(address)
    if not local or not domain_name:
        return Route(Kind.UNKNOWN, address)
    # One query in the common case (an existing mailbox); a second only to tell unknown from remote.
    row = (
        Mailbox.objects.filter(domain__name=domain_name, local_part=local.lower())
        .values_list("id", "is_active", "receive_while_suspended", "domain_id", "domain__is_active")
        .first()
    )
    if row is not None:
        mailbox_id, active, receives_while_suspended, domain_id, domain_active = row
        # A suspended mailbox may still receive (a choice of the control panel's suspend page).
        if (active or receives_while_suspended) and domain_active:
            return Route(
                Kind.LOCAL, f"{local.lower()}@{domain_name}", domain_id=domain_id, mailbox_id=mailbox_id
            )
        return Route(Kind.UNKNOWN, address, domain_id=domain_id)
    domain_id = Domain.objects.filter(name=domain_name).values_list("id", flat=True).first()
    if domain_id is None:
        return Route(Kind.REMOTE, address)
    return Route(Kind.UNKNOWN, address, domain_id=domain_id)


# RCPT answers for hosted mailboxes, kept a few seconds per process: one database round trip less
# per message on a busy MX. Only "this mailbox exists" is remembered; Dovecot's LMTP checks the
# user again at delivery, so a mailbox deactivated or deleted within the TTL is still refused
# (550 5.1.1 at DATA), and a new mailbox is never refused by a stale entry.
_route_cache: dict[str, tuple[float, Route]] = {}
_ROUTE_CACHE_MAX = 50_000


def resolve_for_rcpt(address: str) -> Route:
    ttl = settings.SMTP_ROUTE_CACHE_SECONDS
    key = address.lower()
    now = time.monotonic()
    hit = _route_cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    route = resolve(address)
    if ttl > 0 and route.kind == Kind.LOCAL:
        if len(_route_cache) >= _ROUTE_CACHE_MAX:
            _route_cache.clear()
        _route_cache[key] = (now + ttl, route)
    return route


def route_cache_clear() -> None:
    _route_cache.clear()


def sender_for(mailbox_id: int) -> Sender | None:
    mailbox = (
        Mailbox.objects.select_related("domain")
        .only(
            "id", "local_part", "send_limit", "is_active", "domain__id", "domain__name", "domain__is_active"
        )
        .filter(pk=mailbox_id)
        .first()
    )
    if mailbox is None:
        return None
    return Sender(
        mailbox_id=mailbox.pk,
        address=mailbox.address,
        domain_id=mailbox.domain_id,
        domain_name=mailbox.domain.name,
        send_limit=int(mailbox.send_limit),
        active=mailbox.is_active and mailbox.domain.is_active,
    )


def sender_by_address(address: str) -> Sender | None:
    """The hosted mailbox behind an envelope sender (relay listener), or None."""
    local, domain_name = split_address(address)
    mailbox_id = (
        Mailbox.objects.filter(domain__name=domain_name, local_part=local.lower())
        .values_list("id", flat=True)
        .first()
    )
    return sender_for(mailbox_id) if mailbox_id is not None else None


def hosted_domain_id(address: str) -> int | None:
    _, domain_name = split_address(address)
    return Domain.objects.filter(name=domain_name).values_list("id", flat=True).first()


def canonical_address(address: str) -> str:
    """An address as the send-as rule compares it: lower case, the domain in ASCII (IDNA), no
    trailing dot. Local parts here are lower-case dot-atoms, so lower-casing them is exact."""
    local, _, domain = address.strip().rpartition("@")
    domain = domain.lower().rstrip(".")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        pass  # left as it is: it matches no hosted domain, so it is refused
    return f"{local.lower()}@{domain}"


def addresses_a_mailbox_may_send_as(sender: Sender) -> frozenset[str]:
    """The header From / Sender addresses a mailbox may use (canonical form). Today its own
    address; aliases will add theirs here, and every caller (submission, the Sieve relay, the
    webmail) follows."""
    return frozenset({canonical_address(sender.address)})


def may_send_as(sender: Sender, address: str) -> bool:
    return canonical_address(address) in addresses_a_mailbox_may_send_as(sender)
