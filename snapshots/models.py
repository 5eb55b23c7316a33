from django.conf import settings
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


class RestoreScope(models.TextChoices):
    MAILBOX = "mailbox", _("the whole mailbox")
    FOLDER = "folder", _("one folder")
    MESSAGES = "messages", _("selected messages")


class RestoreState(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class RestoreRequest(models.Model):
    """A user's "bring back to DAY": what (scope, folder, UIDs of that day), who asked, the
    price accepted (one ledger event when non-zero) and the run's state and progress. The run
    (snapshots.restore.restore_run) saves its counts after every batch; the merge itself is
    idempotent (mailstore.restore), so a run killed half-way is simply run again."""

    mailbox = models.ForeignKey(
        "domains.Mailbox",
        on_delete=models.CASCADE,
        related_name="restore_requests",
        verbose_name=_("mailbox"),
    )
    day = models.DateField(_("day"))
    scope = models.CharField(_("scope"), max_length=10, choices=RestoreScope.choices)
    folder = models.CharField(_("folder"), max_length=500, blank=True, default="")
    uids = models.JSONField(_("messages"), default=list, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    state = models.CharField(
        _("state"), max_length=10, choices=RestoreState.choices, default=RestoreState.QUEUED
    )
    planned_messages = models.PositiveIntegerField(_("messages to restore"), default=0)
    planned_bytes = models.PositiveBigIntegerField(_("bytes to restore"), default=0)
    restored_messages = models.PositiveIntegerField(_("messages restored"), default=0)
    restored_bytes = models.PositiveBigIntegerField(_("bytes restored"), default=0)
    folders_created = models.JSONField(_("folders created"), default=list, blank=True)
    price = models.DecimalField(_("price"), max_digits=10, decimal_places=2, default=0)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    error = models.TextField(_("error"), blank=True, default="")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("restore request")
        verbose_name_plural = _("restore requests")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state"], name="restore_state_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scope__in=["mailbox", "folder", "messages"]), name="restore_scope_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(scope="mailbox") | ~models.Q(folder=""), name="restore_folder_given"
            ),
            models.CheckConstraint(condition=models.Q(price__gte=0), name="restore_price_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.mailbox_id} {self.day} {self.scope} {self.state}"

    @property
    def percent(self) -> int:
        if self.state == RestoreState.DONE:
            return 100
        if not self.planned_messages:
            return 0
        return min(99, self.restored_messages * 100 // self.planned_messages)
