import datetime
import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.selectors import inclusion_of
from billing.services import charge_mailbox_created, charge_mailbox_deleted, charge_mailbox_tiers_changed
from core.audit import audit_record
from core.portals import portal_url
from core.updates import UNCHANGED, Unchanged, given
from domains.models import Address, DelegateGrant, DeletedMailbox, Domain, Mailbox, QuotaTier, SendLimitTier
from domains.services.common import check_password, clean, integrity_to_validation, snapshot
from mailstore.authcache import credential_cache_forget
from mailstore.dovecot import sessions_end
from mailstore.layout import DELETED_RETENTION_DAYS, store_bring_back, store_set_aside
from mailstore.models import QuotaOverride
from mailstore.selectors import quota_usage_for

logger = logging.getLogger(__name__)

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


def _refuse_quota_below_usage(mailbox: Mailbox, quota_tier: Any) -> None:
    """A space lower than what the mailbox already uses is refused, with the usage shown: accepted,
    it would make every new message bounce. (A provider's QuotaOverride replaces the tier, so a
    tier change does not move the real limit and is not checked.)"""
    try:
        new_bytes = int(quota_tier) * 1024**3
    except (TypeError, ValueError):
        return  # clean() reports the invalid choice
    if new_bytes >= mailbox.quota_bytes or QuotaOverride.objects.filter(mailbox=mailbox).exists():
        return
    used, _messages = quota_usage_for([mailbox.address]).get(mailbox.address, (0, 0))
    if used > new_bytes:
        raise ValidationError(
            {
                "quota_tier": [
                    _(
                        "The mailbox already uses %(used)s, more than %(new)s. Delete or archive "
                        "mail first, or choose a larger space."
                    )
                    % {"used": filesizeformat(used), "new": filesizeformat(new_bytes)}
                ]
            }
        )


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
    mailbox_id: int | None = None,
    password_hash: str | None = None,
) -> Mailbox:
    """Validate and insert a mailbox with its login. Must run inside the caller's transaction.
    `mailbox_id` and `password_hash` (instead of `password`) bring a deleted mailbox back."""
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
        pk=mailbox_id,
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
    if password_hash is None:
        try:
            check_password(password, user=user)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    if password_hash is None:
        user.set_password(password)
    else:
        user.password = password_hash
    try:
        with transaction.atomic():
            user.save()
            mailbox.user = user
            mailbox.save()
    except IntegrityError as exc:
        raise integrity_to_validation(exc, _MAILBOX_CONSTRAINTS) from exc
    return mailbox


def mailbox_create_allowed(domain: Domain) -> None:
    """The service is reserved to customers with a site of profile 1.5 or higher: when the sites
    change and the customer is no longer eligible, new mailboxes are refused (existing ones keep
    working; the back office lists the customer as needing attention)."""
    if not inclusion_of(domain.customer_id).eligible:
        raise ValidationError(
            {
                NON_FIELD_ERRORS: [
                    _(
                        "New mailboxes cannot be created: the customer no longer has a site with "
                        "commercial profile 1.5 or higher. Existing mailboxes keep working; "
                        "contact the provider."
                    )
                ]
            }
        )


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
        mailbox_create_allowed(domain)
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
        if "quota_tier" in changes:
            _refuse_quota_below_usage(mailbox, changes["quota_tier"])
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
        if "is_active" in changes and mailbox.is_active != before.get("is_active"):
            # The back office's switch is the same suspension as mailbox_suspend's (mail refused).
            mailbox.suspended_at = None if mailbox.is_active else timezone.now()
            mailbox.save(update_fields=["suspended_at"])
            if not mailbox.is_active:
                address = mailbox.address
                transaction.on_commit(lambda: sessions_end(address))
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


