from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.services import charge_mailbox_created, charge_mailbox_deleted, charge_mailbox_tiers_changed
from core.audit import audit_record
from core.updates import UNCHANGED, Unchanged, given
from domains.models import Address, Domain, Mailbox, QuotaTier, SendLimitTier
from domains.services.common import check_password, clean, integrity_to_validation, snapshot
from mailstore.authcache import credential_cache_forget
from mailstore.layout import store_set_aside

MAILBOX_FIELDS = ("first_name", "last_name", "quota_tier", "send_limit", "is_active", "require_2fa")

_MAILBOX_CONSTRAINTS = {
    "mailbox_unique_per_domain": ("local_part", gettext_lazy("This address already exists.")),
    "accounts_user_username": ("local_part", gettext_lazy("This address already exists.")),
    # The address registry (an alias or a list of that name): written by a trigger on insert.
    "address_unique_per_domain": ("local_part", gettext_lazy("This address already exists.")),
    "mailbox_one_postmaster_per_domain": (
        "local_part",
        gettext_lazy("This domain already has a postmaster."),
    ),
}


def _normalize_local_part(local_part: str) -> str:
    return (local_part or "").strip().lower()


def create_mailbox_row(
    *,
    domain: Domain,
    local_part: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    quota_tier: int = QuotaTier.GB8,
    send_limit: int = SendLimitTier.L250,
    is_postmaster: bool = False,
    must_change_password: bool = False,
) -> Mailbox:
    """Validate and insert a mailbox with its login. Must run inside the caller's transaction."""
    User = get_user_model()
    local_part = _normalize_local_part(local_part)
    address = f"{local_part}@{domain.name}"
    user = User(
        username=address,
        email=address,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        kind=User.Kind.MAILBOX,
        must_change_password=must_change_password,
    )
    mailbox = Mailbox(
        domain=domain,
        local_part=local_part,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        quota_tier=quota_tier,
        send_limit=send_limit,
        is_postmaster=is_postmaster,
    )
    errors: dict[str, list] = {}
    try:
        clean(mailbox, exclude=["user"])
    except ValidationError as exc:
        for field, field_errors in exc.error_dict.items():
            if field == NON_FIELD_ERRORS:
                # The (domain, local_part) unique constraint: reported on local_part just below.
                field_errors = [e for e in field_errors if e.code != "unique_together"]
            if field_errors:
                errors.setdefault(field, []).extend(field_errors)
    if "local_part" not in errors and (
        Address.objects.filter(domain=domain, local_part=local_part).exists()
        or Mailbox.objects.filter(domain=domain, local_part=local_part).exists()
        or User.objects.filter(username__iexact=address).exists()
    ):
        errors["local_part"] = [_("This address already exists.")]
    if not domain.is_active:
        errors.setdefault("domain", []).append(_("This domain is not active."))
    try:
        check_password(password, user=user)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
            mailbox.user = user
            mailbox.save()
    except IntegrityError as exc:
        raise integrity_to_validation(exc, _MAILBOX_CONSTRAINTS) from exc
    return mailbox


def mailbox_create(
    *,
    domain: Domain,
    local_part: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    quota_tier: int = QuotaTier.GB8,
    send_limit: int = SendLimitTier.L250,
    actor: Any | None = None,
) -> Mailbox:
    with transaction.atomic():
        mailbox = create_mailbox_row(
            domain=domain,
            local_part=local_part,
            password=password,
            first_name=first_name,
            last_name=last_name,
            quota_tier=quota_tier,
            send_limit=send_limit,
        )
        audit_record(
            actor=actor,
            action="mailbox.create",
            domain=domain,
            target=mailbox.address,
            after=snapshot(mailbox, MAILBOX_FIELDS),
        )
        charge_mailbox_created(mailbox=mailbox, actor=actor)
    return mailbox


