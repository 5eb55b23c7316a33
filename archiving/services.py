"""Services of the archive app: attaching and removing a mailbox's Archive plan, the legal hold.

Journaling is archiving.journaling, the purge archiving.retention."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from archiving.models import RETENTION_MAX_YEARS, RETENTION_MIN_YEARS, Archive, ArchivePlan
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
            # Journaling starts with this commit: the MX reads the plan of each recipient.
            archive = Archive.objects.create(
                mailbox=mailbox, address=mailbox.address, retention_years=retention_years
            )
            plan = ArchivePlan.objects.create(
                mailbox=mailbox,
                retention_years=retention_years,
                created_by=actor if getattr(actor, "pk", None) else None,
                archive=archive,
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
        # Journaling stops with this commit (no plan, and the archive is marked removed); the
        # archive stays readable until the purge removes it, REMOVED_ARCHIVE_KEPT_DAYS later.
        if plan.archive_id is not None:
            Archive.objects.filter(pk=plan.archive_id).update(removed_at=timezone.now())
        plan.delete()
        charge_archive_removed(mailbox=mailbox, actor=actor)


def archive_legal_hold_set(*, archive: Archive, legal_hold: bool, actor: Any | None = None) -> Archive:
    """Set or lift an archive's legal hold (back office): while set, the purge removes nothing
    of it, neither expired messages nor, once removed, the archive itself."""
    with transaction.atomic():
        archive = (
            Archive.objects.select_for_update(of=("self",))
            .select_related("mailbox__domain")
            .get(pk=archive.pk)
        )
        before = archive.legal_hold
        if before != bool(legal_hold):
            archive.legal_hold = bool(legal_hold)
            archive.save(update_fields=["legal_hold"])
            audit_record(
                actor=actor,
                action="archive.legal_hold",
                domain=archive.mailbox.domain if archive.mailbox else None,
                target=archive.address,
                before={"legal_hold": before},
                after={"legal_hold": archive.legal_hold},
            )
    return archive
