from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

RETENTION_MIN_YEARS = 1
RETENTION_MAX_YEARS = 10


class ArchivePlan(models.Model):
    """An Archive attached to a mailbox: while this row exists, every message the mailbox sends
    and receives is journaled into `archive`. This row is what the panel attaches and removes
    (billing has its own row, billing.BilledArchive); the archive outlives it."""

    mailbox = models.OneToOneField(
        "domains.Mailbox", on_delete=models.CASCADE, related_name="archive_plan", verbose_name=_("mailbox")
    )
    retention_years = models.PositiveSmallIntegerField(_("retention (years)"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    # The archive this plan journals into (null only for plans attached before the store existed
    # and not yet migrated: migration 0002 gives each one its archive).
    archive = models.OneToOneField(
        "Archive",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="plan",
        verbose_name=_("archive"),
    )

    class Meta:
        verbose_name = _("archive plan")
        verbose_name_plural = _("archive plans")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(retention_years__gte=RETENTION_MIN_YEARS)
                & models.Q(retention_years__lte=RETENTION_MAX_YEARS),
                name="archiveplan_retention_1_to_10_years",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.mailbox_id}: {self.retention_years}"


class Archive(models.Model):
    """One mailbox's archive: its entries, their hash chain, its retention and legal hold.

    It outlives its plan and its mailbox: removing the plan (`archive_remove`) stops journaling
    at once and schedules the purge of the whole archive 30 days later; deleting the mailbox
    leaves the archive (its `address` remembers whose it was) until its entries expire."""

    mailbox = models.ForeignKey(
        "domains.Mailbox",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="archives",
        verbose_name=_("mailbox"),
    )
    # What survives the mailbox: its immutable id (Delegates' grants find the archive by it,
    # domains.DelegateGrant.mailbox_key) and its domain (the Manager sees and removes the archive
    # there; nothing but the purge deletes an archive, so a domain with archives is kept).
    mailbox_key = models.BigIntegerField(null=True, blank=True, db_index=True)
    domain = models.ForeignKey(
        "domains.Domain",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("domain"),
    )
    address = models.CharField(_("address"), max_length=320)
    retention_years = models.PositiveSmallIntegerField(_("retention (years)"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    removed_at = models.DateTimeField(_("removed"), null=True, blank=True)
    legal_hold = models.BooleanField(
        _("legal hold"), default=False, help_text=_("While set, nothing of this archive is purged.")
    )
    # The hash chain: the last entry's sequence number and hash ("" before the first entry), and
    # the last entry the purge removed (the first remaining entry links to it).
    head_seq = models.BigIntegerField(default=0)
    head_hash = models.CharField(max_length=64, blank=True, default="")
    purged_seq = models.BigIntegerField(default=0)
    purged_hash = models.CharField(max_length=64, blank=True, default="")
    # A shortening of the retention waits RETENTION_SHORTENING_DELAY_DAYS (archiving.services):
    # until `pending_retention_at` the purge keeps using `retention_years`, and the change can be
    # cancelled; then archiving.tasks.archive_retention_apply makes it the retention.
    pending_retention_years = models.PositiveSmallIntegerField(
        _("pending retention (years)"), null=True, blank=True
    )
    pending_retention_at = models.DateTimeField(_("pending retention applies on"), null=True, blank=True)

    class Meta:
        verbose_name = _("archive")
        verbose_name_plural = _("archives")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(retention_years__gte=RETENTION_MIN_YEARS)
                & models.Q(retention_years__lte=RETENTION_MAX_YEARS),
                name="archive_retention_1_to_10_years",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(pending_retention_years__isnull=True, pending_retention_at__isnull=True)
                    | models.Q(
                        pending_retention_years__gte=RETENTION_MIN_YEARS,
                        pending_retention_years__lte=RETENTION_MAX_YEARS,
                        pending_retention_at__isnull=False,
                    )
                ),
                name="archive_pending_retention_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.address


class ArchiveBlob(models.Model):
    """A message body in the blob store, by the SHA-256 of its raw bytes; shared by every entry
    (of any archive) that holds the same bytes. The row exists while an entry may reference it;
    the purge deletes the row and the stored object together."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    size = models.BigIntegerField()  # raw bytes
    stored_size = models.BigIntegerField()  # compressed bytes in the store
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.sha256


class ArchivedMessage(models.Model):
    """One message in one archive's folder: metadata, the blob, the chain link, the search
    vector (PostgreSQL full text, Italian and English, see archiving.search)."""

    class Folder(models.TextChoices):
        RECEIVED = "received", pgettext_lazy("archive folder", "Received")
        SENT = "sent", pgettext_lazy("archive folder", "Sent")

    archive = models.ForeignKey(Archive, on_delete=models.CASCADE, related_name="messages")
    seq = models.BigIntegerField()
    folder = models.CharField(max_length=8, choices=Folder.choices)
    fingerprint = models.CharField(max_length=64)  # sender + original bytes: a retry has the same
    blob = models.ForeignKey(ArchiveBlob, on_delete=models.PROTECT, db_column="blob_sha256", related_name="+")
    archived_at = models.DateTimeField()
    message_date = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=998, blank=True, default="")
    sender = models.CharField(max_length=998, blank=True, default="")  # the From header
    recipients = models.TextField(blank=True, default="")  # To and Cc headers
    subject = models.TextField(blank=True, default="")
    size = models.BigIntegerField()
    attachment_names = models.JSONField(default=list)
    entry_hash = models.CharField(max_length=64)
    prev_hash = models.CharField(max_length=64, blank=True, default="")
    # Headers and attachment names are indexed with the entry; the text of the body by
    # archiving.indexing shortly after (off the SMTP path), which then sets body_indexed.
    search = SearchVectorField(null=True)
    body_indexed = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["archive", "seq"], name="archived_message_seq_unique"),
            models.UniqueConstraint(
                fields=["archive", "folder", "fingerprint"], name="archived_message_once_per_folder"
            ),
            models.CheckConstraint(
                condition=models.Q(folder__in=["received", "sent"]), name="archived_message_folder_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["archive", "folder", "message_date"], name="archived_message_browse"),
            models.Index(fields=["blob"], name="archived_message_blob"),
            GinIndex(fields=["search"], name="archived_message_search"),
            # A quoted phrase: the pairs of adjacent lexemes of the vector (migration 0007 defines
            # the function; archiving.search computes the same keys for the phrase's words).
            GinIndex(
                models.Func(
                    models.F("search"),
                    function="archive_search_pairs",
                    output_field=ArrayField(models.IntegerField()),
                ),
                name="archived_message_search_pairs",
            ),
            # Search and lists newest first, in one archive or across many (archiving.search).
            models.Index(fields=["archive", "message_date", "seq"], name="archived_message_archive_date"),
            models.Index(fields=["message_date", "seq"], name="archived_message_date"),
            # The "from" filter (a substring, ILIKE) across many archives.
            GinIndex(fields=["sender"], opclasses=["gin_trgm_ops"], name="archived_message_sender_trgm"),
            models.Index(
                fields=["id"], name="archived_message_unindexed", condition=models.Q(body_indexed=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.archive_id}#{self.seq}"


class ArchiveDayHead(models.Model):
    """The chain head of an archive at the end of each local day (Europe/Rome) it received
    entries: written with each entry, so a later rewrite of the chain contradicts a head
    already recorded (and copied elsewhere by whoever keeps them)."""

    archive = models.ForeignKey(Archive, on_delete=models.CASCADE, related_name="day_heads")
    day = models.DateField()
    seq = models.BigIntegerField()
    entry_hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["archive", "day"], name="archive_day_head_unique")]

    def __str__(self) -> str:
        return f"{self.archive_id} {self.day}: {self.seq}"


class ArchiveExport(models.Model):
    """An export too large to stream while the browser waits: built by a Celery job into a file
    (archiving.export_jobs), with its progress; a link that expires is emailed to whoever asked.
    The download checks the asker's access again (a Delegate expired since gets nothing)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("In progress")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    class Format(models.TextChoices):
        ZIP = "zip", ".zip"
        MBOX = "mbox", "mbox"

    archive = models.ForeignKey(Archive, on_delete=models.CASCADE, related_name="exports")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    email = models.EmailField()
    format = models.CharField(max_length=4, choices=Format.choices)
    entry_ids = models.JSONField(default=list)  # resolved by the selectors when asked
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    token = models.CharField(max_length=64, unique=True)
    size = models.BigIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "running", "done", "failed"]),
                name="archive_export_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(format__in=["zip", "mbox"]), name="archive_export_format_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.archive_id} export {self.pk} ({self.status})"


