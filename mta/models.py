import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class TracemailEntry(models.Model):
    """One message for one recipient, as the SMTP server saw it, with its current status.

    `sender_domain` / `recipient_domain` are the hosted domains on either side (null when that
    side is not hosted here): the domain's postmaster and manager see rows of either kind."""

    class Direction(models.TextChoices):
        IN = "in", _("Incoming")
        OUT = "out", _("Outgoing")
        INTERNAL = "internal", _("Internal")

    class Status(models.TextChoices):
        ACCEPTED = "accepted", _("Accepted")
        DELIVERED = "delivered", _("Delivered")
        DEFERRED = "deferred", _("Deferred")
        BOUNCED = "bounced", _("Bounced")
        REJECTED = "rejected", _("Rejected")

    class SpamVerdict(models.TextChoices):
        CLEAN = "clean", _("Clean")
        SPAM = "spam", _("Spam (Junk)")
        REJECTED = "rejected", _("Refused by the filter")
        DEFERRED = "deferred", _("Deferred by the filter")
        UNFILTERED = "unfiltered", _("Not filtered")

    created_at = models.DateTimeField(_("received"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("last change"), auto_now=True)
    direction = models.CharField(_("direction"), max_length=8, choices=Direction.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    reason = models.CharField(_("reason"), max_length=500, blank=True, default="")
    sender = models.CharField(_("from"), max_length=320, blank=True, default="")
    recipient = models.CharField(_("to"), max_length=320)
    sender_domain = models.ForeignKey(
        "domains.Domain", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recipient_domain = models.ForeignKey(
        "domains.Domain", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    message_id = models.CharField(_("Message-ID"), max_length=500, blank=True, default="")
    subject = models.CharField(_("subject"), max_length=500, blank=True, default="")
    size = models.PositiveBigIntegerField(_("size"), default=0)
    client_ip = models.GenericIPAddressField(_("client IP"), null=True, blank=True)
    remote_host = models.CharField(_("remote host"), max_length=255, blank=True, default="")
    queue_id = models.CharField(_("queue id"), max_length=40, blank=True, default="", db_index=True)
    # Inbound filtering (mta.filtering): rspamd's verdict and score on the MX; "" = not scanned
    # (submission, internal mail, rows from before filtering).
    spam_verdict = models.CharField(
        _("filter verdict"), max_length=10, choices=SpamVerdict.choices, blank=True, db_default=""
    )
    spam_score = models.FloatField(_("spam score"), null=True, blank=True)

    class Meta:
        verbose_name = _("Tracemail entry")
        verbose_name_plural = _("Tracemail")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["sender_domain", "-created_at"], name="tracemail_sender_dom_idx"),
            models.Index(fields=["recipient_domain", "-created_at"], name="tracemail_rcpt_dom_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(direction__in=["in", "out", "internal"]), name="tracemail_direction_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["accepted", "delivered", "deferred", "bounced", "rejected"]),
                name="tracemail_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sender} → {self.recipient} ({self.status})"


class TracemailEvent(models.Model):
    """A status change of a Tracemail entry."""

    entry = models.ForeignKey(TracemailEntry, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(_("when"), auto_now_add=True)
    status = models.CharField(_("status"), max_length=10, choices=TracemailEntry.Status.choices)
    reason = models.CharField(_("reason"), max_length=500, blank=True, default="")
    remote_host = models.CharField(_("remote host"), max_length=255, blank=True, default="")

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.entry_id}: {self.status}"


class OutboundMessage(models.Model):
    """A message durably queued for remote delivery: its bytes live in the spool file."""

    queue_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sender = models.CharField(max_length=320, blank=True, default="")  # "" = null sender (a DSN)
    spool_path = models.CharField(max_length=500)
    size = models.PositiveBigIntegerField(default=0)
    message_id = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        verbose_name = _("outbound message")
        verbose_name_plural = _("outbound queue")

    def __str__(self) -> str:
        return str(self.queue_id)


class OutboundRecipient(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        DEFERRED = "deferred", _("Deferred")
        DELIVERED = "delivered", _("Delivered")
        BOUNCED = "bounced", _("Bounced")

    message = models.ForeignKey(OutboundMessage, on_delete=models.CASCADE, related_name="recipients")
    address = models.CharField(max_length=320)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True, default="")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    tracemail = models.ForeignKey(
        TracemailEntry, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "address"], name="outbound_recipient_unique"),
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "deferred", "delivered", "bounced"]),
                name="outbound_recipient_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbound_rcpt_due_idx")]

    def __str__(self) -> str:
        return f"{self.address} ({self.status})"


class HandledCopy(models.Model):
    """A copy (message fingerprint, recipient): delivered locally or durably queued ("done"), or a
    local delivery begun whose outcome is not known yet.

    SMTP has one DATA reply for all recipients: when one local copy fails temporarily after others
    were delivered, the server answers 4xx and the sender retries the whole message; this table
    makes the retry skip the copies already handled.

    A local copy's row is written ("delivering", with the database session of the attempt) before
    the LMTP hand-off, and becomes "done" after Dovecot's 250. A crash in between (the SMTP server
    killed, Dovecot killed before its reply reached us) leaves it "delivering" (its session gone)
    or "unknown": the retry then looks for the copy in the mailbox (the delivery header the MX
    adds to each local copy, see mta.acceptance) before delivering again. Rows are purged after a
    few days."""

    class State(models.TextChoices):
        DELIVERING = "delivering", _("Delivering")
        UNKNOWN = "unknown", _("Outcome unknown")
        DONE = "done", _("Done")

    fingerprint = models.CharField(max_length=64)
    recipient = models.CharField(max_length=320)
    at = models.DateTimeField(auto_now_add=True, db_index=True)  # the first attempt
    state = models.CharField(max_length=10, choices=State.choices, default=State.DONE)
    # The PostgreSQL backend pid of the SMTP server thread delivering it, and when that attempt
    # began: an attempt is still under way while that session lives (bounded in time).
    owner_pid = models.IntegerField(null=True, blank=True)
    attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["fingerprint", "recipient"], name="handled_copy_unique"),
            models.CheckConstraint(
                condition=models.Q(state__in=["delivering", "unknown", "done"]),
                name="handled_copy_state_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.fingerprint[:12]} {self.recipient} ({self.state})"
