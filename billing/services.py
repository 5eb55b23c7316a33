"""Services of the billing app: the ledger charges and the price list.

The charge_* functions must run inside the transaction of the change they price (they refuse
to run outside one): a change that rolls back takes its ledger event with it. Each locks the
customer row (select_for_update) so that concurrent changes of one customer are serialized and
every event's "monthly total before → after" chains with the previous one. Lock order: the
mailbox rows the caller locked first, then the customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import PRICE_FIELDS, BilledArchive, LedgerEvent, PriceList
from billing.pricing import ZERO, Prices, Usage, monthly_cost
from billing.selectors import customer_usage, included_mailboxes, price_list_on
from billing.tenants import customer_model
from core.audit import audit_record

if TYPE_CHECKING:
    from domains.models import Customer, Domain, Mailbox


# A ledger row's before/after are data, written once and read in any language later (like
# "25 GB, 250/d"): this state is stored as this fixed text, never in the writer's language.
DELETED_MAILBOX_ARCHIVE = "archive of a deleted mailbox"


class NotInTransaction(RuntimeError):
    """A charge was requested outside the transaction of the change it prices."""


@dataclass(frozen=True)
class _Priced:
    customer: Customer
    price_list: PriceList | None
    prices: Prices
    included: int


def _lock(customer_id: int) -> _Priced:
    if not transaction.get_connection().in_atomic_block:
        raise NotInTransaction("billing charges must run inside the transaction of the change")
    customer = customer_model().objects.select_for_update().get(pk=customer_id)
    price_list = price_list_on(timezone.localdate())
    return _Priced(
        customer=customer,
        price_list=price_list,
        prices=Prices.of(price_list),
        included=included_mailboxes(customer_id),
    )


def _total(priced: _Priced, usage: Usage) -> Decimal:
    return monthly_cost(usage, included=priced.included, prices=priced.prices).total


def _record(
    priced: _Priced,
    *,
    kind: str,
    actor: Any | None,
    usage_before: Usage,
    usage_after: Usage,
    domain: Domain | None,
    target: str = "",
    before: str = "",
    after: str = "",
    description: str = "",
    intervention: str = "",
    one_off: Decimal = ZERO,
) -> LedgerEvent:
    total_before, total_after = _total(priced, usage_before), _total(priced, usage_after)
    return LedgerEvent.objects.create(
        at=timezone.now(),
        customer=priced.customer,
        domain=domain,
        domain_name=domain.name if domain else "",
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=getattr(actor, "username", "") or ("system" if actor is None else str(actor)),
        kind=kind,
        intervention=intervention,
        target=target,
        description=description[:300],
        before=str(before),
        after=str(after),
        price_list=priced.price_list,
        monthly_delta=total_after - total_before,
        one_off_amount=one_off,
        monthly_total_before=total_before,
        monthly_total_after=total_after,
    )


def _has_archive(mailbox: Mailbox) -> bool:
    return BilledArchive.objects.filter(mailbox_id=mailbox.pk).exists()


def charge_mailbox_created(*, mailbox: Mailbox, actor: Any | None) -> LedgerEvent:
    """Call right after inserting the mailbox, in the same transaction."""
    priced = _lock(mailbox.domain.customer_id)
    after = customer_usage(priced.customer.pk)
    mine = Usage.of_mailbox(quota_tier=mailbox.quota_tier, send_limit=mailbox.send_limit)
    return _record(
        priced,
        kind=LedgerEvent.Kind.MAILBOX_CREATED,
        actor=actor,
        usage_before=after - mine,
        usage_after=after,
        domain=mailbox.domain,
        target=mailbox.address,
        after=f"{mailbox.quota_tier} GB, {mailbox.send_limit}/d",
    )


def charge_mailbox_deleted(*, mailbox: Mailbox, actor: Any | None) -> LedgerEvent:
    """Call right BEFORE deleting the mailbox row, in the same transaction. The mailbox's own
    charge stops; its archive, if billed, outlives it and stays billed (as an archive of a
    deleted mailbox) until charge_deleted_archive_removed."""
    priced = _lock(mailbox.domain.customer_id)
    before = customer_usage(priced.customer.pk)
    archive = _has_archive(mailbox)
    after = before - Usage.of_mailbox(quota_tier=mailbox.quota_tier, send_limit=mailbox.send_limit)
    if archive:
        after = after - Usage(archives=1) + Usage(deleted_archives=1)
    return _record(
        priced,
        kind=LedgerEvent.Kind.MAILBOX_DELETED,
        actor=actor,
        usage_before=before,
        usage_after=after,
        domain=mailbox.domain,
        target=mailbox.address,
        before=f"{mailbox.quota_tier} GB, {mailbox.send_limit}/d" + (", archive" if archive else ""),
        after=DELETED_MAILBOX_ARCHIVE if archive else "",
    )


def charge_mailbox_tiers_changed(
    *, mailbox: Mailbox, old_quota_tier: int, old_send_limit: int, actor: Any | None
) -> list[LedgerEvent]:
    """Call right after saving a mailbox whose space or send-limit tier may have changed, in the
    same transaction. Writes one event per tier that changed (none if neither did)."""
    quota_changed = int(old_quota_tier) != int(mailbox.quota_tier)
    send_changed = int(old_send_limit) != int(mailbox.send_limit)
    if not (quota_changed or send_changed):
        return []
    priced = _lock(mailbox.domain.customer_id)
    after = customer_usage(priced.customer.pk)
    old = Usage.of_tiers(quota_tier=old_quota_tier, send_limit=old_send_limit)
    new = Usage.of_tiers(quota_tier=mailbox.quota_tier, send_limit=mailbox.send_limit)
    middle = after - new + Usage.of_tiers(quota_tier=mailbox.quota_tier, send_limit=old_send_limit)
    start = after - new + old
    events = []
    if quota_changed:
        events.append(
            _record(
                priced,
                kind=LedgerEvent.Kind.QUOTA_CHANGED,
                actor=actor,
                usage_before=start,
                usage_after=middle,
                domain=mailbox.domain,
                target=mailbox.address,
                before=f"{old_quota_tier} GB",
                after=f"{mailbox.quota_tier} GB",
            )
        )
    if send_changed:
        events.append(
            _record(
                priced,
                kind=LedgerEvent.Kind.SEND_LIMIT_CHANGED,
                actor=actor,
                usage_before=middle,
                usage_after=after,
                domain=mailbox.domain,
                target=mailbox.address,
                before=f"{old_send_limit}/d",
                after=f"{mailbox.send_limit}/d",
            )
        )
    return events


def charge_archive_attached(*, mailbox: Mailbox, actor: Any | None) -> LedgerEvent | None:
    """Call in the transaction that attaches an archive to the mailbox. Starts billing the
    archive; returns None (and writes nothing) if it is already billed."""
    priced = _lock(mailbox.domain.customer_id)
    if _has_archive(mailbox):
        return None
    before = customer_usage(priced.customer.pk)
    BilledArchive.objects.create(
        mailbox=mailbox, mailbox_key=mailbox.pk, domain=mailbox.domain, address=mailbox.address
    )
    return _record(
        priced,
        kind=LedgerEvent.Kind.ARCHIVE_ATTACHED,
        actor=actor,
        usage_before=before,
        usage_after=before + Usage(archives=1),
        domain=mailbox.domain,
        target=mailbox.address,
        before=_("no archive"),
        after=_("archive"),
    )


def charge_archive_removed(*, mailbox: Mailbox, actor: Any | None) -> LedgerEvent | None:
    """Call in the transaction that removes the mailbox's archive. Returns None if no archive
    was billed."""
    priced = _lock(mailbox.domain.customer_id)
    before = customer_usage(priced.customer.pk)
    deleted, _rows = BilledArchive.objects.filter(mailbox_id=mailbox.pk).delete()
    if not deleted:
        return None
    return _record(
        priced,
        kind=LedgerEvent.Kind.ARCHIVE_REMOVED,
        actor=actor,
        usage_before=before,
        usage_after=before - Usage(archives=1),
        domain=mailbox.domain,
        target=mailbox.address,
        before=_("archive"),
        after=_("no archive"),
    )


def charge_deleted_archive_removed(*, mailbox_key: int, actor: Any | None) -> LedgerEvent | None:
    """Call in the transaction that removes, or purges, the archive of a deleted mailbox (its
    mailbox's id, `mailbox_key`). Stops its charge; returns None if none was billed."""
    billed = (
        BilledArchive.objects.filter(mailbox_key=mailbox_key, mailbox__isnull=True)
        .select_related("domain")
        .first()
    )
    if billed is None:
        return None
    priced = _lock(billed.domain.customer_id)
    before = customer_usage(priced.customer.pk)
    deleted, _rows = BilledArchive.objects.filter(pk=billed.pk, mailbox__isnull=True).delete()
    if not deleted:
        return None
    return _record(
        priced,
        kind=LedgerEvent.Kind.ARCHIVE_REMOVED,
        actor=actor,
        usage_before=before,
        usage_after=before - Usage(deleted_archives=1),
        domain=billed.domain,
        target=billed.address,
        before=DELETED_MAILBOX_ARCHIVE,
        after=_("no archive"),
    )


def billed_archive_relink(*, mailbox: Mailbox) -> bool:
    """Call in the transaction that brings a deleted mailbox back (same id) and gives it its
    archive again: the archive billed since the deletion is billed as the mailbox's again (the
    monthly total does not change, so no ledger event). Returns whether there was one."""
    return bool(
        BilledArchive.objects.filter(mailbox_key=mailbox.pk, mailbox__isnull=True).update(mailbox=mailbox)
    )


def charge_intervention(
    *,
    kind: str,
    actor: Any | None,
    mailbox: Mailbox | None = None,
    domain: Domain | None = None,
    description: str = "",
    amount: Decimal | None = None,
) -> LedgerEvent:
    """A one-off charge: a Time Machine restore (kind "timemachine_restore") or another
    extraordinary intervention ("other"). Call in the transaction that records the request.
    `amount` defaults to the price list in force today."""
    if kind not in LedgerEvent.Intervention.values:
        raise ValidationError({"kind": [_("Unknown intervention.")]})
    if mailbox is not None:
        domain = mailbox.domain
    if domain is None:
        raise TypeError("charge_intervention needs a mailbox or a domain")
    priced = _lock(domain.customer_id)
    if amount is None:
        amount = getattr(
            priced.prices, "timemachine_restore" if kind == "timemachine_restore" else "intervention"
        )
    amount = Decimal(amount)
    if amount < 0:
        raise ValidationError({"amount": [_("The amount cannot be negative.")]})
    usage = customer_usage(priced.customer.pk)
    return _record(
        priced,
        kind=LedgerEvent.Kind.INTERVENTION,
        actor=actor,
        usage_before=usage,
        usage_after=usage,
        domain=domain,
        target=mailbox.address if mailbox else domain.name,
        intervention=kind,
        description=description,
        one_off=amount,
    )


# --- price list --------------------------------------------------------------------------------


def price_list_save(*, actor: Any | None, price_list: PriceList | None = None, **values: Any) -> PriceList:
    """Create a price-list version, or change one that is not yet in force. A version in force
    (valid_from today or earlier) is history: the ledger priced changes with it."""
    unknown = set(values) - {"valid_from", "note", *PRICE_FIELDS}
    if unknown:
        raise TypeError(f"price_list_save: unknown fields {sorted(unknown)}")
    with transaction.atomic():
        if price_list is not None and price_list.pk:
            price_list = PriceList.objects.select_for_update().get(pk=price_list.pk)
            if price_list.valid_from <= timezone.localdate():
                raise ValidationError(
                    _("This price list is already in force and cannot be changed; add a new version instead.")
                )
        else:
            price_list = PriceList()
        for name, value in values.items():
            setattr(price_list, name, value)
        errors = {}
        if price_list.valid_from and price_list.valid_from.day != 1:
            errors["valid_from"] = [_("A price list starts on the first day of a month.")]
        try:
            price_list.full_clean()
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors.setdefault(field, []).extend(messages)
        if errors:
            raise ValidationError(errors)
        price_list.save()
        audit_record(
            actor=actor,
            action="pricelist.save",
            target=str(price_list.valid_from),
            after={name: str(getattr(price_list, name)) for name in ("valid_from", *PRICE_FIELDS)},
        )
    return price_list
