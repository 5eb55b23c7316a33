"""The audit trail: one row per change, written inside the change's transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.models import AuditEntry

if TYPE_CHECKING:
    from domains.models import Customer, Domain


def audit_record(
    *,
    actor: Any | None,
    action: str,
    target: str = "",
    customer: Customer | None = None,
    domain: Domain | None = None,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEntry:
    """One audit row; `customer` defaults to the domain's. Call it inside the change's
    transaction, so the row and the change commit (or roll back) together."""
    if customer is None and domain is not None:
        customer = domain.customer
    actor_obj = actor if getattr(actor, "pk", None) else None
    return AuditEntry.objects.create(
        actor=actor_obj,
        actor_label=getattr(actor, "username", "") or ("system" if actor is None else str(actor)),
        customer=customer,
        domain=domain,
        action=action,
        target=target,
        before=before,
        after=after,
    )
