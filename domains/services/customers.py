from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core.audit import audit_record
from domains.models import Customer, Site
from domains.services.common import clean, integrity_to_validation, snapshot

CUSTOMER_FIELDS = ("company_name", "vat_number", "legal_rep_name", "legal_rep_email")
SITE_FIELDS = ("name", "profile", "voice_channels")


def customer_create(
    *, company_name: str, vat_number: str, legal_rep_name: str, legal_rep_email: str, actor: Any | None = None
) -> Customer:
    customer = Customer(
        company_name=company_name.strip(),
        vat_number=vat_number.strip().upper().replace(" ", ""),
        legal_rep_name=legal_rep_name.strip(),
        legal_rep_email=legal_rep_email.strip().lower(),
    )
    clean(customer)
    try:
        with transaction.atomic():
            customer.save()
            audit_record(
                actor=actor,
                action="customer.create",
                customer=customer,
                target=customer.company_name,
                after=snapshot(customer, CUSTOMER_FIELDS),
            )
    except IntegrityError as exc:
        raise integrity_to_validation(
            exc, {"vat_number": ("vat_number", _("A customer with this VAT number already exists."))}
        ) from exc
    return customer


def customer_update(*, customer: Customer, actor: Any | None = None, **changes: Any) -> Customer:
    unknown = set(changes) - set(CUSTOMER_FIELDS)
    if unknown:
        raise TypeError(f"customer_update: unknown fields {sorted(unknown)}")
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        before = snapshot(customer, changes)
        for name, value in changes.items():
            setattr(customer, name, value.strip() if isinstance(value, str) else value)
        clean(customer)
        customer.save()
        audit_record(
            actor=actor,
            action="customer.update",
            customer=customer,
            target=customer.company_name,
            before=before,
            after=snapshot(customer, changes),
        )
    return customer


def site_create(
    *, customer: Customer, name: str, profile: Decimal | str, voice_channels: int, actor: Any | None = None
) -> Site:
    site = Site(
        customer=customer, name=name.strip(), profile=Decimal(str(profile)), voice_channels=voice_channels
    )
    clean(site)
    with transaction.atomic():
        site.save()
        audit_record(
            actor=actor,
            action="site.create",
            customer=customer,
            target=site.name,
            after=snapshot(site, SITE_FIELDS),
        )
    return site


def site_update(*, site: Site, actor: Any | None = None, **changes: Any) -> Site:
    unknown = set(changes) - set(SITE_FIELDS)
    if unknown:
        raise TypeError(f"site_update: unknown fields {sorted(unknown)}")
    with transaction.atomic():
        site = Site.objects.select_for_update().get(pk=site.pk)
        before = snapshot(site, changes)
        for name, value in changes.items():
            setattr(site, name, Decimal(str(value)) if name == "profile" else value)
        clean(site)
        site.save()
        audit_record(
            actor=actor,
            action="site.update",
            customer=site.customer,
            target=site.name,
            before=before,
            after=snapshot(site, changes),
        )
    return site


def site_delete(*, site: Site, actor: Any | None = None) -> None:
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="site.delete",
            customer=site.customer,
            target=site.name,
            before=snapshot(site, SITE_FIELDS),
        )
        site.delete()
