"""Where an address lives: a mailbox hosted here, an unknown address of a hosted domain, or a
remote domain. Read by the SMTP server at RCPT time (no tenant scope: the server acts for the
whole system)."""

import logging
import time
from dataclasses import dataclass
from enum import Enum

from django.conf import settings

from domains import addresses
from domains.models import Address, AddressKind, Domain, DomainAlias, Mailbox, PostingPolicy

logger = logging.getLogger(__name__)


class Kind(Enum):
    LOCAL = "local"  # an active mailbox of an active hosted domain
    UNKNOWN = "unknown"  # a hosted domain, but no such active mailbox
    REMOTE = "remote"  # not hosted here
    ADDRESS = "address"  # an alias, list, forwarder or catch-all: expanded by `expand_route`


@dataclass(frozen=True)
class Route:
    kind: Kind
    address: str
    domain_id: int | None = None
    mailbox_id: int | None = None
    address_id: int | None = None  # ADDRESS: its row of the address registry
    # A REMOTE copy made by a forwarder: the mailbox whose daily limit pays and whose address is
    # the envelope sender of the copy (bounces return to it; SPF of the suite's domain passes).
    forwarded_by: int | None = None
    via: str = ""  # the alias, list or forwarder this copy was reached through


@dataclass(frozen=True)
class Sender:
    """The authenticated submitter: its mailbox, read fresh at each check."""

    mailbox_id: int
    address: str
    domain_id: int
    domain_name: str
    send_limit: int
    active: bool
    sending_held: bool = False  # outgoing mail on hold (mta.outscan): nothing to the outside


def split_address(address: str) -> tuple[str, str]:
    local, _, domain = address.rpartition("@")
    return local, domain.lower().rstrip(".")


_ROW = (
    "id",
    "kind",
    "local_part",
    "mailbox_id",
    "mailbox__is_active",
    "mailbox__receive_while_suspended",
    "domain_id",
    "domain__is_active",
    "domain__name",
)


def resolve(address: str) -> Route:
    """One query in the common case (an address of a hosted domain, or its catch-all); more only
    for a domain alias, or to tell an unknown address from a remote one. An address at a domain
    alias resolves as the same address of the domain it delivers as."""
    local, domain_name = split_address(address)
    if not local or not domain_name:
        return Route(Kind.UNKNOWN, address)
    local = local.lower()
    rows = list(Address.objects.filter(domain__name=domain_name, local_part__in=(local, "")).values(*_ROW))
    if not rows:
        hosted = DomainAlias.objects.filter(name=domain_name).values_list("domain_id", flat=True).first()
        if hosted is None:
            hosted = Domain.objects.filter(name=domain_name).values_list("id", flat=True).first()
            if hosted is None:
                return Route(Kind.REMOTE, address)
            return Route(Kind.UNKNOWN, address, domain_id=hosted)
        rows = list(Address.objects.filter(domain_id=hosted, local_part__in=(local, "")).values(*_ROW))
        if not rows:
            return Route(Kind.UNKNOWN, address, domain_id=hosted)
    row = next((r for r in rows if r["local_part"] == local), rows[0])
    canonical = f"{local}@{row['domain__name']}"
    if row["kind"] == AddressKind.MAILBOX:
        # A suspended mailbox may still receive (a choice of the control panel's suspend page).
        receives = row["mailbox__is_active"] or row["mailbox__receive_while_suspended"]
        if receives and row["domain__is_active"]:
            return Route(Kind.LOCAL, canonical, domain_id=row["domain_id"], mailbox_id=row["mailbox_id"])
        return Route(Kind.UNKNOWN, address, domain_id=row["domain_id"])
    if not row["domain__is_active"]:
        return Route(Kind.UNKNOWN, address, domain_id=row["domain_id"])
    return Route(Kind.ADDRESS, canonical, domain_id=row["domain_id"], address_id=row["id"])


@dataclass(frozen=True)
class Expanded:
    reply: str  # "" = accepted
    routes: tuple[Route, ...] = ()