def mailbox_suspend(*, mailbox: Mailbox, actor: Any | None = None, receive_mail: bool = True) -> Mailbox:
    """Suspend a mailbox: no login anywhere (web, IMAP, POP3, SMTP, ManageSieve; its open sessions
    end), its mail still delivered (receive_mail, the default) or refused at RCPT; it stays counted
    and billed as a mailbox. Suspending a suspended mailbox only changes the mail choice."""
    with transaction.atomic():
        mailbox = Mailbox.objects.select_for_update().select_related("domain", "user").get(pk=mailbox.pk)
        if mailbox.is_postmaster:
            raise ValidationError({NON_FIELD_ERRORS: [_("The postmaster mailbox cannot be suspended.")]})
        before = {"is_active": mailbox.is_active, "receive_while_suspended": mailbox.receive_while_suspended}
        if mailbox.is_active:
            mailbox.suspended_at = timezone.now()
        mailbox.is_active = False
        mailbox.receive_while_suspended = bool(receive_mail)
        mailbox.save(update_fields=["is_active", "suspended_at", "receive_while_suspended", "updated_at"])
        user = mailbox.user
        if user.is_active:
            user.is_active = False
            user.save(update_fields=["is_active"])
        credential_cache_forget(user_ids=[user.pk])
        audit_record(
            actor=actor,
            action="mailbox.suspend",
            domain=mailbox.domain,
            target=mailbox.address,
            before=before,
            after={"is_active": False, "receive_while_suspended": mailbox.receive_while_suspended},
        )
        address = mailbox.address
        transaction.on_commit(lambda: sessions_end(address))
    return mailbox


