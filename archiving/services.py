"""Services of the archive app: attaching and removing a mailbox's Archive plan, the legal hold.

Journaling is archiving.journaling, the purge archiving.retention."""

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from archiving.models import RETENTION_MAX_YEARS, RETENTION_MIN_YEARS, Archive, ArchivePlan
from billing.services import (
    billed_archive_relink,
    charge_archive_attached,
    charge_archive_removed,
    charge_deleted_archive_removed,
)
from core.audit import audit_record
from domains.models import DeletedMailbox, Mailbox
from domains.services import mailbox_undelete

# A shortening of the retention applies this long after it was asked (and can be cancelled
# until then); a lengthening applies at once.
RETENTION_SHORTENING_DELAY_DAYS = 30


def _valid_retention(value: Any) -> int:
    try:
        years = int(value)
    except (TypeError, ValueError):
        years = 0
    if not RETENTION_MIN_YEARS <= years <= RETENTION_MAX_YEARS:
        raise ValidationError(
            {
                "retention_years": [
                    _("Retention must be between %(min)d and %(max)d years.")
                    % {"min": RETENTION_MIN_YEARS, "max": RETENTION_MAX_YEARS}
                ]
            }
        )
    return years


def archive_attach(*, mailbox: Mailbox, retention_years: int, actor: Any | None = None) -> ArchivePlan:
    retention_years = _valid_retention(retention_years)
    try:
        with transaction.atomic():
            mailbox = Mailbox.objects.select_for_update().select_related("domain").get(pk=mailbox.pk)
            # Journaling starts with this commit: the MX reads the plan of each recipient.
            archive = Archive.objects.create(
                mailbox=mailbox,
                mailbox_key=mailbox.pk,
                domain=mailbox.domain,
                address=mailbox.address,
                retention_years=retention_years,
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


def archive_remove(*, mailbox: Mailbox, confirm_address: str, actor: Any | None = None) -> None:
    """Remove the mailbox's archive (the Manager only: the view checks it). `confirm_address`
    is what the Manager typed: it must be the mailbox's address."""
    if (confirm_address or "").strip().lower() != mailbox.address.lower():
        raise ValidationError({"confirm_address": [_("Type the address of the mailbox exactly.")]})
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
            Archive.objects.filter(pk=plan.archive_id).update(
                removed_at=timezone.now(), pending_retention_years=None, pending_retention_at=None
            )
        plan.delete()
        charge_archive_removed(mailbox=mailbox, actor=actor)


def archive_legal_hold_set(*, archive: Archive, legal_hold: bool, actor: Any | None = None) -> Archive:
    """Set or lift an archive's legal hold (back office): while set, the purge removes nothing
    of it, neither expired messages nor, once removed, the archive itself."""
    with transaction.atomic():
        archive = Archive.objects.select_for_update(of=("self",)).select_related("domain").get(pk=archive.pk)
        before = archive.legal_hold
        if before != bool(legal_hold):
            archive.legal_hold = bool(legal_hold)
            archive.save(update_fields=["legal_hold"])
            audit_record(
                actor=actor,
                action="archive.legal_hold",
                domain=archive.domain,
                target=archive.address,
                before={"legal_hold": before},
                after={"legal_hold": archive.legal_hold},
            )
    return archive


def archive_remove_orphan(*, archive: Archive, confirm_address: str, actor: Any | None = None) -> None:
    """Remove an archive whose mailbox was deleted (the Manager only: the view finds it through
    archiving.selectors.orphan_archives_for): readable 30 more days, then purged, as
    archive_remove. `confirm_address` is what the Manager typed: the archive's address."""
    if (confirm_address or "").strip().lower() != archive.address.lower():
        raise ValidationError({"confirm_address": [_("Type the address of the mailbox exactly.")]})
    with transaction.atomic():
        archive = Archive.objects.select_for_update(of=("self",)).select_related("domain").get(pk=archive.pk)
        if archive.mailbox_id is not None or archive.removed_at is not None:
            raise ValidationError({"confirm_address": [_("This archive cannot be removed here.")]})
        archive.removed_at = timezone.now()
        archive.pending_retention_years = archive.pending_retention_at = None
        archive.save(update_fields=["removed_at", "pending_retention_years", "pending_retention_at"])
        audit_record(
            actor=actor,
            action="archive.remove",
            domain=archive.domain,
            target=archive.address,
            before={"archive": archive.retention_years},
            after={"archive": None},
        )
        if archive.mailbox_key is not None:  # its charge stops at once, as archive_remove's
            charge_deleted_archive_removed(mailbox_key=archive.mailbox_key, actor=actor)


def archive_relink(*, mailbox: Mailbox, actor: Any | None = None) -> Archive | None:
    """A mailbox brought back by domains.services.mailbox_undelete (same id) gets its archives
    back: the owner reads them again (put back included) and they leave the Manager's page of
    archives of deleted mailboxes. The one not removed journals again, with its retention, and is
    billed as the mailbox's archive again, as before the deletion. Returns that one, if any."""
    with transaction.atomic():
        mailbox = Mailbox.objects.select_for_update().select_related("domain").get(pk=mailbox.pk)
        # By the mailbox's id; an archive orphaned before archives kept it, by its address.
        archives = list(
            Archive.objects.select_for_update()
            .filter(mailbox__isnull=True)
            .filter(
                Q(mailbox_key=mailbox.pk)
                | Q(mailbox_key__isnull=True, domain=mailbox.domain, address__iexact=mailbox.address)
            )
            .order_by("-created_at", "-pk")
        )
        if not archives:
            return None
        Archive.objects.filter(pk__in=[a.pk for a in archives]).update(
            mailbox=mailbox, mailbox_key=mailbox.pk, domain=mailbox.domain
        )
        kept = next((a for a in archives if a.removed_at is None), None)
        if kept is None or ArchivePlan.objects.filter(mailbox=mailbox).exists():
            return None
        ArchivePlan.objects.create(
            mailbox=mailbox,
            retention_years=kept.retention_years,
            created_by=actor if getattr(actor, "pk", None) else None,
            archive=kept,
        )
        # Billed since the deletion: the mailbox's again. Not billed (its mailbox deleted before
        # archives of deleted mailboxes were billed): billed from now, as an attach.
        if not billed_archive_relink(mailbox=mailbox):
            charge_archive_attached(mailbox=mailbox, actor=actor)
        audit_record(
            actor=actor,
            action="archive.relink",
            domain=mailbox.domain,
            target=mailbox.address,
            before={"archive": None},
            after={"archive": kept.retention_years},
        )
    kept.refresh_from_db()
    return kept


def archive_mailbox_undelete(*, deleted: DeletedMailbox, actor: Any | None = None) -> Mailbox:
    """Undelete a mailbox (domains.services.mailbox_undelete) and give it back its archive
    (archive_relink), in one transaction: domains sits below archiving and cannot do the
    second part itself, so the control panel calls this."""
    with transaction.atomic():
        mailbox = mailbox_undelete(deleted=deleted, actor=actor)
        archive_relink(mailbox=mailbox, actor=actor)
    return mailbox


# Retention changes ----------------------------------------------------------------------------


def archive_retention_change(
    *, mailbox: Mailbox, retention_years: Any, actor: Any | None = None, may_shorten: bool
) -> Archive:
    """Change the retention of the mailbox's archive. Longer (or the same): at once, and any
    pending shortening is cancelled. Shorter: pending for RETENTION_SHORTENING_DELAY_DAYS, the
    owner and the Manager are emailed; only a Manager or the owner (`may_shorten`), never a
    Postmaster."""
    years = _valid_retention(retention_years)
    with transaction.atomic():
        mailbox = (
            Mailbox.objects.select_for_update(of=("self",))
            .select_related("domain__manager__user")
            .get(pk=mailbox.pk)
        )
        plan = ArchivePlan.objects.filter(mailbox=mailbox, archive__isnull=False).first()
        if plan is None:
            raise ValidationError({"retention_years": [_("This mailbox has no archive.")]})
        archive = Archive.objects.select_for_update().get(pk=plan.archive_id)
        before = {"retention": archive.retention_years, "pending": archive.pending_retention_years}
        if years < archive.retention_years:
            if not may_shorten:
                raise ValidationError(
                    {"retention_years": [_("Only the Manager or the owner can shorten the retention.")]}
                )
            if archive.pending_retention_years == years:
                return archive  # already asked: the 30 days do not start again
            archive.pending_retention_years = years
            archive.pending_retention_at = timezone.now() + dt.timedelta(days=RETENTION_SHORTENING_DELAY_DAYS)
            archive.save(update_fields=["pending_retention_years", "pending_retention_at"])
            pending = (archive.pk, years, archive.pending_retention_at)
            transaction.on_commit(lambda: _email_shortening(mailbox, *pending))
        else:
            archive.retention_years = plan.retention_years = years
            archive.pending_retention_years = archive.pending_retention_at = None
            archive.save(update_fields=["retention_years", "pending_retention_years", "pending_retention_at"])
            plan.save(update_fields=["retention_years"])
        after = {"retention": archive.retention_years, "pending": archive.pending_retention_years}
        if after != before:
            audit_record(
                actor=actor,
                action="archive.retention",
                domain=mailbox.domain,
                target=mailbox.address,
                before=before,
                after=after,
            )
    return archive


def archive_retention_cancel(*, mailbox: Mailbox, actor: Any | None = None) -> Archive:
    """Cancel a pending shortening (anyone who may see the archive's plan: keeping longer is
    always allowed)."""
    with transaction.atomic():
        mailbox = Mailbox.objects.select_for_update().select_related("domain").get(pk=mailbox.pk)
        plan = ArchivePlan.objects.filter(mailbox=mailbox, archive__isnull=False).first()
        if plan is None:
            raise ValidationError({"retention_years": [_("This mailbox has no archive.")]})
        archive = Archive.objects.select_for_update().get(pk=plan.archive_id)
        if archive.pending_retention_years is None:
            raise ValidationError({"retention_years": [_("No change of the retention is pending.")]})
        before = {"retention": archive.retention_years, "pending": archive.pending_retention_years}
        archive.pending_retention_years = archive.pending_retention_at = None
        archive.save(update_fields=["pending_retention_years", "pending_retention_at"])
        audit_record(
            actor=actor,
            action="archive.retention",
            domain=mailbox.domain,
            target=mailbox.address,
            before=before,
            after={"retention": archive.retention_years, "pending": None},
        )
    return archive


def archive_retention_apply_due(*, now: dt.datetime | None = None) -> int:
    """Make each pending shortening whose date has come the archive's retention (beat, hourly;
    idempotent). Returns how many were applied."""
    now = now or timezone.now()
    applied = 0
    due = Archive.objects.filter(pending_retention_at__lte=now).values_list("pk", flat=True)
    for pk in list(due):
        with transaction.atomic():
            archive = Archive.objects.select_for_update().filter(pk=pk, pending_retention_at__lte=now).first()
            if archive is None:  # cancelled meanwhile
                continue
            before = archive.retention_years
            archive.retention_years = archive.pending_retention_years
            archive.pending_retention_years = archive.pending_retention_at = None
            archive.save(update_fields=["retention_years", "pending_retention_years", "pending_retention_at"])
            ArchivePlan.objects.filter(archive=archive).update(retention_years=archive.retention_years)
            audit_record(
                actor=None,
                action="archive.retention",
                domain=None,
                target=archive.address,
                before={"retention": before},
                after={"retention": archive.retention_years},
            )
            applied += 1
    return applied


def _years(n: int) -> str:
    return ngettext("%(n)d year", "%(n)d years", n) % {"n": n}


def _email_shortening(mailbox: Mailbox, archive_id: int, years: int, at: dt.datetime) -> None:
    archive = Archive.objects.filter(pk=archive_id).first()
    if archive is None:
        return
    recipients = [mailbox.address]
    manager = getattr(mailbox.domain, "manager", None)
    if manager is not None and manager.user.email and manager.user.email.lower() != mailbox.address.lower():
        recipients.append(manager.user.email)
    day = date_format(timezone.localtime(at), "DATE_FORMAT")
    subject = _("The Archive of %(address)s will keep messages for less time") % {"address": mailbox.address}
    body = _(
        "The retention of the Archive of %(address)s was shortened from %(before)s to %(after)s.\n\n"
        "The change takes effect on %(day)s: from then on, messages archived more than %(after)s "
        "ago are deleted for good.\n\n"
        "Until then the change can be cancelled by the Manager in the control panel or by the "
        "owner in the Archive."
    ) % {
        "address": mailbox.address,
        "before": _years(archive.retention_years),
        "after": _years(years),
        "day": day,
    }
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