def expand_route(route: Route, *, poster: Sender | None, rcpt: str) -> Expanded:
    """The final recipients of an alias, list, forwarder or catch-all: each active mailbox once,
    each forwarded external copy once (charged to its forwarder's mailbox by the caller).
    `poster` is who is sending, as far as the server knows it (the authenticated mailbox on
    submission, the attributed one on the Sieve relay, None on the MX): a list that only its
    members or its domain may post to refuses anyone else with 5.7.1. On the MX that is everyone:
    members are hosted mailboxes, who send through submission."""
    root = addresses.nodes([route.address_id]).get(route.address_id)
    if root is None:  # deleted a moment ago
        return Expanded(_unknown(rcpt))
    result = addresses.expand(root)
    if result.error == addresses.LOOP:
        logger.warning("address %s: a loop in its aliases, refused", route.address)
        return Expanded(
            "550 5.4.6 " + "<%(rcpt)s>: Routing loop detected in the aliases of this address" % {"rcpt": rcpt}
        )
    if result.error == addresses.TOO_DEEP:
        return Expanded(
            "550 5.4.6 " + "<%(rcpt)s>: This address expands through too many aliases" % {"rcpt": rcpt}
        )
    if result.error == addresses.TOO_MANY:
        return Expanded(
            "550 5.5.3 " + "<%(rcpt)s>: This address expands to too many recipients" % {"rcpt": rcpt}
        )
    for lst in result.lists:
        if lst.posting == PostingPolicy.MEMBERS and (
            poster is None or poster.mailbox_id not in result.members.get(lst.id, ())
        ):
            return Expanded(
                "550 5.7.1 " + "<%(list)s>: Only members of this list may post to it" % {"list": lst.address}
            )
        if lst.posting == PostingPolicy.DOMAIN and (poster is None or poster.domain_id != lst.domain_id):
            return Expanded(
                "550 5.7.1 "
                + "<%(list)s>: Only mailboxes of %(domain)s may post to this list"
                % {"list": lst.address, "domain": lst.domain_name}
            )
    routes = [
        Route(Kind.LOCAL, m.address, domain_id=m.domain_id, mailbox_id=m.mailbox_id, via=route.address)
        for m in result.mailboxes
    ]
    routes += [Route(Kind.REMOTE, e.address, forwarded_by=e.owner_id, via=e.via) for e in result.external]
    if not routes:
        return Expanded(_unknown(rcpt))
    return Expanded("", tuple(routes))


def _unknown(rcpt: str) -> str:
    return "550 5.1.1 " + "<%(rcpt)s>: Recipient address rejected: User unknown" % {"rcpt": rcpt}


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
            "id",
            "local_part",
            "send_limit",
            "is_active",
            "sending_held_at",
            "domain__id",
            "domain__name",
            "domain__is_active",
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
        sending_held=mailbox.sending_held_at is not None,
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
    """The header From / Sender addresses a mailbox may use (canonical form): its own address
    and every alias and list that delivers to it (directly or through others; not the
    catch-all, not a forwarder), each also at its domain's aliases. Every caller (submission,
    the Sieve relay, the webmail) follows."""
    own_local, own_domain = split_address(sender.address)
    pairs = {(own_local.lower(), sender.domain_id, own_domain)}
    pairs |= {
        (n.local_part, n.domain_id, n.domain_name) for n in addresses.receiving_addresses(sender.mailbox_id)
    }
    aliases: dict[int, list[str]] = {}
    for domain_id, name in DomainAlias.objects.filter(domain_id__in={p[1] for p in pairs}).values_list(
        "domain_id", "name"
    ):
        aliases.setdefault(domain_id, []).append(name)
    out = set()
    for local, domain_id, domain_name in pairs:
        for name in (domain_name, *aliases.get(domain_id, ())):
            out.add(canonical_address(f"{local}@{name}"))
    return frozenset(out)


def may_send_as(sender: Sender, address: str) -> bool:
    return canonical_address(address) in addresses_a_mailbox_may_send_as(sender)
