"""Services of the archive app: attaching and removing a mailbox's Archive plan."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from archiving.models import RETENTION_MAX_YEARS, RETENTION_MIN_YEARS, ArchivePlan
from billing.services import charge_archive_attached, charge_archive_removed
from core.audit import audit_record
from domains.models import Mailbox


def archive_attach(*, mailbox: Mailbox, retention_years: int, actor: Any | None = None) -> ArchivePlan:
    try:
        retention_years = int(retention_years)
    except (TypeError, ValueError):
        retention_years = 0
    if not RETENTION_MIN_YEARS <= retention_years <= RETENTION_MAX_YEARS:
        raise ValidationError(
            {
                "retention_years": [
                    _("Retention must be between %(min)d and %(max)d years.")
                    % {"min": RETENTION_MIN_YEARS, "max": RETENTION_MAX_YEARS}
                ]
            }
        )
    try:
        with transaction.atomic():
            mailbox = Mailbox.objects.select_for_update().select_related("domain").get(pk=mailbox.pk)
            plan = ArchivePlan.objects.create(
                mailbox=mailbox,
                retention_years=retention_years,
                created_by=actor if getattr(actor, "pk", None) else None,
            )
            audit_record(
                actor=actor,
                action="archive.attach",
                domain=mailbox.domain,
                target=mailbox.address,
                before={"archive": None},
                after={"archive": retention_years},
            )
            charge_archive_attached(mailbox=mailbox, actor=actor)
    except IntegrityError as exc:
        raise ValidationError({"retention_years": [_("This mailbox already has an archive.")]}) from exc
    return plan


def archive_remove(*, mailbox: Mailbox, actor: Any | None = None) -> None:
    with transaction.atomic():
        mailbox = Mailbox.objects.select_for_update().select_related("domain").get(pk=mailbox.pk)
        plan = ArchivePlan.objects.filter(mailbox=mailbox).first()
        if plan is None:
            raise ValidationError({"retention_years": [_("This mailbox has no archive.")]})
        audit_record(
            actor=actor,
            action="archive.remove",
            domain=mailbox.domain,
            target=mailbox.address,
            before={"archive": plan.retention_years},
            after={"archive": None},
        )
        plan.delete()
        charge_archive_removed(mailbox=mailbox, actor=actor)
