from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

RETENTION_MIN_YEARS = 1
RETENTION_MAX_YEARS = 10


class ArchivePlan(models.Model):
    """An Archive attached to a mailbox: every message sent and received is kept, read-only,
    for `retention_years` from its date. The archive store itself is built in its own issue;
    this row is what the panel attaches, removes and charges for."""

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
