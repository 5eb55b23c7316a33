"""Billing: the price list, the charge ledger, the archives being billed and the end-of-day notices.

Amounts are EUR, VAT excluded, stored as decimals with two places. How amounts are computed
and prorated is documented in docs/billing.md and lives in billing.pricing.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

AMOUNT = {"max_digits": 10, "decimal_places": 2}
ZERO = Decimal("0.00")
PRICE_FIELDS = (
    "mailbox_extra",
    "quota_25",
    "quota_50",
    "quota_100",
    "send_2000",
    "send_5000",
    "archive",
    "timemachine_restore",
    "intervention",
)


class PriceList(models.Model):
    """One version of the price list. A version is in force from `valid_from` (always the first
    day of a month) until the day before the next version's `valid_from`."""

    valid_from = models.DateField(_("valid from"), unique=True)
    mailbox_extra = models.DecimalField(_("mailbox beyond the included count, monthly"), **AMOUNT)
    quota_25 = models.DecimalField(_("25 GB space, monthly"), **AMOUNT)
    quota_50 = models.DecimalField(_("50 GB space, monthly"), **AMOUNT)
    quota_100 = models.DecimalField(_("100 GB space, monthly"), **AMOUNT)
    send_2000 = models.DecimalField(_("2,000 a day send limit, monthly"), **AMOUNT)
    send_5000 = models.DecimalField(_("5,000 a day send limit, monthly"), **AMOUNT)
    archive = models.DecimalField(_("archive per mailbox, monthly"), **AMOUNT)
    timemachine_restore = models.DecimalField(_("Time Machine restore, one-off"), **AMOUNT)
    intervention = models.DecimalField(_("other extraordinary intervention, one-off"), **AMOUNT)
    note = models.CharField(_("note"), max_length=200, blank=True, default="")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("price list")
        verbose_name_plural = _("price lists")
        ordering = ["-valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(valid_from__day=1), name="pricelist_valid_from_first_of_month"
            ),
            *(
                models.CheckConstraint(
                    condition=models.Q(**{f"{name}__gte": 0}), name=f"pricelist_{name}_non_negative"
                )
                for name in PRICE_FIELDS
            ),
        ]

    def __str__(self) -> str:
        return str(_("Price list from %(date)s") % {"date": self.valid_from.isoformat()})


class BilledArchive(models.Model):
    """An archive being billed. Written only by the billing.services charges the archive
    services call in the transaction that attaches or removes the archive.

    It outlives its mailbox as the archive does (issue 13): deleting the mailbox leaves the row,
    `mailbox` null, still billed (as an archive of a deleted mailbox) until the Manager removes
    the archive or the purge deletes it once its last message has expired. `mailbox_key` (the
    mailbox's immutable id, which an undelete gives back), `domain` and `address` are what it
    is priced, shown and found by then."""

    mailbox = models.OneToOneField(
        "domains.Mailbox", on_delete=models.SET_NULL, null=True, blank=True, related_name="billed_archive"
    )
    mailbox_key = models.BigIntegerField(unique=True)
    domain = models.ForeignKey("domains.Domain", on_delete=models.CASCADE, related_name="+")
    address = models.CharField(_("address"), max_length=320)
    since = models.DateTimeField(_("since"), auto_now_add=True)

    class Meta:
        verbose_name = _("billed archive")
        verbose_name_plural = _("billed archives")

    def __str__(self) -> str:
        return self.address