def mailbox_resume(*, mailbox: Mailbox, actor: Any | None = None) -> Mailbox:
    """End a suspension: logins work again with the same password and app passwords."""
    with transaction.atomic():
        mailbox = Mailbox.objects.select_for_update().select_related("domain", "user").get(pk=mailbox.pk)
        if mailbox.is_active:
            return mailbox
        mailbox.is_active = True
        mailbox.suspended_at = None
        mailbox.receive_while_suspended = False
        mailbox.save(update_fields=["is_active", "suspended_at", "receive_while_suspended", "updated_at"])
        user = mailbox.user
        if not user.is_active:
            user.is_active = True
            user.save(update_fields=["is_active"])
        audit_record(
            actor=actor,
            action="mailbox.resume",
            domain=mailbox.domain,
            target=mailbox.address,
            before={"is_active": False},
            after={"is_active": True},
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
        DeletedMailbox.objects.update_or_create(
            mailbox_id=mailbox_id,
            defaults={
                "domain": domain,
                "local_part": mailbox.local_part,
                "first_name": mailbox.first_name,
                "last_name": mailbox.last_name,
                "quota_tier": mailbox.quota_tier,
                "send_limit": mailbox.send_limit,
                "password": user.password,
                "deleted_at": timezone.now(),
                "deleted_by": actor if getattr(actor, "pk", None) else None,
                "restored_at": None,
            },
        )
        mailbox.delete()
        user.delete()
        # The mail (home keyed by the id) goes to the deleted area for 15 days, then a daily task
        # purges it (mailstore.tasks.deleted_stores_purge); a new mailbox with this address has a
        # new id, so it starts empty at once either way.
        transaction.on_commit(lambda: store_set_aside(mailbox_id=mailbox_id))


def mailbox_undelete(*, deleted: DeletedMailbox, actor: Any | None = None) -> Mailbox:
    """Bring a mailbox deleted in the last 15 days back: the same id (so its mail, Sieve
    scripts and snapshots, set aside under that id, are its own again), address, names, tiers
    and password; app passwords and 2FA enrolment went with the deletion. Refused when the
    address has been given to a new mailbox since, or the 15 days are over."""
    with transaction.atomic():
        deleted = DeletedMailbox.objects.select_for_update().select_related("domain").get(pk=deleted.pk)
        address = deleted.address
        if deleted.restored_at is not None:
            raise ValidationError({NON_FIELD_ERRORS: [_("This mailbox has already been restored.")]})
        if deleted.deleted_at < timezone.now() - datetime.timedelta(days=DELETED_RETENTION_DAYS):
            raise ValidationError(
                {
                    NON_FIELD_ERRORS: [
                        _("A deleted mailbox can be restored for 15 days only; this one has been purged.")
                    ]
                }
            )
        User = get_user_model()
        if (
            Mailbox.objects.filter(domain=deleted.domain, local_part=deleted.local_part).exists()
            or User.objects.filter(username__iexact=address).exists()
        ):
            raise ValidationError(
                {
                    NON_FIELD_ERRORS: [
                        _(
                            "The address %(address)s now belongs to a new mailbox. To restore the deleted "
                            "one, delete the new mailbox first (or give it another address)."
                        )
                        % {"address": address}
                    ]
                }
            )
        mailbox = create_mailbox_row(
            domain=deleted.domain,
            local_part=deleted.local_part,
            password="",
            first_name=deleted.first_name,
            last_name=deleted.last_name,
            quota_tier=deleted.quota_tier,
            send_limit=deleted.send_limit,
            mailbox_id=deleted.mailbox_id,
            password_hash=deleted.password,
        )
        # The grants on its archive outlived it (DelegateGrant.mailbox_key): theirs again.
        DelegateGrant.objects.filter(mailbox_key=mailbox.pk, mailbox__isnull=True).update(mailbox=mailbox)
        deleted.restored_at = timezone.now()
        deleted.password = ""
        deleted.save(update_fields=["restored_at", "password"])
        audit_record(
            actor=actor,
            action="mailbox.undelete",
            domain=deleted.domain,
            target=address,
            after=snapshot(mailbox, MAILBOX_FIELDS),
        )
        charge_mailbox_created(mailbox=mailbox, actor=actor)
        # Last, inside the transaction: a failure here (the place taken) undoes the rows.
        store_bring_back(mailbox_id=mailbox.pk)
    return mailbox


def mailbox_sending_hold(
    *, mailbox_id: int, reason: str, score: float | None, symbols: list[str], subject: str
) -> bool:
    """Put the mailbox's outgoing mail on hold (mta: a message to the Internet scored as spam):
    every further message to the outside is refused until the postmaster releases it. The domain's
    postmaster (and its Manager, if any) is emailed after the commit. Returns False when the
    mailbox was already held (no second email)."""
    with transaction.atomic():
        mailbox = Mailbox.objects.select_for_update().select_related("domain").filter(pk=mailbox_id).first()
        if mailbox is None or mailbox.sending_held_at is not None:
            return False
        mailbox.sending_held_at = timezone.now()
        mailbox.sending_held_reason = reason[:2000]
        mailbox.save(update_fields=["sending_held_at", "sending_held_reason", "updated_at"])
        audit_record(
            actor=None,
            action="mailbox.sending_hold",
            domain=mailbox.domain,
            target=mailbox.address,
            before={"sending_held": False},
            after={"sending_held": True, "reason": mailbox.sending_held_reason},
        )
        details = {"score": score, "symbols": list(symbols)[:10], "subject": subject[:200]}
        transaction.on_commit(lambda: _notify_sending_held(mailbox_id=mailbox_id, **details))
    return True


def _notify_sending_held(**kwargs: Any) -> None:
    """After the commit, in the SMTP server's worker thread: a failed email must not turn the
    sender's 554 into a 4xx (the hold stands and is shown in the panel); it is logged."""
    try:
        _send_sending_held_notice(**kwargs)
    except Exception:
        logger.exception("outgoing mail held: the notice to the postmaster was not sent")


def _send_sending_held_notice(
    *, mailbox_id: int, score: float | None, symbols: list[str], subject: str
) -> None:
    mailbox = Mailbox.objects.select_related("domain", "domain__manager__user").get(pk=mailbox_id)
    domain = mailbox.domain
    recipients = list(
        Mailbox.objects.filter(domain=domain, is_postmaster=True).values_list("local_part", flat=True)
    )
    to = [f"{local}@{domain.name}" for local in recipients]
    manager_email = domain.manager.user.email if domain.manager_id else ""
    if manager_email:
        to.append(manager_email)
    if not to:
        return
    with translation.override(settings.LANGUAGE_CODE):
        context = {
            "address": mailbox.address,
            "score": "" if score is None else f"{score:.2f}",
            "symbols": ", ".join(symbols),
            "subject": subject,
            "panel_url": portal_url("mailadmin", "mailadmin:mailbox", args=[domain.name, mailbox.pk]),
        }
        title = _("Outgoing mail of %(address)s held: a message scored as spam") % {
            "address": mailbox.address
        }
        body = render_to_string("domains/email/sending_held.txt", context)
    send_mail(title, body, settings.DEFAULT_FROM_EMAIL, to)


def mailbox_sending_release(*, mailbox: Mailbox, actor: Any | None = None) -> Mailbox:
    """Lift the hold on the mailbox's outgoing mail (the postmaster, after checking the account)."""
    with transaction.atomic():
        mailbox = Mailbox.objects.select_for_update().select_related("domain").get(pk=mailbox.pk)
        if mailbox.sending_held_at is None:
            return mailbox
        reason = mailbox.sending_held_reason
        mailbox.sending_held_at = None
        mailbox.sending_held_reason = ""
        mailbox.save(update_fields=["sending_held_at", "sending_held_reason", "updated_at"])
        audit_record(
            actor=actor,
            action="mailbox.sending_release",
            domain=mailbox.domain,
            target=mailbox.address,
            before={"sending_held": True, "reason": reason},
            after={"sending_held": False},
        )
    return mailbox
