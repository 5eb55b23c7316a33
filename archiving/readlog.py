"""The audit of Delegates' reads: every list, search, open, source, .eml, attachment and export
of a Delegate writes one core AuditEntry (action "archive.delegate.<what>", the archive's
domain, the archive id and the entries read in `after`). The Manager reads them in the control
panel, the owner on the Archive portal (archiving.selectors.readers_for, archive_reads_for).
An owner reading their own archive is not recorded."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from archiving.selectors import AUDIT_PREFIX, READ_ACTIONS, ArchiveAccess
from core.audit import audit_record

MAX_LISTED = 100  # entries named in one row (an export of 50,000 names its count)


def archive_read_record(
    *, access: ArchiveAccess, action: str, seqs: Iterable[int] = (), detail: dict[str, Any] | None = None
) -> None:
    if access.is_owner:
        return
    if action not in READ_ACTIONS:
        raise ValueError(action)
    seqs = list(seqs)
    after: dict[str, Any] = {"archive": access.pk, "count": len(seqs)}
    if seqs:
        after["entries"] = seqs[:MAX_LISTED]
    after.update(detail or {})
    audit_record(
        actor=access.actor,
        action=f"{AUDIT_PREFIX}{action}",
        target=access.address,
        domain=access.domain,
        customer=access.delegate.manager.customer if access.domain is None else None,
        after=after,
    )
