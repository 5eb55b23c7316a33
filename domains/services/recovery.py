"""Forgotten passwords: a mailbox user's recovery address, the "forgot password" request, the
emailed one-time link and the new password it sets.

Who gets the link (recovery_recipient):
- a mailbox user: their confirmed recovery address (outside their own mailbox);
- the Postmaster (postmaster@domain), a Manager, a customer-area user: the customer's legal
  representative (Customer.legal_rep_email), the address that received the Postmaster's first
  password and that answers for the customer;
- a Delegate: nobody (the Manager who created the Delegate sets a new password);
- provider staff, a suspended mailbox, a disabled login or domain: nobody.

The web request never looks the login up: it counts the request, writes the "request" audit
row and queues password_recovery_send, the same work for every login typed. The lookup, the
token and the email happen in the worker, so the answer's content and timing say nothing
about the account. A recovery never logs the user in: the new password is set and the user
goes to the login page, where 2FA still asks for a code or a backup code.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import signing
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import gettext as _

from accounts import bruteforce
from accounts.logins import canonical_domain, canonical_login
from accounts.models import RecoveryAddress, User
from core.audit import audit_record
from core.portals import portal, portal_url
from domains.models import Customer, Domain, Mailbox
from domains.services.security import own_password_change

_CONFIRM_SALT = "mailsuite.recovery-address.confirm"


class RecoveryTokenGenerator(PasswordResetTokenGenerator):
    """Django's reset token (HMAC of the user's id, password hash, last login and the time),
    with its own salt: valid PASSWORD_RESET_TIMEOUT seconds, void once the password changes."""

    key_salt = "mailsuite.password-recovery"

    def _make_hash_value(self, user, timestamp):
        # A link dies with a change of where links go (a new recovery address, a new legal rep).
        target = recovery_recipient(user=user)
        return super()._make_hash_value(user, timestamp) + (target[0].lower() if target else "")


recovery_tokens = RecoveryTokenGenerator()


# ---- the recovery address -------------------------------------------------------------------


def _same_mailbox(email: str, mailbox: Mailbox) -> bool:
    """Does `email` reach `mailbox` itself: its address in any spelling, or a subaddress
    (local+tag@domain, Dovecot's recipient_delimiter)?"""
    local, _at, domain = email.rpartition("@")
    if canonical_domain(domain) != canonical_domain(mailbox.domain.name):
        return False
    return local.lower().split("+", 1)[0] == mailbox.local_part.lower()


def recovery_address_for(*, user: User) -> RecoveryAddress | None:
    return RecoveryAddress.objects.filter(user=user).first()


def recovery_address_set(*, mailbox: Mailbox, email: str, actor: Any | None = None) -> RecoveryAddress:
    """Ask to use `email` as the mailbox's recovery address: it waits until the link emailed
    to it is opened (recovery_address_confirm). The confirmed address, if any, keeps working
    meanwhile."""
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": [_("Enter a valid email address.")]}) from None
    local, _at, domain = email.rpartition("@")
    email = f"{local}@{canonical_domain(domain)}"
    if _same_mailbox(email, mailbox):
        raise ValidationError(
            {"email": [_("Choose an address outside this mailbox: a link sent here cannot help you in.")]}
        )
    with transaction.atomic():
        row, _created = RecoveryAddress.objects.select_for_update().get_or_create(user=mailbox.user)
        if row.email and row.email.lower() == email.lower():
            row.pending_email, row.pending_since = "", None
            row.save(update_fields=["pending_email", "pending_since"])
            return row
        row.pending_email, row.pending_since = email, timezone.now()
        row.save(update_fields=["pending_email", "pending_since"])
        audit_record(
            actor=actor,
            action="recovery_address.request",
            domain=mailbox.domain,
            target=mailbox.address,
            after={"pending": email},
        )
        token = signing.dumps({"u": mailbox.user_id, "e": email}, salt=_CONFIRM_SALT)
        mailbox_id = mailbox.pk
        transaction.on_commit(lambda: _send_confirmation(mailbox_id=mailbox_id, email=email, token=token))
    return row


def _send_confirmation(*, mailbox_id: int, email: str, token: str) -> None:
    mailbox = Mailbox.objects.select_related("domain", "user").get(pk=mailbox_id)
    language = mailbox.user.language or settings.LANGUAGE_CODE
    with translation.override(language):
        context = {
            "address": mailbox.address,
            "url": portal_url("webmail", "webmail:recovery_confirm", kwargs={"token": token}),
            "days": max(1, settings.RECOVERY_CONFIRM_MAX_AGE // 86400),
        }
        subject = _("Confirm your recovery address for %(address)s") % {"address": mailbox.address}
        body = render_to_string("domains/email/recovery_confirm.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email])


def recovery_address_confirm(*, token: str) -> RecoveryAddress | None:
    """Confirm the pending address the token was made for; None when the token is bad, too old,
    or the pending address has changed since (a newer request voids the older links)."""
    try:
        data = signing.loads(token, salt=_CONFIRM_SALT, max_age=settings.RECOVERY_CONFIRM_MAX_AGE)
    except signing.BadSignature:
        return None
    with transaction.atomic():
        row = (
            RecoveryAddress.objects.select_for_update()
            .filter(user_id=data.get("u"), pending_email=data.get("e") or "-")
            .exclude(pending_email="")
            .first()
        )
        if row is None:
            return None
        mailbox = Mailbox.objects.select_related("domain").filter(user_id=row.user_id).first()
        before = {"email": row.email}
        row.email, row.confirmed_at = row.pending_email, timezone.now()
        row.pending_email, row.pending_since = "", None
        row.save(update_fields=["email", "confirmed_at", "pending_email", "pending_since"])
        audit_record(
            actor=row.user,
            action="recovery_address.confirm",
            domain=mailbox.domain if mailbox else None,
            target=mailbox.address if mailbox else row.user.username,
            before=before,
            after={"email": row.email},
        )
    return row


def recovery_address_remove(*, mailbox: Mailbox, actor: Any | None = None) -> None:
    with transaction.atomic():
        row = RecoveryAddress.objects.select_for_update().filter(user=mailbox.user).first()
        if row is None:
            return
        audit_record(
            actor=actor,
            action="recovery_address.remove",
            domain=mailbox.domain,
            target=mailbox.address,
            before={"email": row.email, "pending": row.pending_email},
        )
        row.delete()


# ---- forgot password ------------------------------------------------------------------------


def password_recovery_allowed(*, login: str, remote_ip: str | None) -> bool:
    """Count this request; False when the login or the address asked too often. Raises
    bruteforce.BruteforceUnavailable when the counters cannot be reached."""
    return bruteforce.request_allowed(
        scope="recovery",
        login=login,
        remote_ip=remote_ip,
        login_limit=settings.PASSWORD_RECOVERY_LOGIN_LIMIT,
        ip_limit=settings.PASSWORD_RECOVERY_IP_LIMIT,
        window=settings.PASSWORD_RECOVERY_WINDOW_SECONDS,
    )


def password_recovery_request(*, login: str, portal_name: str, remote_ip: str | None) -> None:
    """Someone typed `login` on a portal's "forgot password" page. The same work whatever the
    login: one audit row, one task queued (it finds out whether anyone gets a link)."""
    from domains.tasks import password_recovery_send_task

    login = canonical_login(login)[:254]
    portal(portal_name)  # a known portal, or LookupError
    with transaction.atomic():
        audit_record(
            actor=None,
            action="password.recovery.request",
            target=login,
            after={"portal": portal_name, "ip": remote_ip or ""},
        )
        transaction.on_commit(lambda: password_recovery_send_task.delay(login, portal_name))


def recovery_recipient(*, user: User) -> tuple[str, Domain | None, Customer | None] | None:
    """Where this login's recovery link goes (see the module's docstring), with the domain and
    customer for the audit row; None when nobody gets one."""
    if not user.is_active:
        return None
    mailbox = Mailbox.objects.select_related("domain__customer").filter(user=user).first()
    if mailbox is not None:
        if not (mailbox.is_active and mailbox.domain.is_active):
            return None
        customer = mailbox.domain.customer
        if mailbox.is_postmaster:
            return customer.legal_rep_email, mailbox.domain, customer
        row = RecoveryAddress.objects.filter(user=user, confirmed_at__isnull=False).exclude(email="").first()
        if row is None or _same_mailbox(row.email, mailbox):
            return None
        return row.email, mailbox.domain, customer
    for relation in ("manager", "customer_user"):
        try:
            holder = getattr(user, relation)
        except ObjectDoesNotExist:
            continue
        return holder.customer.legal_rep_email, None, holder.customer
    return None  # Delegates, provider staff


def password_recovery_send(*, login: str, portal_name: str) -> bool:
    """The worker's half of a request: email a one-time link to the login's recovery address,
    if it has one. Returns whether an email went out."""
    user = User.objects.filter(username=canonical_login(login)).first()
    target = recovery_recipient(user=user) if user is not None else None
    if target is None:
        return False
    email, domain, customer = target
    spec = portal(portal_name)
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    url = portal_url(
        portal_name,
        f"{spec.namespace}:password_reset",
        kwargs={"uidb64": uidb64, "token": recovery_tokens.make_token(user)},
    )
    with translation.override(user.language or settings.LANGUAGE_CODE):
        context = {
            "login": user.get_username(),
            "portal": spec.title,
            "url": url,
            "minutes": max(1, settings.PASSWORD_RESET_TIMEOUT // 60),
        }
        subject = _("Password recovery for %(login)s") % {"login": user.get_username()}
        body = render_to_string("domains/email/password_recovery.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email])
    audit_record(
        actor=None,
        action="password.recovery.sent",
        domain=domain,
        customer=customer,
        target=user.get_username(),
        after={"portal": portal_name, "to": email},
    )
    return True


def password_recovery_user(*, uidb64: str, token: str) -> User | None:
    """The login a recovery link was made for, while the link is valid (not expired, password
    not changed since); None otherwise."""
    try:
        pk = int(urlsafe_base64_decode(uidb64).decode())
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        return None
    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None or recovery_recipient(user=user) is None:
        return None
    if not recovery_tokens.check_token(user, token):
        return None
    return user


def password_recovery_complete(*, user: User, password: str) -> None:
    """Set the new password (already validated) from a valid link: the same service as the
    user's own change (app passwords revoked, verified-credential cache forgotten,
    must_change_password cleared), which also voids the link. The user is not logged in."""
    with transaction.atomic():
        own_password_change(user=user, password=password)
        mailbox = Mailbox.objects.select_related("domain").filter(user=user).first()
        audit_record(
            actor=user,
            action="password.recovery.used",
            domain=mailbox.domain if mailbox else None,
            target=user.get_username(),
        )
    try:  # the owner proved control of the recovery address: lift a block of this login
        bruteforce.unblock(login=user.get_username())
    except bruteforce.BruteforceUnavailable:
        pass