class ArchiveImport(models.Model):
    """An import of a live mailbox's folders into its archive (archiving.importing): what to
    import (`mapping`), how far it got (`progress`, committed with each batch of entries), and
    the counts emailed at the end."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    archive = models.ForeignKey(Archive, on_delete=models.CASCADE, related_name="imports")
    mailbox = models.ForeignKey(
        "domains.Mailbox", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    notify = models.JSONField(default=list)  # addresses emailed the counts at the end
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    # [{"name": IMAP folder, "target": "received"|"sent", "total": n, "last_uid": u, "done": n,
    #   "imported": n, "duplicates": n, "too_old": n}], in import order.
    progress = models.JSONField(default=list)
    error = models.TextField(blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=["queued", "running", "done", "failed"]),
                name="archive_import_state_valid",
            ),
            # One import at a time per archive: a second would only find duplicates.
            models.UniqueConstraint(
                fields=["archive"],
                condition=models.Q(state__in=["queued", "running"]),
                name="archive_import_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.archive_id} import {self.pk} ({self.state})"

    def totals(self) -> dict[str, int]:
        keys = ("total", "done", "imported", "duplicates", "too_old")
        return {k: sum(int(f.get(k, 0)) for f in self.progress) for k in keys}

    @property
    def percent(self) -> int:
        t = self.totals()
        if self.state == self.State.DONE:
            return 100
        return min(100, round(100 * t["done"] / t["total"])) if t["total"] else 0


class ArchiveBlobPending(models.Model):
    """The journaling outbox: a new blob's compressed bytes, written in the transaction that
    archives the message (one WAL flush makes both durable, instead of two file-system fsyncs
    on the SMTP path), moved into the blob store by archiving.outbox within a minute. Until then
    archiving.blobstore reads the bytes from here. Deleted with its blob row."""

    blob = models.OneToOneField(
        ArchiveBlob, on_delete=models.CASCADE, primary_key=True, db_column="blob_sha256", related_name="+"
    )
    data = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.blob_id
