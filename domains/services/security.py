"""Security actions an admin takes on a mailbox from the panel. (The 2FA reset is
accounts.twofactor.totp_reset.)"""

from typing import Any

from accounts.services import app_passwords_revoke_all
from domains.models import Mailbox


def mailbox_revoke_app_passwords(*, mailbox: Mailbox, actor: Any | None = None) -> int:
    """Revoke every active app password of the mailbox (one audit row each, written by
    app_password_revoke). Returns how many were revoked."""
    return app_passwords_revoke_all(user=mailbox.user, actor=actor)
