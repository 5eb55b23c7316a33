"""Aliases, forwarders, distribution lists and the catch-all of a domain: free of charge, never
counted as mailboxes (billing prices Mailbox rows only).

Every change of the address graph of a customer runs under one advisory lock of that customer,
so two concurrent saves cannot close a loop the check of each would miss; the registry's unique
constraint (address_unique_per_domain) keeps an address one thing only against any writer."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.audit import audit_record
from domains.addresses import would_loop
from domains.models import Address, AddressKind, AddressTarget, Domain, DomainAlias, Mailbox, PostingPolicy
from domains.services.common import integrity_to_validation
from domains.validators import validate_local_part

KINDS = (AddressKind.ALIAS, AddressKind.FORWARDER, AddressKind.LIST)

_CONSTRAINTS = {
    "address_unique_per_domain": ("local_part", gettext_lazy("This address already exists.")),
    "accounts_user_username": ("local_part", gettext_lazy("This address already exists.")),
}


def _lock_customer(customer_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"domains.addresses:{customer_id}"])


def _hosted(domain_name: str) -> bool:
    return (
        Domain.objects.filter(name=domain_name).exists()
        or DomainAlias.objects.filter(name=domain_name).exists()
    )


def _clean_externals(externals: list[str]) -> list[str]:
    out: list[str] = []
    for raw in externals:
        value = (raw or "").strip()
        if not value:
            continue
        try:
            validate_email(value)
        except ValidationError as exc:
            raise ValidationError(
                {"external": [_("Not a valid address: %(address)s") % {"address": value}]}
            ) from exc
        local, _at, domain_name = value.rpartition("@")
        value = f"{local}@{domain_name.lower().rstrip('.')}"
        if _hosted(domain_name.lower().rstrip(".")):
            raise ValidationError(
                {"external": [_("%(address)s is hosted here: use an alias instead.") % {"address": value}]}
            )
        if value.lower() not in (v.lower() for v in out):
            out.append(value)
    return out


def _validate(
    *,
    domain: Domain,
    kind: str,
    targets: list[Address],
    externals: list[str],
    owner: Mailbox | None,
    posting: str,
) -> list[str]:
    errors: dict[str, list] = {}
    if kind not in KINDS:
        errors["kind"] = [_("Choose alias, forwarder or distribution list.")]
    if posting not in PostingPolicy.values:
        errors["posting"] = [_("Choose who may post.")]
    for target in targets:
        if target.domain.customer_id != domain.customer_id:
            errors["targets"] = [_("Only addresses of the same customer can be chosen.")]
    if kind == AddressKind.FORWARDER:
        if owner is None or owner.domain_id != domain.pk:
            errors["owner"] = [_("Choose the mailbox of this domain whose daily limit pays the copies.")]
        if targets:
            errors["targets"] = [_("A forwarder sends to external addresses only.")]
        try:
            externals = _clean_externals(externals)
        except ValidationError as exc:
            errors.update(exc.message_dict)
            externals = []
        if not externals and "external" not in errors:
            errors["external"] = [_("Give at least one external address.")]
    else:
        if externals:
            errors["external"] = [_("Only a forwarder sends to external addresses.")]
        if not targets and "targets" not in errors:
            errors["targets"] = [_("Choose at least one recipient.")]
    if errors:
        raise ValidationError(errors)
    return externals


def _set_targets(address: Address, targets: list[Address], externals: list[str]) -> None:
    target_ids = sorted({t.pk for t in targets})
    if would_loop(address.pk, target_ids):
        raise ValidationError(
            {"targets": [_("This would make a loop: a chosen recipient already delivers to this address.")]}
        )
    AddressTarget.objects.filter(address=address).delete()
    AddressTarget.objects.bulk_create(
        [AddressTarget(address=address, target_id=i) for i in target_ids]
        + [AddressTarget(address=address, external=e) for e in externals]
    )


def _describe(address: Address) -> dict:
    return {
        "kind": address.kind,
        "posting": address.posting,
        "owner": address.owner.address if address.owner_id else "",
        "targets": sorted(
            [
                str(t.target)
                for t in address.targets.select_related("target__domain").filter(target__isnull=False)
            ]
            + [t.external for t in address.targets.filter(target__isnull=True)]
        ),
    }


def address_create(
    *,
    domain: Domain,
    kind: str,
    local_part: str,
    targets: list[Address] = (),  # type: ignore[assignment]
    externals: list[str] = (),  # type: ignore[assignment]
    owner: Mailbox | None = None,
    posting: str = PostingPolicy.ANYONE,
    description: str = "",
    catch_all: bool = False,
    actor: Any | None = None,
) -> Address:
    """A new alias, forwarder or list (or, with catch_all, the domain's catch-all: an alias)."""
    targets, externals = list(targets), list(externals)
    local_part = "" if catch_all else (local_part or "").strip().lower()
    if catch_all:
        kind = AddressKind.ALIAS
    elif not local_part:
        raise ValidationError({"local_part": [_("This field cannot be blank.")]})
    else:
        validate_local_part_field(local_part)
    externals = _validate(
        domain=domain, kind=kind, targets=targets, externals=externals, owner=owner, posting=posting
    )
    if kind != AddressKind.LIST:
        posting = PostingPolicy.ANYONE
    with transaction.atomic():
        _lock_customer(domain.customer_id)
        if Address.objects.filter(domain=domain, local_part=local_part).exists():
            message = (
                _("This domain already has a catch-all.") if catch_all else _("This address already exists.")
            )
            raise ValidationError({"local_part": [message]})
        try:
            with transaction.atomic():
                address = Address.objects.create(
                    domain=domain,
                    local_part=local_part,
                    kind=kind,
                    owner=owner if kind == AddressKind.FORWARDER else None,
                    posting=posting,
                    description=(description or "").strip()[:200],
                )
        except IntegrityError as exc:
            raise integrity_to_validation(exc, _CONSTRAINTS) from exc
        _set_targets(address, targets, externals)
        audit_record(
            actor=actor,
            action=f"address.create.{kind}",
            domain=domain,
            target=address.address,
            after=_describe(address),
        )
    return address


def validate_local_part_field(local_part: str) -> None:
    try:
        validate_local_part(local_part)
    except ValidationError as exc:
        raise ValidationError({"local_part": exc.messages}) from exc


def address_update(
    *,
    address: Address,
    targets: list[Address] = (),  # type: ignore[assignment]
    externals: list[str] = (),  # type: ignore[assignment]
    owner: Mailbox | None = None,
    posting: str = PostingPolicy.ANYONE,
    description: str = "",
    actor: Any | None = None,
) -> Address:
    if address.kind not in KINDS:
        raise ValidationError({"kind": [_("A mailbox is changed on its own page.")]})
    domain = address.domain
    externals = _validate(
        domain=domain,
        kind=address.kind,
        targets=list(targets),
        externals=list(externals),
        owner=owner,
        posting=posting,
    )
    with transaction.atomic():
        _lock_customer(domain.customer_id)
        address = (
            Address.objects.select_for_update(of=("self",))
            .select_related("domain", "owner__domain")
            .get(pk=address.pk)
        )
        before = _describe(address)
        address.posting = posting if address.kind == AddressKind.LIST else PostingPolicy.ANYONE
        address.owner = owner if address.kind == AddressKind.FORWARDER else None
        address.description = (description or "").strip()[:200]
        address.save(update_fields=["posting", "owner", "description"])
        _set_targets(address, list(targets), externals)
        audit_record(
            actor=actor,
            action=f"address.update.{address.kind}",
            domain=domain,
            target=address.address,
            before=before,
            after=_describe(address),
        )
    return address


def address_delete(*, address: Address, actor: Any | None = None) -> None:
    if address.kind not in KINDS:
        raise ValidationError({"kind": [_("A mailbox is deleted on its own page.")]})
    with transaction.atomic():
        _lock_customer(address.domain.customer_id)
        before = _describe(address)
        audit_record(
            actor=actor,
            action=f"address.delete.{address.kind}",
            domain=address.domain,
            target=address.address,
            before=before,
        )
        address.delete()


def domain_alias_create(*, domain: Domain, name: str, actor: Any | None = None) -> DomainAlias:
    """Provider staff (back office): `name` delivers as `domain`. Normalised as domain_register."""
    from domains.services.domains import normalize_domain_name

    alias = DomainAlias(domain=domain, name=normalize_domain_name(name))
    alias.full_clean(exclude=["domain"])
    with transaction.atomic():
        if Domain.objects.filter(name=alias.name).exists():
            raise ValidationError({"name": [_("This name is already a hosted domain.")]})
        try:
            with transaction.atomic():
                alias.save()
        except IntegrityError as exc:
            raise integrity_to_validation(
                exc,
                {
                    "is already a domain": (
                        "name",
                        gettext_lazy("This name is already a hosted domain."),
                    ),
                    "domains_domainalias_name": (
                        "name",
                        gettext_lazy("This name is already a domain alias."),
                    ),
                },
            ) from exc
        audit_record(actor=actor, action="domain_alias.create", domain=domain, target=alias.name)
    return alias


def domain_alias_delete(*, alias: DomainAlias, actor: Any | None = None) -> None:
    with transaction.atomic():
        audit_record(actor=actor, action="domain_alias.delete", domain=alias.domain, target=alias.name)
        alias.delete()
