"""The address graph: what an alias, a distribution list, a forwarder or a catch-all expands to.

One walk serves the save-time check (`domains.services.addresses`: a loop or a chain too deep
is refused) and the MX (`mta.routing`: the final mailboxes and external copies of a recipient).
The graph is read level by level (two queries per level), then walked in memory: a cycle is
reported (never followed), each mailbox appears once however many paths reach it.
No tenant scope: callers are the SMTP server (system-wide) and services that checked access.
"""

from dataclasses import dataclass, field

from django.conf import settings

from domains.models import Address, AddressKind, AddressTarget

LOOP = "loop"
TOO_DEEP = "depth"
TOO_MANY = "size"


@dataclass(frozen=True)
class Node:
    id: int
    kind: str
    domain_id: int
    domain_name: str
    local_part: str
    mailbox_id: int | None
    active: bool  # a mailbox: it and its domain active; any other node: its domain active
    owner_id: int | None
    posting: str

    @property
    def address(self) -> str:
        return f"{self.local_part}@{self.domain_name}"


@dataclass(frozen=True)
class FinalMailbox:
    mailbox_id: int
    address: str
    domain_id: int


@dataclass(frozen=True)
class ExternalCopy:
    address: str
    owner_id: int  # the forwarder's mailbox, whose send limit pays
    via: str  # the forwarder's address


@dataclass
class Expansion:
    root: Node
    mailboxes: list[FinalMailbox] = field(default_factory=list)
    external: list[ExternalCopy] = field(default_factory=list)
    lists: list[Node] = field(default_factory=list)  # every list reached, for its posting policy
    members: dict[int, frozenset[int]] = field(default_factory=dict)  # list id → its final mailbox ids
    error: str = ""


_NODE_FIELDS = (
    "id",
    "kind",
    "domain_id",
    "domain__name",
    "domain__is_active",
    "local_part",
    "mailbox_id",
    "mailbox__is_active",
    "mailbox__receive_while_suspended",
    "owner_id",
    "posting",
)


def _node(row: dict) -> Node:
    active = bool(row["domain__is_active"])
    if row["kind"] == AddressKind.MAILBOX:
        # A suspended mailbox still receives when the control panel said so.
        active = active and bool(row["mailbox__is_active"] or row["mailbox__receive_while_suspended"])
    return Node(
        id=row["id"],
        kind=row["kind"],
        domain_id=row["domain_id"],
        domain_name=row["domain__name"],
        local_part=row["local_part"],
        mailbox_id=row["mailbox_id"],
        active=active,
        owner_id=row["owner_id"],
        posting=row["posting"],
    )


def nodes(ids) -> dict[int, Node]:
    return {r["id"]: _node(r) for r in Address.objects.filter(id__in=list(ids)).values(*_NODE_FIELDS)}


def _graph(
    root: Node, *, max_nodes: int
) -> tuple[dict[int, Node], dict[int, list[int]], dict[int, list[str]]]:
    """Every node reachable from root, its edges and its external targets (BFS, by level)."""
    known = {root.id: root}
    edges: dict[int, list[int]] = {}
    external: dict[int, list[str]] = {}
    frontier = [root.id] if root.kind != AddressKind.MAILBOX else []
    while frontier and len(known) <= max_nodes:
        new: set[int] = set()
        for address_id, target_id, ext in AddressTarget.objects.filter(address_id__in=frontier).values_list(
            "address_id", "target_id", "external"
        ):
            if target_id is not None:
                edges.setdefault(address_id, []).append(target_id)
                if target_id not in known:
                    new.add(target_id)
            else:
                external.setdefault(address_id, []).append(ext)
        fetched = nodes(new)
        known.update(fetched)
        frontier = [i for i, n in fetched.items() if n.kind != AddressKind.MAILBOX]
    return known, edges, external


def expand(root: Node, *, max_depth: int | None = None, max_size: int | None = None) -> Expansion:
    max_depth = max_depth or settings.ADDRESS_MAX_DEPTH
    max_size = max_size or settings.ADDRESS_MAX_RECIPIENTS
    out = Expansion(root=root)
    known, edges, external = _graph(root, max_nodes=max_size * 4)
    if len(known) > max_size * 4:
        out.error = TOO_MANY
        return out
    # Cycle detection and depth (white/grey/black), and the final mailboxes under each node.
    state: dict[int, int] = {}
    below: dict[int, frozenset[int]] = {}
    depth: dict[int, int] = {}

    def visit(node_id: int) -> bool:
        state[node_id] = 1
        finals: set[int] = set()
        deepest = 0
        node = known[node_id]
        if node.kind == AddressKind.MAILBOX and node.active:
            finals.add(node_id)
        for child in edges.get(node_id, []):
            if child not in known:
                continue  # deleted meanwhile
            if state.get(child) == 1:
                return False
            if state.get(child) is None and not visit(child):
                return False
            finals |= below[child]
            deepest = max(deepest, depth[child] + 1)
        below[node_id] = frozenset(finals)
        depth[node_id] = deepest
        state[node_id] = 2
        return True

    if not visit(root.id):
        out.error = LOOP
        return out
    if depth[root.id] > max_depth:
        out.error = TOO_DEEP
        return out
    seen_external: set[str] = set()
    for node_id in state:  # insertion order: a stable, depth-first order
        node = known[node_id]
        if node.kind == AddressKind.LIST:
            out.lists.append(node)
            out.members[node.id] = frozenset(known[i].mailbox_id for i in below[node_id])
        if node.kind == AddressKind.FORWARDER and node.active and node.owner_id:
            for ext in external.get(node_id, []):
                if ext.lower() not in seen_external:
                    seen_external.add(ext.lower())
                    out.external.append(ExternalCopy(address=ext, owner_id=node.owner_id, via=node.address))
    for node_id in below[root.id]:
        node = known[node_id]
        out.mailboxes.append(
            FinalMailbox(mailbox_id=node.mailbox_id, address=node.address, domain_id=node.domain_id)
        )
    out.mailboxes.sort(key=lambda m: m.address)
    if len(out.mailboxes) + len(out.external) > max_size:
        out.error = TOO_MANY
    return out


def would_loop(address_id: int, target_ids: list[int]) -> bool:
    """Would pointing `address_id` at `target_ids` make a cycle: can any target reach it?"""
    if address_id in target_ids:
        return True
    seen = set(target_ids)
    frontier = list(target_ids)
    while frontier:
        nxt = []
        for target_id in AddressTarget.objects.filter(
            address_id__in=frontier, target__isnull=False
        ).values_list("target_id", flat=True):
            if target_id == address_id:
                return True
            if target_id not in seen:
                seen.add(target_id)
                nxt.append(target_id)
        frontier = nxt
    return False


def receiving_addresses(mailbox_id: int) -> list[Node]:
    """The aliases and lists that deliver to a mailbox, directly or through others (what it may
    send as); not the catch-all, not forwarders."""
    start = Address.objects.filter(mailbox_id=mailbox_id).values_list("id", flat=True).first()
    if start is None:
        return []
    seen = {start}
    frontier = [start]
    found: list[int] = []
    for _level in range(settings.ADDRESS_MAX_DEPTH + 1):
        if not frontier:
            break
        parents = [
            a
            for a in AddressTarget.objects.filter(target_id__in=frontier).values_list("address_id", flat=True)
            if a not in seen
        ]
        seen.update(parents)
        found.extend(parents)
        frontier = parents
    return [
        n
        for n in nodes(found).values()
        if n.kind in (AddressKind.ALIAS, AddressKind.LIST) and n.local_part and n.active
    ]
