"""The forced password change at first login (the Postmaster's, or after a reset)."""

from typing import Any

from django.db import transaction

from domains.models import Mailbox


def own_password_change(*, user: Any, password: str) -> None:
    """Set the user's own new password (already validated) and clear must_change_password.
    A mailbox goes through the mailbox service (audit row for its domain)."""
    mailbox = Mailbox.objects.filter(user=user).select_related("domain", "user").first()
    if mailbox is not None:
        from domains.services import mailbox_set_password

        mailbox_set_password(mailbox=mailbox, password=password, actor=user, must_change=False)
        return
    from accounts.services import app_passwords_revoke_all

    with transaction.atomic():
        user.set_password(password)
        user.must_change_password = False
        user.save(update_fields=["password", "must_change_password"])
        app_passwords_revoke_all(user=user, actor=user)
