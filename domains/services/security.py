"""Security actions an admin takes on a mailbox from the panel. (The 2FA reset is
accounts.twofactor.totp_reset.)"""

from typing import Any

from django.db import transaction

from accounts.models import AppPassword
from accounts.services import app_password_revoke
from domains.models import Mailbox


def mailbox_revoke_app_passwords(*, mailbox: Mailbox, actor: Any | None = None) -> int:
    """Revoke every active app password of the mailbox (one audit row each, written by
    app_password_revoke). Returns how many were revoked."""
    with transaction.atomic():
        rows = list(
            AppPassword.objects.select_for_update()
            .filter(user_id=mailbox.user_id, revoked_at__isnull=True)
            .order_by("pk")
        )
        for row in rows:
            app_password_revoke(app_password=row, actor=actor)
    return len(rows)
