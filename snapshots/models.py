from django.db import models
from django.utils.translation import gettext_lazy as _


class SnapshotStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    TAKEN = "taken", _("taken")
    LATE = "late", _("taken late")
    FAILED = "failed", _("failed")


class Snapshot(models.Model):
    """One mailbox's copy of one day (Europe/Rome), taken at midnight or, when the worker was
    down then, as soon as it came back (status late, `taken_at` the real time).

    The row is written in the same transaction that holds its lock while the files are built
    (snapshots.services.snapshot_take): a worker killed half-way leaves the row as it was and
    the files unpublished, so the next attempt starts over cleanly."""

    mailbox = models.ForeignKey(
        "domains.Mailbox", on_delete=models.CASCADE, related_name="snapshots", verbose_name=_("mailbox")
    )
    day = models.DateField(_("day"))
    status = models.CharField(
        _("status"), max_length=10, choices=SnapshotStatus.choices, default=SnapshotStatus.PENDING
    )
    taken_at = models.DateTimeField(_("taken at"), null=True, blank=True)
    messages = models.PositiveIntegerField(_("messages"), default=0)
    bytes = models.PositiveBigIntegerField(_("bytes"), default=0)
    duration = models.FloatField(_("duration (s)"), default=0)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("snapshot")
        verbose_name_plural = _("snapshots")
        ordering = ["mailbox_id", "-day"]
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "day"], name="snapshot_one_per_mailbox_day"),
            models.CheckConstraint(
                condition=~models.Q(status__in=["taken", "late"]) | models.Q(taken_at__isnull=False),
                name="snapshot_taken_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.mailbox_id} {self.day} {self.status}"

    @property
    def is_taken(self) -> bool:
        return self.status in (SnapshotStatus.TAKEN, SnapshotStatus.LATE)
