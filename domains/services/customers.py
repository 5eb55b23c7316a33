from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.updates import UNCHANGED, Unchanged, given
from domains.models import Customer, CustomerUser, Site
from domains.services.common import build_login, clean, integrity_to_validation, snapshot

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


def customer_update(
    *,
    customer: Customer,
    actor: Any | None = None,
    company_name: str | Unchanged = UNCHANGED,
    vat_number: str | Unchanged = UNCHANGED,
    legal_rep_name: str | Unchanged = UNCHANGED,
    legal_rep_email: str | Unchanged = UNCHANGED,
) -> Customer:
    """Change a customer's data (only the fields passed)."""
    changes = given(
        company_name=company_name,
        vat_number=vat_number,
        legal_rep_name=legal_rep_name,
        legal_rep_email=legal_rep_email,
    )
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


def site_update(
    *,
    site: Site,
    actor: Any | None = None,
    name: str | Unchanged = UNCHANGED,
    profile: Decimal | str | Unchanged = UNCHANGED,
    voice_channels: int | Unchanged = UNCHANGED,
) -> Site:
    """Change a site's name, profile or voice channels (only the fields passed)."""
    changes = given(name=name, profile=profile, voice_channels=voice_channels)
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


# --- customer-area users -----------------------------------------------------------------------


def customer_user_create(
    *,
    customer: Customer,
    username: str,
    password: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    can_configure_mail: bool = False,
    actor: Any | None = None,
) -> CustomerUser:
    """A login of the customer area for `customer`, with or without the mail-configuration right."""
    User = get_user_model()
    user = build_login(
        username=username,
        password=password,
        kind=User.Kind.CUSTOMER,
        email=email,
        first_name=first_name,
        last_name=last_name,
    )
    username = user.username
    try:
        with transaction.atomic():
            user.save()
            customer_user = CustomerUser.objects.create(
                user=user, customer=customer, can_configure_mail=can_configure_mail
            )
            audit_record(
                actor=actor,
                action="customer_user.create",
                customer=customer,
                target=username,
                after={"can_configure_mail": can_configure_mail},
            )
    except IntegrityError as exc:
        raise ValidationError({"username": [_("A user with that login already exists.")]}) from exc
    return customer_user


def customer_user_set_right(
    *, customer_user: CustomerUser, can_configure_mail: bool, actor: Any | None = None
) -> CustomerUser:
    with transaction.atomic():
        customer_user = (
            CustomerUser.objects.select_for_update()
            .select_related("user", "customer")
            .get(pk=customer_user.pk)
        )
        before = customer_user.can_configure_mail
        if before != can_configure_mail:
            customer_user.can_configure_mail = can_configure_mail
            customer_user.save(update_fields=["can_configure_mail"])
            audit_record(
                actor=actor,
                action="customer_user.right",
                customer=customer_user.customer,
                target=customer_user.user.username,
                before={"can_configure_mail": before},
                after={"can_configure_mail": can_configure_mail},
            )
    return customer_user