def mailbox_update(
    *,
    mailbox: Mailbox,
    actor: Any | None = None,
    first_name: str | Unchanged = UNCHANGED,
    last_name: str | Unchanged = UNCHANGED,
    quota_tier: int | Unchanged = UNCHANGED,
    send_limit: int | Unchanged = UNCHANGED,
    is_active: bool | Unchanged = UNCHANGED,
    require_2fa: bool | Unchanged = UNCHANGED,
) -> Mailbox:
    """Change personal data, quota tier, send limit, active flag or the per-mailbox 2FA requirement
    (only the fields passed)."""
    changes = given(
        first_name=first_name,
        last_name=last_name,
        quota_tier=quota_tier,
        send_limit=send_limit,
        is_active=is_active,
        require_2fa=require_2fa,
    )
    with transaction.atomic():
        mailbox = Mailbox.objects.select_for_update().select_related("domain", "user").get(pk=mailbox.pk)
        if mailbox.is_postmaster and changes.get("is_active") is False:
            raise ValidationError({"is_active": [_("The postmaster mailbox cannot be deactivated.")]})
        before = snapshot(mailbox, changes)
        old_quota_tier, old_send_limit = mailbox.quota_tier, mailbox.send_limit
        for name, value in changes.items():
            setattr(mailbox, name, value.strip() if isinstance(value, str) else value)
        clean(mailbox)
        mailbox.save()
        charge_mailbox_tiers_changed(
            mailbox=mailbox, old_quota_tier=old_quota_tier, old_send_limit=old_send_limit, actor=actor
        )
        user = mailbox.user
        user_changed = []
        for name in ("first_name", "last_name"):
            if name in changes and getattr(user, name) != getattr(mailbox, name):
                setattr(user, name, getattr(mailbox, name))
                user_changed.append(name)
        if "is_active" in changes and user.is_active != mailbox.is_active:
            user.is_active = mailbox.is_active
            user_changed.append("is_active")
        if user_changed:
            user.save(update_fields=user_changed)
        if "is_active" in changes or "require_2fa" in changes:
            # The verified-credential cache ends with the rule that allowed it, in this transaction.
            credential_cache_forget(user_ids=[user.pk])
        after = snapshot(mailbox, changes)
        if before != after:
            audit_record(
                actor=actor,
                action="mailbox.update",
                domain=mailbox.domain,
                target=mailbox.address,
                before=before,
                after=after,
            )
    return mailbox


def mailbox_set_password(
    *, mailbox: Mailbox, password: str, actor: Any | None = None, must_change: bool = False
) -> Mailbox:
    """Set a mailbox's password (its own change, or a reset by the postmaster or the Manager).

    In the same transaction every app password of the mailbox is revoked and its verified-credential
    cache row deleted: nothing issued or verified under the old password outlives it."""
    from accounts.services import app_passwords_revoke_all

    user = mailbox.user
    check_password(password, user=user)
    with transaction.atomic():
        user.set_password(password)
        user.must_change_password = must_change
        user.save(update_fields=["password", "must_change_password"])
        audit_record(actor=actor, action="mailbox.password", domain=mailbox.domain, target=mailbox.address)
        app_passwords_revoke_all(user=user, actor=actor)
        credential_cache_forget(user_ids=[user.pk])
    return mailbox


def mailbox_delete(*, mailbox: Mailbox, actor: Any | None = None) -> None:
    """Delete a mailbox and its login. The postmaster of a domain cannot be deleted."""
    if mailbox.is_postmaster:
        raise ValidationError({"local_part": [_("The postmaster mailbox cannot be deleted.")]})
    with transaction.atomic():
        mailbox = Mailbox.objects.select_for_update().select_related("domain", "user").get(pk=mailbox.pk)
        address, domain, user = mailbox.address, mailbox.domain, mailbox.user
        audit_record(
            actor=actor,
            action="mailbox.delete",
            domain=domain,
            target=address,
            before=snapshot(mailbox, MAILBOX_FIELDS),
        )
        charge_mailbox_deleted(mailbox=mailbox, actor=actor)  # before the delete: it prices the row
        credential_cache_forget(user_ids=[user.pk])
        mailbox_id = mailbox.pk
        mailbox.delete()
        user.delete()
        # The mail (home keyed by the id) goes to the deleted area for 15 days, then a daily task
        # purges it (mailstore.tasks.deleted_stores_purge); a new mailbox with this address has a
        # new id, so it starts empty at once either way.
        transaction.on_commit(lambda: store_set_aside(mailbox_id=mailbox_id))