class LedgerEvent(models.Model):
    """One priced change: who, what, before → after, when, and the amounts. Written by the
    billing.services.charge_* functions inside the transaction of the change itself."""

    class Kind(models.TextChoices):
        MAILBOX_CREATED = "mailbox_created", _("Mailbox created")
        MAILBOX_DELETED = "mailbox_deleted", _("Mailbox deleted")
        QUOTA_CHANGED = "quota_changed", _("Space changed")
        SEND_LIMIT_CHANGED = "send_limit_changed", _("Send limit changed")
        ARCHIVE_ATTACHED = "archive_attached", _("Archive attached")
        ARCHIVE_REMOVED = "archive_removed", _("Archive removed")
        INTERVENTION = "intervention", _("Extraordinary intervention")

    class Intervention(models.TextChoices):
        TIMEMACHINE_RESTORE = "timemachine_restore", _("Time Machine restore")
        OTHER = "other", _("Other intervention")

    at = models.DateTimeField(_("when"), db_index=True)
    customer = models.ForeignKey(
        "domains.Customer", on_delete=models.PROTECT, related_name="ledger_events", verbose_name=_("customer")
    )
    domain = models.ForeignKey(
        "domains.Domain",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("domain"),
    )
    domain_name = models.CharField(_("domain name"), max_length=253, blank=True, default="")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(_("who"), max_length=254, blank=True, default="")
    kind = models.CharField(_("what"), max_length=24, choices=Kind.choices)
    intervention = models.CharField(
        _("intervention"), max_length=24, choices=Intervention.choices, blank=True, default=""
    )
    target = models.CharField(_("object"), max_length=254, blank=True, default="")
    description = models.CharField(_("description"), max_length=300, blank=True, default="")
    before = models.CharField(_("before"), max_length=100, blank=True, default="")
    after = models.CharField(_("after"), max_length=100, blank=True, default="")
    price_list = models.ForeignKey(
        PriceList, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    monthly_delta = models.DecimalField(_("monthly amount change"), default=ZERO, **AMOUNT)
    one_off_amount = models.DecimalField(_("one-off amount"), default=ZERO, **AMOUNT)
    monthly_total_before = models.DecimalField(_("monthly total before"), **AMOUNT)
    monthly_total_after = models.DecimalField(_("monthly total after"), **AMOUNT)

    class Meta:
        verbose_name = _("ledger event")
        verbose_name_plural = _("ledger")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["customer", "at"], name="ledger_customer_at_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    kind__in=[
                        "mailbox_created",
                        "mailbox_deleted",
                        "quota_changed",
                        "send_limit_changed",
                        "archive_attached",
                        "archive_removed",
                        "intervention",
                    ]
                ),
                name="ledger_kind_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(one_off_amount__gte=0), name="ledger_one_off_non_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    monthly_delta=models.F("monthly_total_after") - models.F("monthly_total_before")
                ),
                name="ledger_delta_is_after_minus_before",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="intervention") | ~models.Q(intervention=""),
                name="ledger_intervention_has_type",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind} {self.target}"


class DailyNotice(models.Model):
    """The end-of-day email to a customer's legal representative: at most one row per
    (customer, day); the state column makes re-runs and crashes harmless (see monitor.notices)."""

    class State(models.TextChoices):
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    customer = models.ForeignKey(
        "domains.Customer", on_delete=models.CASCADE, related_name="daily_notices", verbose_name=_("customer")
    )
    day = models.DateField(_("day"))
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.SENDING)
    recipient = models.EmailField(_("recipient"))
    subject = models.CharField(_("subject"), max_length=250)
    body = models.TextField(_("body"))
    message_id = models.CharField(_("Message-ID"), max_length=250)
    monthly_total_before = models.DecimalField(_("monthly total before"), **AMOUNT)
    monthly_total_after = models.DecimalField(_("monthly total after"), **AMOUNT)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    claimed_at = models.DateTimeField(_("claimed"))
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    error = models.CharField(_("last error"), max_length=500, blank=True, default="")

    class Meta:
        verbose_name = _("end-of-day notice")
        verbose_name_plural = _("end-of-day notices")
        ordering = ["-day", "customer"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "day"], name="dailynotice_one_per_customer_day"),
            models.CheckConstraint(
                condition=models.Q(state__in=["sending", "sent", "failed"]), name="dailynotice_state_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(state="sent") | models.Q(sent_at__isnull=False),
                name="dailynotice_sent_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer} {self.day}"
