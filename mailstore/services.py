"""Services of the mail store: the only functions that change mailstore rows. (The quota
warning, which needs the mailbox behind an address, is domains.services.quota_warnings.)"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from core.audit import audit_record
from mailstore.models import QuotaOverride

if TYPE_CHECKING:
    from domains.models import Mailbox


def quota_override_set(*, mailbox: Mailbox, quota_bytes: int | None, actor: Any | None = None) -> None:
    """Give a mailbox a space limit in bytes instead of its tier's; None goes back to the tier.

    Dovecot reads the limit at each login and delivery (mailstore_mailuser.quota_bytes)."""
    if quota_bytes is not None and quota_bytes <= 0:
        raise ValidationError({"quota_bytes": [_("The space must be a positive number of bytes.")]})
    with transaction.atomic():
        before = QuotaOverride.objects.filter(mailbox=mailbox).values_list("bytes", flat=True).first()
        if quota_bytes is None:
            QuotaOverride.objects.filter(mailbox=mailbox).delete()
        else:
            QuotaOverride.objects.update_or_create(mailbox=mailbox, defaults={"bytes": quota_bytes})
        audit_record(
            actor=actor,
            action="mailbox.quota_override",
            domain=mailbox.domain,
            target=mailbox.address,
            before={"quota_bytes": before},
            after={"quota_bytes": quota_bytes},
        )
