"""Security actions on logins: an admin's on a mailbox from the panel, and a user's own password
change (the control panel's My account, the forced change at first login). (The 2FA reset is
domains.twofactor.totp_reset.)"""

from typing import Any

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import app_passwords_revoke_all
from core.audit import audit_record
from domains.models import Mailbox
from domains.services.mailboxes import mailbox_set_password


def mailbox_revoke_app_passwords(*, mailbox: Mailbox, actor: Any | None = None) -> int:
    """Revoke every active app password of the mailbox (one audit row each, written by
    app_password_revoke). Returns how many were revoked."""
    return app_passwords_revoke_all(user=mailbox.user, actor=actor)


def user_password_change(*, user: User, current: str, new: str) -> None:
    """A user's own password change (Managers, Delegates, Postmasters in the control panel):
    the current password first, then the new one (already checked by the password validators).
    A mailbox goes through its own service (audit row for its domain); other logins get an
    audit row for their customer."""
    if not user.check_password(current):
        raise ValidationError({"current": [_("The current password is wrong.")]})
    if current == new:
        raise ValidationError({"new": [_("Choose a password different from the current one.")]})
    mailbox = Mailbox.objects.filter(user=user).select_related("domain", "user").first()
    if mailbox is not None:
        mailbox_set_password(mailbox=mailbox, password=new, actor=user, must_change=False)
        return
    with transaction.atomic():
        user.set_password(new)
        user.must_change_password = False
        user.save(update_fields=["password", "must_change_password"])
        audit_record(
            actor=user, action="password.change", customer=_customer_of(user), target=user.get_username()
        )


def own_password_change(*, user: User, password: str) -> None:
    """The forced password change at first login (the Postmaster's, or after a reset): set the
    user's own new password (already validated) and clear must_change_password. A mailbox goes
    through the mailbox service (audit row for its domain); every app password of another
    login is revoked with it."""
    mailbox = Mailbox.objects.filter(user=user).select_related("domain", "user").first()
    if mailbox is not None:
        mailbox_set_password(mailbox=mailbox, password=password, actor=user, must_change=False)
        return
    with transaction.atomic():
        user.set_password(password)
        user.must_change_password = False
        user.save(update_fields=["password", "must_change_password"])
        app_passwords_revoke_all(user=user, actor=user)


def _customer_of(user: Any) -> Any:
    for relation in ("manager", "delegate"):
        try:
            holder = getattr(user, relation)
        except (ObjectDoesNotExist, AttributeError):
            continue
        return holder.customer if relation == "manager" else holder.manager.customer
    return None
