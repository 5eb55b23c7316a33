from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core.audit import audit_record
from domains.models import Customer, DelegateGrant, Domain, Manager
from domains.services.common import build_login, integrity_to_validation


def _check_domains(*, customer: Customer, domains: list[Domain], manager: Manager | None) -> list[Domain]:
    """Lock the domains (fixed order) and check they are the customer's and free."""
    ids = sorted({d.pk for d in domains})
    locked = list(Domain.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    foreign = [d.name for d in locked if d.customer_id != customer.pk]
    if foreign:
        raise ValidationError(
            {
                "domains": [
                    _("These domains belong to another customer: %(names)s.") % {"names": ", ".join(foreign)}
                ]
            }
        )
    taken = [
        d.name for d in locked if d.manager_id is not None and (manager is None or d.manager_id != manager.pk)
    ]
    if taken:
        raise ValidationError(
            {"domains": [_("These domains already have a manager: %(names)s.") % {"names": ", ".join(taken)}]}
        )
    return locked


def manager_create(
    *,
    customer: Customer,
    username: str,
    password: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    domains: Iterable[Domain] = (),
    actor: Any | None = None,
) -> Manager:
    User = get_user_model()
    user = build_login(
        username=username,
        password=password,
        kind=User.Kind.MANAGER,
        email=email,
        first_name=first_name,
        last_name=last_name,
    )
    username = user.username
    domains = list(domains)
    try:
        with transaction.atomic():
            locked = _check_domains(customer=customer, domains=domains, manager=None)
            user.save()
            manager = Manager.objects.create(user=user, customer=customer)
            Domain.objects.filter(pk__in=[d.pk for d in locked]).update(manager=manager)
            audit_record(
                actor=actor,
                action="manager.create",
                customer=customer,
                target=username,
                after={"domains": sorted(d.name for d in locked)},
            )
    except IntegrityError as exc:
        raise integrity_to_validation(
            exc,
            {
                "accounts_user_username": ("username", _("A user with that login already exists.")),
                "domain_manager_same_customer": (
                    "domains",
                    _("A domain of another customer cannot be assigned."),
                ),
            },
        ) from exc
    return manager


def manager_set_domains(*, manager: Manager, domains: Iterable[Domain], actor: Any | None = None) -> Manager:
    domains = list(domains)
    try:
        with transaction.atomic():
            manager = Manager.objects.select_for_update().get(pk=manager.pk)
            before = sorted(manager.domains.values_list("name", flat=True))
            locked = _check_domains(customer=manager.customer, domains=domains, manager=manager)
            kept = [d.pk for d in locked]
            manager.domains.exclude(pk__in=kept).update(manager=None)
            Domain.objects.filter(pk__in=kept).update(manager=manager)
            # A domain taken from the Manager takes its delegates' access with it: the grants
            # were the Manager's to give, and the domain's next Manager never saw them.
            revoked, _rows = (
                DelegateGrant.objects.filter(delegate__manager=manager).exclude(domain_id__in=kept).delete()
            )
            after = {"domains": sorted(d.name for d in locked)}
            if revoked:
                after["delegate_grants_revoked"] = revoked
            audit_record(
                actor=actor,
                action="manager.domains",
                customer=manager.customer,
                target=manager.user.username,
                before={"domains": before},
                after=after,
            )
    except IntegrityError as exc:
        raise integrity_to_validation(
            exc,
            {
                "domain_manager_same_customer": (
                    "domains",
                    _("A domain of another customer cannot be assigned."),
                )
            },
        ) from exc
    return manager
