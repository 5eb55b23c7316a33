from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from billing.inclusion import inclusion_for
from billing.services import charge_mailbox_created
from core.audit import audit_record
from core.portals import portal_url
from domains import dkimkeys
from domains.models import Customer, Domain
from domains.services.common import clean, generate_password, integrity_to_validation
from domains.services.dkim import dkim_key_first
from domains.services.mailboxes import create_mailbox_row
from mailstore.authcache import credential_cache_forget


def normalize_domain_name(name: str) -> str:
    """Lower-case, no trailing dot, internationalised names in their ASCII (IDNA) form."""
    name = (name or "").strip().rstrip(".").lower()
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name  # left as typed; validation names the problem


def domain_register(*, customer: Customer, name: str, actor: Any | None = None) -> Domain:
    """Register a domain for a customer and create its Postmaster (postmaster@domain) and its
    first DKIM key (domains.services.dkim).

    The Postmaster gets a random password and must change it at first login; the credentials
    go by email to the customer's legal representative once the transaction has committed.
    """
    if not inclusion_for(customer.sites.all()).eligible:
        raise ValidationError(
            {
                "customer": [
                    _("The mail service needs at least one site with commercial profile 1.5 or higher.")
                ]
            }
        )
    domain = Domain(customer=customer, name=normalize_domain_name(name))
    clean(domain, exclude=["manager"])
    password = generate_password(login=f"postmaster@{domain.name}", names=("Postmaster",))
    # The DKIM key (pending until its DNS record is seen) is made before the transaction: an RSA
    # key takes a noticeable time, no lock should wait for it.
    dkim_material = dkimkeys.generate() if settings.DKIM_KEYS_AT_REGISTRATION else None
    try:
        with transaction.atomic():
            domain.save()
            if dkim_material is not None:
                dkim_key_first(domain=domain, material=dkim_material)
            postmaster = create_mailbox_row(
                domain=domain,
                local_part="postmaster",
                first_name="Postmaster",
                last_name="",
                password=password,
                is_postmaster=True,
                must_change_password=True,
            )
            audit_record(
                actor=actor,
                action="domain.register",
                domain=domain,
                target=domain.name,
                after={"name": domain.name, "postmaster": postmaster.address},
            )
            charge_mailbox_created(mailbox=postmaster, actor=actor)
            transaction.on_commit(
                lambda: _send_postmaster_credentials(
                    domain_id=domain.pk, address=postmaster.address, password=password
                )
            )
    except IntegrityError as exc:
        raise integrity_to_validation(
            exc, {"domains_domain_name_key": ("name", _("This domain is already registered."))}
        ) from exc
    return domain


def _send_postmaster_credentials(*, domain_id: int, address: str, password: str) -> None:
    domain = Domain.objects.select_related("customer").get(pk=domain_id)
    customer = domain.customer
    with translation.override(settings.LANGUAGE_CODE):
        context = {
            "customer": customer,
            "domain": domain,
            "address": address,
            "password": password,
            "panel_url": portal_url("mailadmin", "mailadmin:home"),
        }
        subject = _("Mail service for %(domain)s: postmaster credentials") % {"domain": domain.name}
        body = render_to_string("domains/email/postmaster_credentials.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [customer.legal_rep_email])


def domain_set_require_2fa(*, domain: Domain, required: bool, actor: Any | None = None) -> Domain:
    with transaction.atomic():
        domain = Domain.objects.select_for_update().get(pk=domain.pk)
        before = domain.require_2fa
        domain.require_2fa = required
        domain.save(update_fields=["require_2fa"])
        if required:
            credential_cache_forget(domain_name=domain.name)
        audit_record(
            actor=actor,
            action="domain.require_2fa",
            domain=domain,
            target=domain.name,
            before={"require_2fa": before},
            after={"require_2fa": required},
        )
    return domain
