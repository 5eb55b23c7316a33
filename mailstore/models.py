"""Mail store data that lives beside the domains models.

Dovecot itself reads the SQL views created by migration 0001 (mailstore_mailuser,
mailstore_mailapppassword) as the read-only role settings.DOVECOT_DB_USER; the only table it
writes is mailstore_quotausage (quota_clone)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class QuotaUsage(models.Model):
    """Current usage per mailbox, written by Dovecot's quota_clone plugin (never by Django).

    Dovecot's count driver is authoritative; this copy lets panels list 360 mailboxes in one query."""

    username = models.CharField(_("address"), max_length=254, primary_key=True)
    bytes = models.BigIntegerField(_("bytes used"), default=0)
    messages = models.BigIntegerField(_("messages"), default=0)

    class Meta:
        db_table = "mailstore_quotausage"
        verbose_name = _("quota usage")
        verbose_name_plural = _("quota usage")

    def __str__(self) -> str:
        return self.username


class QuotaOverride(models.Model):
    """A space limit in bytes that replaces the mailbox's tier (provider exceptions, tests)."""

    mailbox = models.OneToOneField(
        "domains.Mailbox", on_delete=models.CASCADE, related_name="quota_override", verbose_name=_("mailbox")
    )
    bytes = models.BigIntegerField(_("space in bytes"))

    class Meta:
        verbose_name = _("quota override")
        verbose_name_plural = _("quota overrides")
        constraints = [
            models.CheckConstraint(condition=models.Q(bytes__gt=0), name="quotaoverride_bytes_positive")
        ]

    def __str__(self) -> str:
        return f"{self.mailbox_id}: {self.bytes}"


class QuotaWarning(models.Model):
    """A quota level (percent) the mailbox has crossed and been told about. Deleted when usage
    falls back below the lowest level, so the next crossing warns again."""

    username = models.CharField(_("address"), max_length=254)
    level = models.PositiveSmallIntegerField(_("level (%)"))
    sent_at = models.DateTimeField(_("sent"), auto_now_add=True)

    class Meta:
        verbose_name = _("quota warning")
        verbose_name_plural = _("quota warnings")
        constraints = [
            models.UniqueConstraint(fields=["username", "level"], name="quotawarning_once_per_level"),
            models.CheckConstraint(
                condition=models.Q(level__gt=0, level__lte=100), name="quotawarning_level_percent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.username} {self.level}%"
